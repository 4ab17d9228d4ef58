package server_test

import (
	"strconv"
	"testing"
	"time"
)

func TestRateLimits(t *testing.T) {
	h := startGateway(t, "sqlite", nil)
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
