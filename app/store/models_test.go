package store_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/llmgw/gateway/app/store"
	"github.com/llmgw/gateway/app/store/storetest"
	"github.com/llmgw/gateway/models"
	"gorm.io/gorm"
)

// A non-UTC zone with nanoseconds: the store must hand back the same
// instant, in UTC, at microsecond precision.
var (
	ist   = time.FixedZone("IST", 5*3600+1800)
	tBase = time.Date(2031, 3, 4, 5, 6, 7, 123456789, ist)
)

func at(minutes int) time.Time  { return tBase.Add(time.Duration(minutes) * time.Minute) }
func ptr[T any](v T) *T         { return &v }
func tp(minutes int) *time.Time { return ptr(at(minutes)) }
func big(n int64) *int64        { return ptr(n) }
func sp(s string) *string       { return &s }
func ip(n int) *int             { return &n }

const nine15 = int64(9e15) // beyond float64-exact territory is 2^53 ≈ 9.007e15

// fixtures returns one fully populated instance of every model, in an
// insertion order that satisfies the foreign keys.
func fixtures() []any {
	return []any{
		&models.Organization{ID: "org_1", Name: "Acme", Status: "active", CreditsBalance: nine15 + 7,
			RetentionLevel: "retain-all", RetentionDays: 30, JurisdictionPolicy: "eu-sovereign", CreatedAt: at(0), UpdatedAt: at(1)},
		&models.User{ID: "usr_1", Email: "a@example.com", Name: "Ada", PasswordHash: "$argon2id$x",
			Role: "admin", CreatedAt: at(0), UpdatedAt: at(1)},
		&models.OrganizationMember{ID: "mem_1", OrganizationID: "org_1", UserID: "usr_1", Role: "owner",
			CreatedAt: at(0), UpdatedAt: at(1)},
		&models.Project{ID: "prj_1", OrganizationID: "org_1", Name: "P", Mode: "hybrid", CachingEnabled: true,
			CacheDurationSeconds: 60, Status: "active", RateLimitRPM: ip(600), RateLimitTPM: ip(2_000_000_000),
			CreatedAt: at(0), UpdatedAt: at(1)},
		&models.APIKey{ID: "key_1", OrganizationID: "org_1", ProjectID: "prj_1", Description: "d",
			TokenHash: "hash1", MaskedToken: "llmgtwy_Ab...yZ", Status: "active", Test: true, CreatedBy: "usr_1",
			UsageLimit: big(nine15), PeriodUsageLimit: big(-1), PeriodUsageDurationValue: ip(7),
			PeriodUsageDurationUnit: sp("day"), Usage: nine15, PeriodUsage: 42, PeriodStart: tp(2),
			RateLimitRPM: ip(1), RateLimitTPM: ip(2), ExpiresAt: tp(3), LastUsedAt: tp(4),
			CreatedAt: at(0), UpdatedAt: at(1)},
		&models.IAMRule{ID: "iam_1", APIKeyID: "key_1", RuleType: "allow_models", RuleValue: `["gpt-4o"]`,
			Status: "active", CreatedAt: at(0), UpdatedAt: at(1)},
		&models.MasterKey{ID: "mk_1", OrganizationID: "org_1", Name: "ci", TokenHash: "mhash1",
			MaskedToken: "llmgmk_...", Status: "active", CreatedBy: "usr_1", LastUsedAt: tp(5),
			CreatedAt: at(0), UpdatedAt: at(1)},
		&models.ProviderKey{ID: "pk_1", OrganizationID: "org_1", Provider: "openai", Name: "main",
			BaseURL: "https://api.openai.com/v1", EncryptedKey: "enc", MaskedKey: "sk-...x", Status: "active",
			CreatedAt: at(0), UpdatedAt: at(1)},
		fullRequestLog("log_1"),
		&models.UsageHourly{Hour: at(0).Truncate(time.Hour), OrganizationID: "org_1", ProjectID: "prj_1",
			APIKeyID: "key_1", Model: "gpt-4o", Provider: "openai", Requests: 3, Errors: 1, PromptTokens: 4,
			CompletionTokens: 5, CachedTokens: 6, TotalTokens: 9, Cost: nine15, UnpricedRequests: 2},
		&models.CreditTransaction{ID: "ct_1", OrganizationID: "org_1", Amount: -nine15, BalanceAfter: 7,
			Kind: "usage", Reference: "log_1", Description: "d", CreatedAt: at(0)},
		&models.AuditLog{ID: "al_1", OrganizationID: "org_1", ActorType: "user", ActorID: "usr_1",
			Action: "api_key.create", ResourceType: "api_key", ResourceID: "key_1", Changes: `{"a":1}`,
			CreatedAt: at(0)},
	}
}

func fullRequestLog(id string) *models.RequestLog {
	return &models.RequestLog{ID: id, RequestID: "req_1", CreatedAt: at(0), OrganizationID: "org_1",
		ProjectID: "prj_1", APIKeyID: "key_1", Endpoint: "chat.completions", RequestedModel: "gpt-4o",
		RequestedProvider: "openai", UsedModel: "gpt-4o", UsedProvider: "openai", UpstreamModel: "gpt-4o-2024",
		Status: 200, FinishReason: "stop", Streamed: true, Cached: true, PromptTokens: 1, CompletionTokens: 2,
		CachedTokens: 3, CacheWriteTokens: 4, ReasoningTokens: 5, TotalTokens: 3_000_000_000,
		TokensEstimated: true, InputCost: big(1), OutputCost: big(2), CachedInputCost: big(3),
		CacheWriteCost: big(4), RequestCost: big(5), TotalCost: big(nine15), DurationMs: 1234, TTFTMs: ip(56),
		Source: "sdk", UserAgent: "ua", SessionID: "s", Metadata: `{"k":"v"}`, ErrorType: "e",
		ErrorMessage: "m", Retried: true, RetriedByLogID: "log_2", RoutingAttempts: `[]`}
}

// requireAllFieldsSet fails when a fixture leaves a field at its zero value,
// so a field added to a model is caught until the fixture covers it.
func requireAllFieldsSet(t *testing.T, v any) {
	t.Helper()
	rv := reflect.ValueOf(v).Elem()
	for i := 0; i < rv.NumField(); i++ {
		if rv.Field(i).IsZero() {
			t.Errorf("fixture %T leaves %s unset", v, rv.Type().Field(i).Name)
		}
	}
}

// utcCopy returns what the database should hand back for v: every time
// field converted by store.UTC.
func utcCopy(v any) any {
	out := reflect.New(reflect.TypeOf(v).Elem())
	out.Elem().Set(reflect.ValueOf(v).Elem())
	e := out.Elem()
	for i := 0; i < e.NumField(); i++ {
		switch f := e.Field(i); x := f.Interface().(type) {
		case time.Time:
			f.Set(reflect.ValueOf(store.UTC(x)))
		case *time.Time:
			if x != nil {
				f.Set(reflect.ValueOf(ptr(store.UTC(*x))))
			}
		}
	}
	return out.Interface()
}

// nilPointers returns a copy of v with every pointer field nil and every
// bool false, to check NULLs and false survive too.
func nilPointers(v any) any {
	out := reflect.New(reflect.TypeOf(v).Elem())
	out.Elem().Set(reflect.ValueOf(v).Elem())
	e := out.Elem()
	for i := 0; i < e.NumField(); i++ {
		if k := e.Field(i).Kind(); k == reflect.Pointer || k == reflect.Bool {
			e.Field(i).SetZero()
		}
	}
	return out.Interface()
}

func TestModelsRoundTrip(t *testing.T) {
	for _, d := range storetest.Dialects() {
		t.Run(d, func(t *testing.T) {
			db := storetest.Open(t, d)
			for _, in := range fixtures() {
				requireAllFieldsSet(t, in)
				roundTrip(t, db, in)
			}
			// Second pass: same rows with NULL pointers and false booleans,
			// under new keys (children reference the first-pass parents).
			for i, in := range fixtures() {
				v := nilPointers(in)
				rekey(v, i)
				roundTrip(t, db, v)
			}
		})
	}
}

// rekey gives a fixture a new identity so it can be inserted again.
func rekey(v any, i int) {
	e := reflect.ValueOf(v).Elem()
	switch m := v.(type) {
	case *models.UsageHourly:
		m.Model = "other-model"
	case *models.User:
		m.ID, m.Email = "usr_2", "b@example.com"
	case *models.APIKey:
		m.ID, m.TokenHash = "key_2", "hash2"
	case *models.MasterKey:
		m.ID, m.TokenHash = "mk_2", "mhash2"
	case *models.OrganizationMember:
		m.ID, m.UserID = "mem_2", "usr_2" // (org, user) is unique
	default:
		id := e.FieldByName("ID")
		id.SetString(id.String() + "_nil")
	}
	_ = i
}

func roundTrip(t *testing.T, db *store.DB, in any) {
	t.Helper()
	want := utcCopy(in)
	if err := db.Create(in).Error; err != nil {
		t.Fatalf("create %T: %v", in, err)
	}
	got := reflect.New(reflect.TypeOf(in).Elem()).Interface()
	// Primary key conditions from the model itself (composite for usage_hourly).
	if err := db.Where(want).Take(got).Error; err != nil {
		t.Fatalf("read %T back: %v", in, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%T round trip:\n got  %+v\n want %+v", in, got, want)
	}
	// Times come back in UTC, not merely as equal instants.
	e := reflect.ValueOf(got).Elem()
	for i := 0; i < e.NumField(); i++ {
		if tm, ok := e.Field(i).Interface().(time.Time); ok && tm.Location() != time.UTC {
			t.Errorf("%T.%s location %v, want UTC", got, e.Type().Field(i).Name, tm.Location())
		}
	}
}

// A cache refresher polls "updated_at > ?" with whatever time.Time it has:
// a non-UTC argument must compare as the same instant on both dialects.
func TestTimeArgumentsAreUTC(t *testing.T) {
	for _, d := range storetest.Dialects() {
		t.Run(d, func(t *testing.T) {
			db := storetest.Open(t, d)
			for _, f := range fixtures()[:5] { // org .. api key
				if err := db.Create(f).Error; err != nil {
					t.Fatal(err)
				}
			}
			// The key's updated_at is at(1), stored as UTC.
			ny := time.FixedZone("NY", -5*3600)
			for _, c := range []struct {
				since time.Time
				want  int64
			}{
				{at(1).Add(-time.Second).In(ny), 1},
				{at(1).Add(time.Second).In(ny), 0},
				{at(1).Add(-time.Second).In(ist), 1},
				{at(1).In(ny), 0}, // strictly greater
			} {
				var n int64
				if err := db.Model(&models.APIKey{}).Where("updated_at > ?", c.since).Count(&n).Error; err != nil {
					t.Fatal(err)
				}
				if n != c.want {
					t.Errorf("updated_at > %v: %d rows, want %d", c.since, n, c.want)
				}
			}
			// Ordering is chronological, not textual.
			var ids []string
			if err := db.Model(&models.APIKey{}).Where("updated_at BETWEEN ? AND ?", at(0).In(ny), at(2).In(time.UTC)).
				Pluck("id", &ids).Error; err != nil || len(ids) != 1 {
				t.Errorf("between: %v %v", ids, err)
			}
		})
	}
}

func TestConstraintsAndIsDataError(t *testing.T) {
	for _, d := range storetest.Dialects() {
		t.Run(d, func(t *testing.T) {
			db := storetest.Open(t, d)
			fx := fixtures()
			for _, f := range fx[:5] {
				if err := db.Create(f).Error; err != nil {
					t.Fatal(err)
				}
			}
			// Foreign keys are enforced (SQLite needs the pragma per connection).
			err := db.Create(&models.Project{ID: "prj_x", OrganizationID: "org_missing", CreatedAt: at(0), UpdatedAt: at(0)}).Error
			if err == nil {
				t.Fatal("project with unknown organization was accepted")
			}
			if !store.IsDataError(err) {
				t.Errorf("FK violation %v: IsDataError = false", err)
			}
			// Unique token hash.
			k := *fx[4].(*models.APIKey)
			k.ID = "key_dup"
			err = db.Create(&k).Error
			if err == nil || !store.IsDataError(err) {
				t.Errorf("duplicate token_hash: err %v, IsDataError %v", err, store.IsDataError(err))
			}
			// Transient errors are not data errors.
			if store.IsDataError(errors.New("connection refused")) || store.IsDataError(gorm.ErrInvalidDB) {
				t.Error("plain errors classified as data errors")
			}
		})
	}
}
