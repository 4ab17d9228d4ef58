package store_test

import (
	"context"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmgw/gateway/app/store"
	"github.com/llmgw/gateway/app/store/storetest"
	"github.com/llmgw/gateway/models"
	"gorm.io/gorm/schema"
)

// allModels is every model the migrations must create a table for.
var allModels = []any{
	&models.Organization{}, &models.User{}, &models.OrganizationMember{},
	&models.Project{}, &models.APIKey{}, &models.IAMRule{}, &models.MasterKey{},
	&models.ProviderKey{}, &models.RequestLog{}, &models.UsageHourly{},
	&models.CreditTransaction{}, &models.AuditLog{}, &models.RequestPayload{},
	&models.GuardrailConfig{}, &models.SecurityEvent{},
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestMigrateUpDownUp(t *testing.T) {
	for _, d := range storetest.Dialects() {
		t.Run(d, func(t *testing.T) {
			ctx := ctxT(t)
			db := storetest.OpenEmpty(t, d)

			cur, latest, err := store.Version(ctx, db)
			if err != nil || cur != 0 || latest < 1 {
				t.Fatalf("fresh Version = %d, %d, %v; want 0, >=1, nil", cur, latest, err)
			}
			for round := 0; round < 2; round++ {
				if err := store.Migrate(db); err != nil {
					t.Fatalf("round %d up: %v", round, err)
				}
				if err := store.Migrate(db); err != nil { // idempotent
					t.Fatalf("round %d second up: %v", round, err)
				}
				requireVersion(t, db, latest)
				if got := tables(t, db); len(got) != len(allModels) {
					t.Fatalf("round %d: tables %v, want %d", round, got, len(allModels))
				}
				for _, m := range allModels {
					if !db.Migrator().HasTable(m) {
						t.Errorf("round %d: no table for %T", round, m)
					}
				}
				st, err := store.MigrationStatus(ctx, db)
				if err != nil || len(st) == 0 {
					t.Fatalf("status: %v %v", st, err)
				}
				for _, s := range st {
					if !s.Applied || s.AppliedAt.IsZero() || s.Name == "" {
						t.Errorf("status %+v: want applied", s)
					}
				}

				if err := store.MigrateDownTo(ctx, db, 0); err != nil {
					t.Fatalf("round %d down: %v", round, err)
				}
				requireVersion(t, db, 0)
				if got := tables(t, db); len(got) != 0 {
					t.Fatalf("round %d: after down to 0, tables left: %v", round, got)
				}
			}
		})
	}
}

func requireVersion(t *testing.T, db *store.DB, want int64) {
	t.Helper()
	cur, _, err := store.Version(ctxT(t), db)
	if err != nil || cur != want {
		t.Fatalf("Version = %d, %v; want %d", cur, err, want)
	}
}

// Replicas starting together must not both apply a migration.
func TestMigrateConcurrent(t *testing.T) {
	for _, d := range storetest.Dialects() {
		t.Run(d, func(t *testing.T) {
			url, dir := storetest.NewDatabase(t, d)
			const n = 4
			dbs := make([]*store.DB, n)
			for i := range dbs {
				db, err := store.Open(url, dir)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				dbs[i] = db
			}
			// Create goose's version table first: goose retries its own
			// creation race with 1s sleeps, which would hide a missing lock.
			requireVersion(t, dbs[0], 0)
			var wg sync.WaitGroup
			var failed atomic.Int32
			for _, db := range dbs {
				wg.Go(func() {
					if err := store.MigrateContext(ctxT(t), db); err != nil {
						failed.Add(1)
						t.Errorf("concurrent migrate: %v", err)
					}
				})
			}
			wg.Wait()
			if failed.Load() == 0 {
				_, latest, _ := store.Version(ctxT(t), dbs[0])
				requireVersion(t, dbs[0], latest)
			}
		})
	}
}

// The same migration files must produce the same schema on both dialects,
// and that schema must match the models exactly (no missing or stray column).
func TestSchemaIdenticalAcrossDialectsAndModels(t *testing.T) {
	type tableShape struct {
		Columns []column
		Indexes []index
	}
	shapes := map[string]map[string]tableShape{}
	for _, d := range storetest.Dialects() {
		db := storetest.Open(t, d)
		shapes[d] = map[string]tableShape{}
		for _, tb := range tables(t, db) {
			shapes[d][tb] = tableShape{columns(t, db, tb), indexes(t, db, tb)}
		}

		// Model <-> table, using GORM's own naming so the check is what
		// GORM will actually query.
		for _, m := range allModels {
			s, err := schema.Parse(m, &sync.Map{}, db.NamingStrategy)
			if err != nil {
				t.Fatal(err)
			}
			shape, ok := shapes[d][s.Table]
			if !ok {
				t.Errorf("%s: no table %q for %T", d, s.Table, m)
				continue
			}
			have := map[string]bool{}
			for _, c := range shape.Columns {
				have[c.Name] = true
			}
			for _, f := range s.DBNames {
				if !have[f] {
					t.Errorf("%s: %s has no column %q for %T", d, s.Table, f, m)
				}
				delete(have, f)
			}
			for c := range have {
				t.Errorf("%s: column %s.%s has no field in %T", d, s.Table, c, m)
			}
			// Pointer fields are the only nullable columns.
			for _, c := range shape.Columns {
				if f := s.LookUpField(c.Name); f != nil {
					isPtr := f.FieldType.Kind() == reflect.Pointer
					if isPtr == c.NotNull {
						t.Errorf("%s: %s.%s NOT NULL=%v but Go type %s", d, s.Table, c.Name, c.NotNull, f.FieldType)
					}
				}
			}
		}
	}
	sq, pg := shapes[store.DialectSQLite], shapes[store.DialectPostgres]
	if len(sq) != len(allModels) {
		t.Errorf("sqlite has %d tables, want %d", len(sq), len(allModels))
	}
	for name, s := range sq {
		p, ok := pg[name]
		if !ok {
			t.Errorf("table %s missing on postgres", name)
			continue
		}
		if !reflect.DeepEqual(s.Columns, p.Columns) {
			t.Errorf("table %s columns differ:\nsqlite:   %+v\npostgres: %+v", name, s.Columns, p.Columns)
		}
		if !reflect.DeepEqual(s.Indexes, p.Indexes) {
			t.Errorf("table %s indexes differ:\nsqlite:   %+v\npostgres: %+v", name, s.Indexes, p.Indexes)
		}
	}
	for name := range pg {
		if _, ok := sq[name]; !ok {
			t.Errorf("table %s missing on sqlite", name)
		}
	}
}

// The hot-path indexes the brief calls for exist (on both dialects, given
// the test above).
func TestHotIndexes(t *testing.T) {
	db := storetest.Open(t, store.DialectSQLite)
	want := map[string][]index{
		"api_keys": {
			{"api_keys_token_hash_key", true, "token_hash"},
			{"api_keys_updated_at_idx", false, "updated_at"},
		},
		"master_keys": {{"master_keys_token_hash_key", true, "token_hash"}},
		"users":       {{"users_email_key", true, "email"}},
		"request_logs": {
			{"request_logs_project_created_idx", false, "project_id,created_at"},
			{"request_logs_api_key_created_idx", false, "api_key_id,created_at"},
			{"request_logs_organization_created_idx", false, "organization_id,created_at"},
			{"request_logs_request_id_idx", false, "request_id"},
		},
		"credit_transactions": {{"credit_transactions_organization_created_idx", false, "organization_id,created_at"}},
		"audit_logs":          {{"audit_logs_organization_created_idx", false, "organization_id,created_at"}},
	}
	for table, idxs := range want {
		got := indexes(t, db, table)
		for _, w := range idxs {
			found := false
			for _, g := range got {
				found = found || g == w
			}
			if !found {
				t.Errorf("%s: missing index %+v (have %+v)", table, w, got)
			}
		}
	}
	// usage_hourly's rollup key is its primary key.
	s, err := schema.Parse(&models.UsageHourly{}, &sync.Map{}, db.NamingStrategy)
	if err != nil {
		t.Fatal(err)
	}
	var pk []string
	for _, f := range s.PrimaryFields {
		pk = append(pk, f.DBName)
	}
	wantPK := []string{"hour", "organization_id", "project_id", "api_key_id", "model", "provider"}
	if !reflect.DeepEqual(pk, wantPK) {
		t.Errorf("usage_hourly primary key %v, want %v", pk, wantPK)
	}
}
