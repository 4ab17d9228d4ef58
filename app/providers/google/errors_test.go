package google

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/llmgw/gateway/app/providers"
	"github.com/llmgw/gateway/app/providers/providertest"
)

func TestHTTPErrors(t *testing.T) {
	for _, tc := range []struct {
		name, body, retryAfter string
		status                 int
		wantStatus             int
		code, msgPrefix        string
		wantRetryAfter         time.Duration
		retryable              bool
		apiStatus              int
	}{
		{name: "400", body: providertest.Fixture(t, "error_400.json"), status: 400, wantStatus: 400, code: "invalid_argument",
			msgPrefix: "* GenerateContentRequest.contents: contents is not specified", apiStatus: 400},
		{name: "400 bad key", body: providertest.Fixture(t, "error_400_key.json"), status: 400, wantStatus: 401, code: "invalid_api_key",
			msgPrefix: "API key not valid.", apiStatus: 502}, // the gateway's key, not the client's
		{name: "403", body: providertest.Fixture(t, "error_403.json"), status: 403, wantStatus: 403, code: "permission_denied",
			msgPrefix: "Method doesn't allow unregistered callers", apiStatus: 403},
		{name: "429 header", body: providertest.Fixture(t, "error_429.json"), retryAfter: "7", status: 429, wantStatus: 429, code: "resource_exhausted",
			msgPrefix: "You exceeded your current quota", wantRetryAfter: 7 * time.Second, retryable: true, apiStatus: 429},
		{name: "429 retry info", body: providertest.Fixture(t, "error_429.json"), status: 429, wantStatus: 429, code: "resource_exhausted",
			msgPrefix: "You exceeded your current quota", wantRetryAfter: 34 * time.Second, retryable: true, apiStatus: 429},
		{name: "500", body: providertest.Fixture(t, "error_500.json"), status: 500, wantStatus: 500, code: "internal",
			msgPrefix: "An internal error has occurred.", retryable: true, apiStatus: 502},
		{name: "503 array", body: providertest.Fixture(t, "error_503.json"), retryAfter: "Wed, 21 Oct 2099 07:28:00 GMT", status: 503, wantStatus: 503,
			code: "unavailable", msgPrefix: "The model is overloaded.", wantRetryAfter: -1, retryable: true, apiStatus: 502},
		{name: "502 html", body: "<html><body><h1>502 Bad Gateway</h1></body></html>", status: 502, wantStatus: 502,
			msgPrefix: "<html>", retryable: true, apiStatus: 502},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				if tc.retryAfter != "" {
					w.Header().Set("Retry-After", tc.retryAfter)
				}
				providertest.Respond(tc.status, "application/json; charset=UTF-8", tc.body)(w, r)
			})
			for _, stream := range []bool{false, true} {
				var err error
				p := New(u.Client())
				if stream {
					_, err = p.ChatStream(context.Background(), u.target(), providertest.ChatRequest(t, providertest.SimpleRequest))
				} else {
					_, err = p.Chat(context.Background(), u.target(), providertest.ChatRequest(t, providertest.SimpleRequest))
				}
				pe := asError(t, err, providers.KindStatus)
				if pe.Status != tc.wantStatus || pe.Code != tc.code || len(pe.Message) < len(tc.msgPrefix) ||
					pe.Message[:len(tc.msgPrefix)] != tc.msgPrefix || pe.Retryable() != tc.retryable {
					t.Errorf("stream=%v: error = %+v", stream, pe)
				}
				switch {
				case tc.wantRetryAfter < 0:
					if pe.RetryAfter < time.Hour {
						t.Errorf("RetryAfter = %v, want an HTTP date far away", pe.RetryAfter)
					}
				case pe.RetryAfter != tc.wantRetryAfter:
					t.Errorf("RetryAfter = %v, want %v", pe.RetryAfter, tc.wantRetryAfter)
				}
				ae := pe.API()
				if ae.Status != tc.apiStatus {
					t.Errorf("API status = %d", ae.Status)
				}
				if tc.apiStatus == 429 && ae.Header["Retry-After"] == "" {
					t.Errorf("no Retry-After for the client")
				}
			}
		})
	}
}

func TestEmbedErrors(t *testing.T) {
	u := newUpstream(t, providertest.Respond(404, "application/json", `{"error":{"code":404,"message":"models/nope is not found for API version v1beta","status":"NOT_FOUND"}}`))
	_, err := New(u.Client()).Embed(context.Background(), u.target(), embeddingRequest(t, `{"model":"m","input":"x"}`))
	if pe := asError(t, err, providers.KindStatus); pe.Status != 404 || pe.Code != "not_found" || pe.API().Status != 404 {
		t.Errorf("error = %+v", pe)
	}
}

func TestTransportErrors(t *testing.T) {
	// Refused connection.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	tg := providers.Target{Provider: "acme", Model: testModel, BaseURL: "http://" + addr, APIKey: testKey}
	_, err = New(nil).Chat(context.Background(), tg, providertest.ChatRequest(t, providertest.SimpleRequest))
	asError(t, err, providers.KindConnection)

	// Malformed base URL.
	tg.BaseURL = "http://[::1"
	_, err = New(nil).Chat(context.Background(), tg, providertest.ChatRequest(t, providertest.SimpleRequest))
	asError(t, err, providers.KindConnection)

	// Client timeout and cancelled context.
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
	})
	c := u.Client()
	c.Timeout = 50 * time.Millisecond
	_, err = New(c).Chat(context.Background(), u.target(), providertest.ChatRequest(t, providertest.SimpleRequest))
	if pe := asError(t, err, providers.KindTimeout); !pe.Retryable() || pe.API().Status != 504 {
		t.Errorf("timeout = %+v", pe)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = New(u.Client()).Chat(ctx, u.target(), providertest.ChatRequest(t, providertest.SimpleRequest))
	asError(t, err, providers.KindTimeout)
	ctx, cancel = context.WithCancel(context.Background())
	go func() { time.Sleep(30 * time.Millisecond); cancel() }()
	_, err = New(u.Client()).ChatStream(ctx, u.target(), providertest.ChatRequest(t, providertest.SimpleRequest))
	asError(t, err, providers.KindCancelled)
}

func TestParseRetryAfter(t *testing.T) {
	for v, want := range map[string]time.Duration{"": 0, "0": 0, "-3": 0, "12": 12 * time.Second, "soon": 0,
		"Mon, 01 Jan 1990 00:00:00 GMT": 0, "99999999999999": 86400 * 365 * time.Second} {
		if got, _ := parseRetryAfter(v); got != want {
			t.Errorf("%q: %v, want %v", v, got, want)
		}
	}
}

func TestParseErrorBodyShapes(t *testing.T) {
	for body, want := range map[string]errorFields{
		`{"error":"quota"}`: {Message: "quota"},
		`{"error":{"code":"429","message":"m","status":"RESOURCE_EXHAUSTED"}}`: {Message: "m", Status: "RESOURCE_EXHAUSTED", NumCode: 429},
		`{"code":503,"message":"down","status":"UNAVAILABLE"}`:                 {Message: "down", Status: "UNAVAILABLE", NumCode: 503},
		`[{"error":{"message":{"nested":true}}}]`:                              {Message: `{"nested":true}`},
	} {
		got, ok := parseErrorBody([]byte(body))
		if !ok || got != want {
			t.Errorf("%s: %+v %v", body, got, ok)
		}
	}
	for _, body := range []string{``, `[]`, `null`, `{"candidates":[]}`, `<html>`, `[1]`} {
		if _, ok := parseErrorBody([]byte(body)); ok {
			t.Errorf("%s: parsed", body)
		}
	}
	// A payload error without a usable code falls back on its status name, then 502.
	if e := payloadError("acme", errorFields{Status: "DEADLINE_EXCEEDED"}); e.Status != 504 {
		t.Errorf("status = %d", e.Status)
	}
	if e := payloadError("acme", errorFields{Message: "?"}); e.Status != 502 {
		t.Errorf("status = %d", e.Status)
	}
}
