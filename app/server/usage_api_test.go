package server_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/llmgw/gateway/app/fakeupstream"
)

func TestUsageAndLogsAPI(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		second := fakeupstream.New()
		t.Cleanup(second.Close)
		h := startGateway(t, dialect, map[string]string{"LLM_OPENROUTER_API_KEY": "sk-or", "LLM_OPENROUTER_BASE_URL": second.URL})
		mk := h.setup.MasterKey
		// 7 successful gpt-4o-mini requests tagged with metadata, 3 echo requests in a session.
		for i := 0; i < 7; i++ {
			if st, _ := h.chatWith(h.setup.APIKey, "gpt-4o-mini", "X-LLMGateway-Tenant-ID", fmt.Sprintf("tenant-%d", i%2)); st != 200 {
				t.Fatalf("request %d: %d", i, st)
			}
		}
		for i := 0; i < 3; i++ {
			h.chatWith(h.setup.APIKey, "test/echo", "X-Session-Id", "conv-1")
		}
		// One request that fails over: openai 500, then openrouter answers.
		h.fake.ForceStatus(500)
		if st, _ := h.chatWith(h.setup.APIKey, "gpt-4o-mini"); st != 200 {
			t.Fatalf("fallback request: %d", st)
		}
		h.fake.ForceStatus(0)
		h.flushLogs()

		// Usage by model: 8 gpt-4o-mini requests (+1 failed attempt counted as an error), 3 echo.
		st, u := h.call("GET", "/v1/master/usage?groupBy=model", mk, "")
		if st != 200 {
			t.Fatalf("usage: %d %v", st, u)
		}
		byModel := map[string]map[string]any{}
		for _, r := range u["usage"].([]any) {
			m := r.(map[string]any)
			byModel[m["group"].(string)] = m
		}
		mini, echo := byModel["gpt-4o-mini"], byModel["echo"]
		if mini == nil || echo == nil || mini["requests"] != 9.0 || mini["errors"] != 1.0 || echo["requests"] != 3.0 || echo["cost"] != "0.00" {
			t.Fatalf("usage by model = %v", byModel)
		}
		// 8 successes × (11×150 + 4×600) nano-USD.
		if want := "0.0000324"; mini["cost"] != want {
			t.Fatalf("gpt-4o-mini cost = %v, want %s", mini["cost"], want)
		}
		_, u = h.call("GET", "/v1/master/usage?groupBy=provider", mk, "")
		providers := map[string]float64{}
		for _, r := range u["usage"].([]any) {
			m := r.(map[string]any)
			providers[m["group"].(string)] = m["requests"].(float64)
		}
		if providers["openai"] != 8 || providers["openrouter"] != 1 || providers["test"] != 3 {
			t.Fatalf("usage by provider = %v", providers)
		}
		today := time.Now().UTC().Format("2006-01-02")
		_, u = h.call("GET", "/v1/master/usage?groupBy=day&from="+today, mk, "")
		if days := u["usage"].([]any); len(days) != 1 || days[0].(map[string]any)["group"] != today || days[0].(map[string]any)["requests"] != 12.0 {
			t.Fatalf("usage by day = %v", u)
		}
		if st, _ := h.call("GET", "/v1/master/usage?groupBy=color", mk, ""); st != 400 {
			t.Fatalf("bad groupBy: %d", st)
		}

		// Logs: paginate 3 at a time through all 12 rows, newest first.
		var all []map[string]any
		cursor, pages := "", 0
		for {
			st, l := h.call("GET", "/v1/master/logs?limit=3&cursor="+cursor, mk, "")
			if st != 200 {
				t.Fatalf("logs: %d %v", st, l)
			}
			pages++
			for _, r := range l["logs"].([]any) {
				all = append(all, r.(map[string]any))
			}
			next, _ := l["nextCursor"].(string)
			if next == "" {
				break
			}
			cursor = next
		}
		if len(all) != 12 || pages != 4 {
			t.Fatalf("%d rows over %d pages", len(all), pages)
		}
		seen := map[string]bool{}
		for i, r := range all {
			if seen[r["id"].(string)] {
				t.Fatalf("row %s twice", r["id"])
			}
			seen[r["id"].(string)] = true
			// Parsed, not compared as strings: RFC 3339 drops trailing zeros
			// of the fraction, so ".12Z" sorts after ".123Z" as text.
			if i > 0 && parseTime(t, r["createdAt"]).After(parseTime(t, all[i-1]["createdAt"])) {
				t.Fatalf("not newest first at %d", i)
			}
		}
		// The failover: the failed attempt is retried and points at the final row.
		_, l := h.call("GET", "/v1/master/logs?provider=openai&status=error", mk, "")
		rows := l["logs"].([]any)
		if len(rows) != 1 {
			t.Fatalf("failed attempts = %v", l)
		}
		failed := rows[0].(map[string]any)
		if failed["retried"] != true || failed["retriedByLogId"] == "" || len(failed["routing"].([]any)) != 2 {
			t.Fatalf("failed attempt = %v", failed)
		}
		_, l = h.call("GET", "/v1/master/logs?provider=openrouter", mk, "")
		ok := l["logs"].([]any)[0].(map[string]any)
		if ok["id"] != failed["retriedByLogId"] || ok["retried"] != false || ok["cost"] == nil || ok["status"] != 200.0 {
			t.Fatalf("final attempt = %v", ok)
		}
		// Filters.
		for q, want := range map[string]int{
			"sessionId=conv-1": 3, "model=echo": 3, "model=gpt-4o-mini": 9, "metadataKey=Tenant-ID&metadataValue=tenant-1": 3,
			"metadataKey=tenant-id&metadataValue=tenant-0": 4, "status=200": 11, "status=success": 11, "apiKeyId=ak_none": 0,
			"from=2999-01-01": 0, "projectId=" + h.setup.ProjectID: 12,
		} {
			_, l := h.call("GET", "/v1/master/logs?limit=200&"+q, mk, "")
			if n := len(l["logs"].([]any)); n != want {
				t.Errorf("logs?%s: %d rows, want %d", q, n, want)
			}
		}
		// Another organization sees nothing.
		other, _ := h.prov.Setup(t.Context(), "else@example.com")
		if _, l := h.call("GET", "/v1/master/logs", other.MasterKey, ""); len(l["logs"].([]any)) != 0 {
			t.Fatalf("logs leaked across organizations")
		}
	})
}

func parseTime(t *testing.T, v any) time.Time {
	t.Helper()
	s, _ := v.(string)
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("time %q: %v", v, err)
	}
	return ts
}
