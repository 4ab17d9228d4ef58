package anthropic

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/llmgw/gateway/app/providers"
	"github.com/llmgw/gateway/app/providers/providertest"
	"github.com/llmgw/gateway/app/schema"
)

// call runs chat or stream; both share the error mapping.
var calls = map[string]func(p *Provider, ctx context.Context, t providers.Target) error{
	"chat": func(p *Provider, ctx context.Context, t providers.Target) error {
		req, _ := schema.DecodeChatRequest([]byte(providertest.SimpleRequest))
		_, err := p.Chat(ctx, t, req)
		return err
	},
	"stream": func(p *Provider, ctx context.Context, t providers.Target) error {
		req, _ := schema.DecodeChatRequest([]byte(providertest.SimpleRequest))
		s, err := p.ChatStream(ctx, t, req)
		if err == nil {
			s.Close()
		}
		return err
	},
}

func TestStatusErrors(t *testing.T) {
	tests := []struct {
		name, body, ctype string
		headers           []string
		status            int
		message, etype    string
		retryAfter        time.Duration
		retryable         bool
		apiStatus         int
	}{
		{"400", providertest.Fixture(t, "error_400.json"), "application/json", nil, 400,
			"messages.1.content.0.tool_result: unexpected `tool_use_id`", "invalid_request_error", 0, false, 400},
		{"401", providertest.Fixture(t, "error_401.json"), "application/json", nil, 401, "invalid x-api-key", "authentication_error", 0, false, 502}, // the gateway's key, not the client's
		{"429", providertest.Fixture(t, "error_429.json"), "application/json", []string{"Retry-After", "17"}, 429,
			"This request would exceed the rate limit", "rate_limit_error", 17 * time.Second, true, 429},
		{"500", providertest.Fixture(t, "error_500.json"), "application/json", nil, 500, "Internal server error", "api_error", 0, true, 502},
		{"529", providertest.Fixture(t, "error_529.json"), "application/json", []string{"Retry-After", "3"}, 529, "Overloaded", "overloaded_error", 3 * time.Second, true, 502},
		{"502 html", "<html><head><title>502 Bad Gateway</title></head></html>", "text/html", nil, 502,
			"<html><head><title>502 Bad Gateway</title></head></html>", "", 0, true, 502},
		{"503 empty", "", "", []string{"Retry-After", "soon"}, 503, "", "", 0, true, 502},
		{"openai-shaped proxy error", `{"error":{"message":"quota","type":"insufficient_quota"}}`, "application/json", nil, 402, "quota", "insufficient_quota", 0, false, 402},
		{"error string", `{"error":"bad key"}`, "application/json", nil, 401, "bad key", "", 0, false, 502},
	}
	for _, tc := range tests {
		for cname, c := range calls {
			u := newUpstream(t, providertest.Respond(tc.status, tc.ctype, tc.body, tc.headers...))
			pe := asError(t, c(u.provider(), context.Background(), u.target()), providers.KindStatus)
			if pe.Status != tc.status || !strings.HasPrefix(pe.Message, tc.message) || pe.Type != tc.etype || pe.RetryAfter != tc.retryAfter {
				t.Errorf("%s/%s: error = %+v", tc.name, cname, pe)
			}
			if pe.Retryable() != tc.retryable || pe.API().Status != tc.apiStatus {
				t.Errorf("%s/%s: retryable=%v api status=%d", tc.name, cname, pe.Retryable(), pe.API().Status)
			}
		}
	}
	// The 429's Retry-After reaches the client.
	u := newUpstream(t, providertest.Respond(429, "application/json", providertest.Fixture(t, "error_429.json"), "Retry-After", "17"))
	pe := asError(t, calls["chat"](u.provider(), context.Background(), u.target()), providers.KindStatus)
	if h := pe.API().Header["Retry-After"]; h != "17" {
		t.Errorf("client Retry-After = %q", h)
	}
}

func TestRetryAfterDate(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	h := http.Header{}
	h.Set("Retry-After", now.Add(90*time.Second).Format(http.TimeFormat))
	if d := retryAfter(h, now); d != 90*time.Second {
		t.Errorf("date: %v", d)
	}
	for _, v := range []string{"", "-1", "0", "x", "999999999", now.Add(-time.Minute).Format(http.TimeFormat)} {
		h.Set("Retry-After", v)
		if d := retryAfter(h, now); d != 0 {
			t.Errorf("%q: %v", v, d)
		}
	}
}

func TestConnectionErrors(t *testing.T) {
	u := newUpstream(t, providertest.Respond(200, "", ""))
	tg := u.target()
	u.Close()
	for name, c := range calls {
		pe := asError(t, c(New(nil, nil), context.Background(), tg), providers.KindConnection)
		if !pe.Retryable() || pe.API().Status != 502 {
			t.Errorf("%s: %+v", name, pe)
		}
	}
	tg.BaseURL = "http://bad host\x7f"
	asError(t, calls["chat"](New(nil, nil), context.Background(), tg), providers.KindConnection)

	stall := newUpstream(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	for name, c := range calls {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		asError(t, c(stall.provider(), ctx, stall.target()), providers.KindTimeout)
		cancel()
		ctx, cancel = context.WithCancel(context.Background())
		time.AfterFunc(30*time.Millisecond, cancel)
		if pe := asError(t, c(stall.provider(), ctx, stall.target()), providers.KindCancelled); pe.API().Status != 499 {
			t.Errorf("%s: %+v", name, pe)
		}
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
	})
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	asError(t, calls["chat"](New(c, nil), context.Background(), u.target()), providers.KindBadResponse)
}
