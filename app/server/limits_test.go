package server_test

import (
	"encoding/json"
	"io"
	"strings"
	"sync"
	"testing"
)

// TestSpendLimitUnderConcurrency: 50 concurrent requests against a key whose
// limit covers 5 are answered with at most 5 successes, the rest 402.
func TestSpendLimitUnderConcurrency(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		h := startGateway(t, dialect, nil)
		mk := h.setup.MasterKey
		// One request: prompt 11 tokens × $0.15/1M + 4 completion tokens × $0.60/1M = 4,050 nano-USD.
		const perRequest = 11*150 + 4*600
		_, k := h.call("POST", "/v1/master/keys", mk, `{"projectId":"`+h.setup.ProjectID+`","description":"capped","usageLimit":"0.00002025"}`)
		key := k["apiKey"].(map[string]any)
		token := key["token"].(string)
		body := `{"model":"gpt-4o-mini","max_tokens":4,"messages":[{"role":"user","content":"hi"}]}`

		var wg sync.WaitGroup
		var mu sync.Mutex
		statuses := map[int]int{}
		start := make(chan struct{})
		for i := 0; i < 50; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				resp := h.post("/v1/chat/completions", body, "Authorization", "Bearer "+token)
				b, _ := io.ReadAll(resp.Body)
				mu.Lock()
				statuses[resp.StatusCode]++
				mu.Unlock()
				if resp.StatusCode == 402 {
					var e envelope
					_ = json.Unmarshal(b, &e)
					if str(e.Error.Code) != "billing_error" || !strings.Contains(e.Error.Message, "API key") {
						t.Errorf("402 body = %s", b)
					}
				}
			}()
		}
		close(start)
		wg.Wait()
		if statuses[200] < 1 || statuses[200] > 5 || statuses[200]+statuses[402] != 50 {
			t.Fatalf("statuses = %v", statuses)
		}
		// Once spent, the next request is refused.
		st, e := h.chatWith(token, "gpt-4o-mini")
		if st != 402 {
			t.Fatalf("after the limit: %d %v", st, e)
		}
		// The spend is visible through the master API and never exceeds the limit.
		h.srv.Spend.Flush(t.Context())
		_, g := h.call("GET", "/v1/master/keys/"+key["id"].(string), mk, "")
		if usage := g["apiKey"].(map[string]any)["usage"]; usage == "0.00" {
			t.Fatalf("spend not recorded: %v", g)
		}
		var spent int64
		h.srv.DB.Raw("SELECT usage FROM api_keys WHERE id = ?", key["id"]).Scan(&spent)
		if spent > 5*perRequest || spent != int64(statuses[200])*perRequest {
			t.Fatalf("spent %d for %d successes", spent, statuses[200])
		}
		// Raising the limit (PATCH) admits again at once; null clears it.
		h.call("PATCH", "/v1/master/keys/"+key["id"].(string), mk, `{"usageLimit":null}`)
		if st, _ := h.chatWith(token, "gpt-4o-mini"); st != 200 {
			t.Fatalf("after clearing the limit: %d", st)
		}
	})
}

func TestRecurringLimit(t *testing.T) { forEachDialect(t, testRecurringLimit) }

func testRecurringLimit(t *testing.T, dialect string) {
	h := startGateway(t, dialect, nil)
	mk := h.setup.MasterKey
	_, k := h.call("POST", "/v1/master/keys", mk, `{"projectId":"`+h.setup.ProjectID+`","description":"daily","periodUsageLimit":"0.000005","periodUsageDurationValue":1,"periodUsageDurationUnit":"day"}`)
	token := k["apiKey"].(map[string]any)["token"].(string)
	body := `{"model":"gpt-4o-mini","max_tokens":4,"messages":[{"role":"user","content":"hi"}]}`
	if resp := h.post("/v1/chat/completions", body, "Authorization", "Bearer "+token); resp.StatusCode != 200 {
		t.Fatalf("first: %d", resp.StatusCode)
	}
	resp := h.post("/v1/chat/completions", body, "Authorization", "Bearer "+token)
	e := readEnvelope(t, resp.Body)
	if resp.StatusCode != 402 || !strings.Contains(e.Error.Message, "recurring usage limit") {
		t.Fatalf("second: %d %+v", resp.StatusCode, e)
	}
}
