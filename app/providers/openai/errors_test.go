package openai

import (
	"context"
	"errors"
	"github.com/llmgw/gateway/app/providers/httpx"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/llmgw/gateway/app/providers"
	"github.com/llmgw/gateway/app/providers/providertest"
	"github.com/llmgw/gateway/app/schema"
)

// call runs one of the three operations; all share the error mapping.
type call func(p *Provider, ctx context.Context, t providers.Target) error

var calls = map[string]call{
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
	"embed": func(p *Provider, ctx context.Context, t providers.Target) error {
		_, err := p.Embed(ctx, t, &schema.EmbeddingRequest{Model: "e", Input: []byte(`"hi"`)})
		return err
	},
}

func TestStatusErrors(t *testing.T) {
	tests := []struct {
		name, body, ctype           string
		status                      int
		message, etype, code, param string
		retryable                   bool
		apiStatus                   int
	}{
		{"400", providertest.Fixture(t, "error_400.json"), "application/json", 400,
			"Invalid type for 'temperature': expected a decimal, but got a string instead.", "invalid_request_error", "invalid_type", "temperature", false, 400},
		{"401", providertest.Fixture(t, "error_401.json"), "application/json", 401,
			"Incorrect API key provided: sk-proj-", "invalid_request_error", "invalid_api_key", "", false, 502}, // the gateway's key, not the client's
		{"404", providertest.Fixture(t, "error_404.json"), "application/json", 404,
			"The model `gpt-5-ultra` does not exist or you do not have access to it.", "invalid_request_error", "model_not_found", "", false, 404},
		{"429", providertest.Fixture(t, "error_429.json"), "application/json", 429,
			"Rate limit reached for gpt-4o", "tokens", "rate_limit_exceeded", "", true, 429},
		{"500", providertest.Fixture(t, "error_500.json"), "application/json", 500,
			"The server had an error while processing your request. Sorry about that!", "server_error", "", "", true, 502},
		{"502 html", providertest.Fixture(t, "error_502.html"), "text/html", 502,
			"<html>\r\n<head><title>502 Bad Gateway</title></head>", "", "", "", true, 502},
		{"503 empty", "", "", 503, "", "", "", "", true, 502},
		{"vLLM", providertest.Fixture(t, "error_vllm_400.json"), "application/json", 400,
			"This model's maximum context length is 8192 tokens.", "BadRequestError", "", "", false, 400},
		{"gemini list", providertest.Fixture(t, "error_gemini_400.json"), "application/json", 400,
			"Request contains an invalid argument.", "", "", "", false, 400},
		{"error string", `{"error":"Invalid API key"}`, "application/json", 401, "Invalid API key", "", "", "", false, 502},
		{"message only", `{"message":"Not allowed"}`, "application/json", 403, "Not allowed", "", "", "", false, 403},
		{"FastAPI detail", `{"detail":"Not Found"}`, "application/json", 404, "Not Found", "", "", "", false, 404},
		{"numeric string code", `{"error":{"message":"slow down","code":"429"}}`, "application/json", 429, "slow down", "", "", "", true, 429},
		{"plain text", "upstream connect error or disconnect/reset before headers", "text/plain", 503,
			"upstream connect error or disconnect/reset before headers", "", "", "", true, 502},
	}
	for _, tc := range tests {
		for cname, c := range calls {
			u := newUpstream(t, providertest.Respond(tc.status, tc.ctype, tc.body))
			err := c(New(u.Client()), context.Background(), u.target())
			pe := asError(t, err, providers.KindStatus)
			if pe.Status != tc.status || !strings.HasPrefix(pe.Message, tc.message) || pe.Type != tc.etype || pe.Code != tc.code || pe.Param != tc.param {
				t.Errorf("%s/%s: error = %+v", tc.name, cname, pe)
			}
			if tc.message == "" && pe.Message != "" {
				t.Errorf("%s/%s: message = %q", tc.name, cname, pe.Message)
			}
			if pe.Retryable() != tc.retryable || pe.API().Status != tc.apiStatus {
				t.Errorf("%s/%s: retryable=%v api status=%d", tc.name, cname, pe.Retryable(), pe.API().Status)
			}
		}
	}
}

func TestErrorBodyCapped(t *testing.T) {
	big := strings.Repeat("é", 3<<20) // 6 MiB, two bytes per rune
	u := newUpstream(t, providertest.Respond(500, "text/plain", big))
	err := calls["chat"](New(u.Client()), context.Background(), u.target())
	pe := asError(t, err, providers.KindStatus)
	if len(pe.Message) > httpx.MaxMessageBytes || !strings.HasPrefix(big, pe.Message) || len(pe.Message) < httpx.MaxMessageBytes-1 {
		t.Errorf("message of %d bytes", len(pe.Message))
	}
}

func TestConnectionRefused(t *testing.T) {
	u := newUpstream(t, providertest.Respond(200, "", ""))
	tg := u.target()
	u.Close()
	for name, c := range calls {
		err := c(New(http.DefaultClient), context.Background(), tg)
		pe := asError(t, err, providers.KindConnection)
		if !pe.Retryable() || pe.API().Status != 502 || pe.Err == nil {
			t.Errorf("%s: %+v", name, pe)
		}
	}
	// An unresolvable host is a connection failure too.
	tg.BaseURL = "http://upstream.invalid"
	asError(t, calls["chat"](New(nil), context.Background(), tg), providers.KindConnection)
}

// stall is an upstream that never answers (until the client goes away).
func stall(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }

func TestTimeouts(t *testing.T) {
	u := newUpstream(t, stall)
	headerTimeout := &http.Client{Transport: &http.Transport{ResponseHeaderTimeout: 50 * time.Millisecond}}
	clientTimeout := &http.Client{Timeout: 50 * time.Millisecond}
	for cname, c := range calls {
		pe := asError(t, c(New(headerTimeout), context.Background(), u.target()), providers.KindTimeout)
		if !pe.Retryable() || pe.API().Status != 504 {
			t.Errorf("%s: %+v", cname, pe)
		}
		asError(t, c(New(clientTimeout), context.Background(), u.target()), providers.KindTimeout)

		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		err := c(New(u.Client()), ctx, u.target())
		cancel()
		asError(t, err, providers.KindTimeout)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: cause %v not wrapped", cname, err)
		}
	}
}

func TestCancelled(t *testing.T) {
	u := newUpstream(t, stall)
	for cname, c := range calls {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(30*time.Millisecond, cancel)
		pe := asError(t, c(New(u.Client()), ctx, u.target()), providers.KindCancelled)
		if pe.Retryable() || pe.API().Status != 499 {
			t.Errorf("%s: %+v", cname, pe)
		}
	}
}

func TestBadBaseURL(t *testing.T) {
	tg := providers.Target{Provider: "acme", Model: "m", BaseURL: "http://bad host\x7f"}
	asError(t, calls["chat"](New(nil), context.Background(), tg), providers.KindConnection)
}

// Redirects that the client does not follow are not answers.
func TestRedirectNotFollowed(t *testing.T) {
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
	})
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	asError(t, calls["chat"](New(c), context.Background(), u.target()), providers.KindBadResponse)
}

func TestParseErrorBody(t *testing.T) {
	for _, body := range []string{"", "null", "[]", "{}", `{"foo":1}`, "not json", `{"error":null}`, `[1]`} {
		if f, ok := parseErrorBody([]byte(body)); ok {
			t.Errorf("%q parsed as %+v", body, f)
		}
	}
	f, ok := parseErrorBody([]byte(`{"error":{"message":{"text":"nested"},"code":42.5}}`))
	if !ok || f.Message != `{"text":"nested"}` || f.Code != "" {
		t.Errorf("got %+v %v", f, ok)
	}
}
