package master_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/llmgw/gateway/app/apierr"
	"github.com/llmgw/gateway/app/keys"
	"github.com/llmgw/gateway/app/master"
	"github.com/llmgw/gateway/app/provision"
	"github.com/llmgw/gateway/app/retention"
	"github.com/llmgw/gateway/app/store"
	"github.com/llmgw/gateway/app/store/storetest"
	"github.com/llmgw/gateway/models"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type env struct {
	t        *testing.T
	db       *store.DB
	app      *fiber.App
	cache    *keys.Cache
	a, b     *provision.SetupResult // two organizations
	writer   *retention.Writer
	notified int
}

func newEnv(t *testing.T, dialect string, withPayloads bool) *env {
	t.Helper()
	ctx := context.Background()
	db := storetest.Open(t, dialect)
	hasher := keys.NewHasher("test-hash-secret")
	cache := keys.NewCache(db.DB, hasher, quiet)
	if err := cache.Load(ctx); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, db: db, cache: cache}
	prov := &provision.Service{DB: db.DB, Hasher: hasher, Cache: cache, Notify: func() { e.notified++ }}
	var err error
	if e.a, err = prov.Setup(ctx, "a@example.com"); err != nil {
		t.Fatal(err)
	}
	if e.b, err = prov.Setup(ctx, "b@example.com"); err != nil {
		t.Fatal(err)
	}
	e.notified = 0
	api := &master.API{DB: db.DB, Prov: prov, Hasher: hasher}
	if withPayloads {
		box, err := retention.NewBox("test-auth-secret")
		if err != nil {
			t.Fatal(err)
		}
		api.Payloads = &retention.Store{DB: db.DB, Box: box}
		e.writer = retention.NewWriter(db, box, retention.Options{Logger: quiet})
		t.Cleanup(func() { e.writer.Close(context.Background()) })
	}
	e.app = fiber.New(fiber.Config{ErrorHandler: func(c *fiber.Ctx, err error) error {
		return apierr.Write(c, apierr.FromFiber(c, err))
	}})
	api.Register(e.app.Group("/v1/master"))
	return e
}

func (e *env) call(method, path, key, body string) (int, map[string]any) {
	e.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := e.app.Test(req, 10_000)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		e.t.Fatalf("%s %s: not JSON (%d): %s", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

func errParam(m map[string]any) any {
	e, _ := m["error"].(map[string]any)
	return e["param"]
}

func forEachDialect(t *testing.T, fn func(t *testing.T, dialect string)) {
	for _, d := range storetest.Dialects() {
		t.Run(d, func(t *testing.T) { fn(t, d) })
	}
}

func TestOrganizationRetentionPolicy(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect, false)
		ctx := context.Background()
		mk := e.a.MasterKey

		st, o := e.call("GET", "/v1/master/organization", mk, "")
		if st != 200 || o["id"] != e.a.OrganizationID || o["retention"] != "metadata-only" || o["retentionDays"] != 30.0 {
			t.Fatalf("GET: %d %v", st, o)
		}
		if _, ok := o["creditsBalance"]; ok {
			t.Error("credits balance exposed")
		}
		if st, _ := e.call("GET", "/v1/master/organization", "", ""); st != 401 {
			t.Errorf("no master key: %d", st)
		}
		if st, _ := e.call("PATCH", "/v1/master/organization", e.a.APIKey, `{"retention":"retain-all"}`); st != 401 {
			t.Errorf("API key as master key: %d", st)
		}

		// Validation: 400 naming the field, nothing changed, nothing audited.
		for body, param := range map[string]any{
			`{"retention":"all"}`:                           "retention",
			`{"retention":"Retain-All"}`:                    "retention",
			`{"retention":null}`:                            "retention",
			`{"retention":1}`:                               "retention",
			`{"retentionDays":0}`:                           "retentionDays",
			`{"retentionDays":3651}`:                        "retentionDays",
			`{"retentionDays":-1}`:                          "retentionDays",
			`{"retentionDays":1.5}`:                         "retentionDays",
			`{"retentionDays":"30"}`:                        "retentionDays",
			`{"retentionDays":null}`:                        "retentionDays",
			`{"retention":"retain-all","retentionDays":0}`:  "retentionDays",
			`{"retention":"retain-all","name":"x"}`:         "name",
			`{"retention":"retain-all","creditsBalance":1}`: "creditsBalance",
			`{}`:         nil,
			`[]`:         nil,
			`not json`:   nil,
			`{"a":1,}`:   nil,
			`"metadata"`: nil,
		} {
			st, m := e.call("PATCH", "/v1/master/organization", mk, body)
			if st != 400 || errParam(m) != param {
				t.Errorf("PATCH %s: %d %v (want param %v)", body, st, m, param)
			}
		}
		var audits int64
		e.db.Model(&models.AuditLog{}).Where("action = ?", "organization.update").Count(&audits)
		if audits != 0 {
			t.Fatalf("%d audit rows after rejected patches", audits)
		}

		// Before: the hot path sees the default (the org was created after
		// the cache loaded, and nothing has told it since).
		id, err := e.cache.Authenticate(ctx, e.a.APIKey)
		if err != nil || id.Org.RetainAll() {
			t.Fatalf("before: %+v %v", id, err)
		}
		if level, days := id.Org.Retention(); level != "metadata-only" || days != 0 {
			t.Errorf("default retention %s %d", level, days)
		}

		// A concurrent credits change must survive the PATCH.
		e.db.Model(&models.Organization{}).Where("id = ?", e.a.OrganizationID).Update("credits_balance", 123_456)

		st, o = e.call("PATCH", "/v1/master/organization", mk, `{"retention":"retain-all","retentionDays":90}`)
		if st != 200 || o["retention"] != "retain-all" || o["retentionDays"] != 90.0 || o["id"] != e.a.OrganizationID {
			t.Fatalf("PATCH: %d %v", st, o)
		}
		var row models.Organization
		e.db.Where("id = ?", e.a.OrganizationID).Take(&row)
		if row.RetentionLevel != "retain-all" || row.RetentionDays != 90 || row.CreditsBalance != 123_456 {
			t.Errorf("row %+v", row)
		}
		// The other organization is untouched.
		var other models.Organization
		e.db.Where("id = ?", e.b.OrganizationID).Take(&other)
		if other.RetentionLevel != "metadata-only" || other.RetentionDays != 30 {
			t.Errorf("other org %+v", other)
		}

		// Audited, as the seed names it.
		var al models.AuditLog
		if err := e.db.Where("action = ?", "organization.update").Take(&al).Error; err != nil {
			t.Fatal(err)
		}
		var changes map[string]any
		json.Unmarshal([]byte(al.Changes), &changes)
		if al.OrganizationID != e.a.OrganizationID || al.ResourceType != "organization" || al.ResourceID != e.a.OrganizationID ||
			al.ActorType != "master_key" || al.ActorID == "" || changes["retention"] != "retain-all" || changes["retentionDays"] != 90.0 {
			t.Errorf("audit %+v", al)
		}
		st, list := e.call("GET", "/v1/master/audit-logs?action=organization.update", mk, "")
		if rows, _ := list["auditLogs"].([]any); st != 200 || len(rows) != 1 {
			t.Errorf("audit-logs: %d %v", st, list)
		}
		if st, list := e.call("GET", "/v1/master/audit-logs?action=organization.update", e.b.MasterKey, ""); len(list["auditLogs"].([]any)) != 0 {
			t.Errorf("audit visible to another org: %d %v", st, list)
		}

		// Immediately on this process's hot path, without a poll; other
		// instances are told.
		id, err = e.cache.Authenticate(ctx, e.a.APIKey)
		if err != nil || !id.Org.RetainAll() || id.Org.RetentionDays != 90 {
			t.Fatalf("after: %+v %v", id.Org, err)
		}
		if e.notified != 1 {
			t.Errorf("notified %d times", e.notified)
		}
		if idB, _ := e.cache.Authenticate(ctx, e.b.APIKey); idB.Org.RetainAll() {
			t.Error("org b retains all")
		}

		// Another instance's cache learns it by polling (or a Redis notice).
		hasher := keys.NewHasher("test-hash-secret")
		cache2 := keys.NewCache(e.db.DB, hasher, quiet)
		if err := cache2.Load(ctx); err != nil {
			t.Fatal(err)
		}
		if id2, _ := cache2.Authenticate(ctx, e.a.APIKey); !id2.Org.RetainAll() {
			t.Error("second instance: not retain-all")
		}
		time.Sleep(5 * time.Millisecond) // updated_at must move past the first version
		if st, o := e.call("PATCH", "/v1/master/organization", mk, `{"retention":"metadata-only"}`); st != 200 || o["retentionDays"] != 90.0 {
			t.Fatalf("PATCH back: %d %v", st, o)
		}
		if err := cache2.Load(ctx); err != nil {
			t.Fatal(err)
		}
		if id2, _ := cache2.Authenticate(ctx, e.a.APIKey); id2.Org.RetainAll() || id2.Org.RetentionDays != 90 {
			t.Errorf("second instance after poll: %+v", id2.Org)
		}
	})
}

func TestLogPayloadAPI(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect, true)
		ctx := context.Background()
		prompt := `{"model":"my-chat","messages":[{"role":"user","content":"secret plan ZEBRA-7"}]}`
		answer := "data: {\"choices\":[{\"delta\":{\"content\":\"ok\"}}]}\n\ndata: [DONE]\n\n"
		if !e.writer.Capture(retention.Capture{LogID: "log_1", OrganizationID: e.a.OrganizationID, Level: retention.RetainAll,
			Days: 30, Request: []byte(prompt), Response: []byte(answer), Tokens: 1500}) {
			t.Fatal("capture refused")
		}
		if err := e.writer.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		var raw string
		e.db.Raw("SELECT encrypted_request FROM request_payloads WHERE log_id = ?", "log_1").Scan(&raw)
		if raw == "" || strings.Contains(raw, "ZEBRA") {
			t.Fatalf("not encrypted at rest: %.40q", raw)
		}

		st, p := e.call("GET", "/v1/master/logs/log_1/payload", e.a.MasterKey, "")
		if st != 200 || p["logId"] != "log_1" || p["tokens"] != 1500.0 || p["dataStorageCost"] != "0.000015" {
			t.Fatalf("payload: %d %v", st, p)
		}
		req, _ := p["request"].(map[string]any)
		msgs, _ := req["messages"].([]any)
		if req["model"] != "my-chat" || len(msgs) != 1 || !strings.Contains(msgs[0].(map[string]any)["content"].(string), "ZEBRA-7") {
			t.Errorf("request %v", p["request"])
		}
		if p["response"] != answer { // not JSON: returned as a string
			t.Errorf("response %v", p["response"])
		}
		// Other organizations and unknown logs: 404.
		if st, _ := e.call("GET", "/v1/master/logs/log_1/payload", e.b.MasterKey, ""); st != 404 {
			t.Errorf("other org: %d", st)
		}
		if st, _ := e.call("GET", "/v1/master/logs/log_nope/payload", e.a.MasterKey, ""); st != 404 {
			t.Errorf("unknown: %d", st)
		}
		if st, _ := e.call("GET", "/v1/master/logs/log_1/payload", "", ""); st != 401 {
			t.Errorf("unauthenticated: %d", st)
		}
		// The log list route is unaffected.
		if st, l := e.call("GET", "/v1/master/logs", e.a.MasterKey, ""); st != 200 || l["logs"] == nil {
			t.Errorf("logs: %d %v", st, l)
		}

		// A gateway without payload storage answers 404.
		e2 := newEnv(t, dialect, false)
		if st, _ := e2.call("GET", "/v1/master/logs/log_1/payload", e2.a.MasterKey, ""); st != 404 {
			t.Errorf("no storage: %d", st)
		}
	})
}
