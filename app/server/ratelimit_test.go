package server_test

import (
	"fmt"
	"strconv"
	"testing"
	"time"
)

func TestRateLimits(t *testing.T) {
	forEachDialect(t, testRateLimits)
}

func testRateLimits(t *testing.T, dialect string) {
	h := startGateway(t, dialect, nil)
	mk := h.setup.MasterKey
	_, k := h.call("POST", "/v1/master/keys", mk, `{"projectId":"`+h.setup.ProjectID+`","description":"rl","rateLimitRpm":2}`)
	key := k["apiKey"].(map[string]any)
	token := key["token"].(string)
	body := `{"model":"test/echo","messages":[{"role":"user","content":"hi"}]}`
	for i := 0; i < 2; i++ {
		resp := h.post("/v1/chat/completions", body, "Authorization", "Bearer "+token)
		if resp.StatusCode != 200 || resp.Header.Get("X-RateLimit-Limit") != "2" || resp.Header.Get("X-RateLimit-Remaining") != strconv.Itoa(1-i) {
			t.Fatalf("request %d: %d limit %q remaining %q", i, resp.StatusCode, resp.Header.Get("X-RateLimit-Limit"), resp.Header.Get("X-RateLimit-Remaining"))
		}
		reset, _ := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64)
		if d := time.Until(time.Unix(reset, 0)); d <= 0 || d > time.Minute {
			t.Fatalf("reset header %d", reset)
		}
	}
	resp := h.post("/v1/chat/completions", body, "Authorization", "Bearer "+token)
	e := readEnvelope(t, resp.Body)
	ra, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	if resp.StatusCode != 429 || str(e.Error.Code) != "rate_limit_exceeded" || e.Error.Type != "rate_limit_error" || ra < 1 || ra > 60 || resp.Header.Get("X-RateLimit-Remaining") != "0" {
		t.Fatalf("third: %d %+v retry-after %q", resp.StatusCode, e, resp.Header.Get("Retry-After"))
	}
	// Other keys are not affected; null clears the limit.
	if st, _ := h.chatWith(h.setup.APIKey, "test/echo"); st != 200 {
		t.Fatalf("other key: %d", st)
	}
	h.call("PATCH", "/v1/master/keys/"+key["id"].(string), mk, `{"rateLimitRpm":null}`)
	if st, _ := h.chatWith(token, "test/echo"); st != 200 {
		t.Fatalf("cleared limit: %d", st)
	}

	// Project-level tokens per minute: admitted while under budget, then 429.
	h.call("PATCH", "/v1/master/projects/"+h.setup.ProjectID, mk, `{"rateLimitTpm":10}`)
	if st, _ := h.chatWith(h.setup.APIKey, "gpt-4o-mini"); st != 200 { // 11 + 5 tokens: over budget afterwards
		t.Fatalf("first tpm request: %d", st)
	}
	if st, e := h.chatWith(h.setup.APIKey, "gpt-4o-mini"); st != 429 {
		t.Fatalf("tpm exhausted: %d %v", st, e)
	}
}

func TestFreeModelLimitsOnlyWithBilling(t *testing.T) {
	forEachDialect(t, testFreeModelLimitsOnlyWithBilling)
}

func testFreeModelLimitsOnlyWithBilling(t *testing.T, dialect string) {
	const free = `
  - id: free-chat
    providers:
      - {provider: openai, model: free-upstream, free: true}
`
	for _, billing := range []bool{false, true} {
		env := map[string]string{}
		if billing {
			env["STRIPE_SECRET_KEY"] = "sk_test_x"
		}
		h := startGateway(t, dialect, env)
		// add a free model through the models file
		writeModels(t, h, free)
		statuses := []int{}
		for i := 0; i < 6; i++ {
			st, _ := h.chatWith(h.setup.APIKey, "free-chat")
			statuses = append(statuses, st)
		}
		want := "[200 200 200 200 200 200]"
		if billing {
			want = "[200 200 200 200 200 429]" // 5 per 10 minutes without purchased credits
		}
		if got := fmt.Sprint(statuses); got != want {
			t.Fatalf("billing=%v: %s, want %s", billing, got, want)
		}
		// The built-in test provider is never limited.
		for i := 0; i < 7; i++ {
			if st, _ := h.chatWith(h.setup.APIKey, "test/echo"); st != 200 {
				t.Fatalf("billing=%v: test provider limited at %d", billing, i)
			}
		}
		if billing {
			// Buying credits lifts the tier to 20 per minute (cached for a minute: use a fresh org).
			other, _ := h.prov.Setup(t.Context(), "buyer@example.com")
			h.srv.DB.Exec("INSERT INTO credit_transactions (id, organization_id, amount, balance_after, kind, reference, description, created_at) VALUES ('ctx_1', ?, 10000000000, 10000000000, 'topup', 'pi_1', '', ?)", other.OrganizationID, time.Now().UTC())
			for i := 0; i < 20; i++ {
				if st, _ := h.chatWith(other.APIKey, "free-chat"); st != 200 {
					t.Fatalf("with credits, request %d: %d", i, st)
				}
			}
			if st, _ := h.chatWith(other.APIKey, "free-chat"); st != 429 {
				t.Fatalf("21st free request with credits: %d", st)
			}
		}
	}
}
