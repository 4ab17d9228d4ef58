package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

type envelope struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	} `json:"error"`
}

func readEnvelope(t *testing.T, body io.Reader) envelope {
	t.Helper()
	var e envelope
	b, _ := io.ReadAll(body)
	if err := json.Unmarshal(b, &e); err != nil || e.Error.Message == "" || e.Error.Type == "" {
		t.Fatalf("not an OpenAI error envelope: %s", b)
	}
	return e
}

func str(p *string) string {
	if p == nil {
		return "<null>"
	}
	return *p
}

// TestErrorRows checks every row of the error table through raw HTTP.
func TestErrorRows(t *testing.T) {
	h := startGateway(t, "sqlite", map[string]string{"GATEWAY_MAX_BODY_BYTES": "65536"})
	chat := func(model, text string) string {
		b, _ := json.Marshal(map[string]any{"model": model, "messages": []any{map[string]any{"role": "user", "content": text}}})
		return string(b)
	}
	cases := []struct {
		name         string
		body         string
		headers      []string
		status       int
		typ, code    string
		param        string
		msgSubstring string
	}{
		{"bad json", `{"model": "gpt-4o",`, nil, 400, "invalid_request_error", "invalid_json", "<null>", "Invalid JSON"},
		{"not an object", `[1,2]`, nil, 400, "invalid_request_error", "invalid_json", "<null>", ""},
		{"missing model", `{"messages":[{"role":"user","content":"hi"}]}`, nil, 400, "invalid_request_error", "<null>", "model", "model"},
		{"wrong field type", `{"model":"gpt-4o","messages":"hi"}`, nil, 400, "invalid_request_error", "<null>", "messages", "messages"},
		{"empty messages", `{"model":"gpt-4o","messages":[]}`, nil, 400, "invalid_request_error", "<null>", "messages", ""},
		{"bad role", `{"model":"gpt-4o","messages":[{"role":"robot","content":"x"}]}`, nil, 400, "invalid_request_error", "<null>", "messages[0].role", "robot"},
		{"bad temperature", `{"model":"gpt-4o","temperature":7,"messages":[{"role":"user","content":"x"}]}`, nil, 400, "invalid_request_error", "<null>", "temperature", ""},
		{"missing key", chat("gpt-4o", "hi"), []string{"Authorization", ""}, 401, "invalid_request_error", "invalid_api_key", "<null>", "Unauthorized"},
		{"invalid key", chat("gpt-4o", "hi"), []string{"Authorization", "Bearer llmgtwy_nope"}, 401, "invalid_request_error", "invalid_api_key", "<null>", "Unauthorized"},
		{"unknown model", chat("no-such-model", "hi"), nil, 404, "invalid_request_error", "model_not_found", "model", "no-such-model"},
		{"unknown pinned model", chat("openai/no-such-model", "hi"), nil, 404, "invalid_request_error", "model_not_found", "model", ""},
		{"body too large", chat("gpt-4o", strings.Repeat("x", 70000)), nil, 413, "invalid_request_error", "request_too_large", "<null>", ""},
		{"upstream 400 passed through", chat("gpt-4o", "#status 400"), nil, 400, "invalid_request_error", "fake_400", "<null>", "fake upstream error 400"},
		{"upstream 429 passed through", chat("gpt-4o", "#status 429"), nil, 429, "invalid_request_error", "fake_429", "<null>", "fake upstream error 429"},
		{"upstream 500", chat("gpt-4o", "#status 500"), nil, 502, "api_error", "<null>", "<null>", "500"},
		{"upstream garbage", chat("gpt-4o", "#garbage"), nil, 502, "api_error", "<null>", "<null>", "invalid response"},
		{"upstream refused", chat("dead/some-model", "hi"), nil, 502, "api_error", "<null>", "<null>", "Could not reach"},
		{"upstream timeout", chat("gpt-4o", "#slow 3s"), nil, 504, "timeout_error", "timeout", "<null>", "timed out"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := h.post("/v1/chat/completions", c.body, c.headers...)
			if resp.StatusCode != c.status {
				b, _ := io.ReadAll(resp.Body)
				t.Fatalf("status = %d, want %d: %s", resp.StatusCode, c.status, b)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("content type = %q", ct)
			}
			e := readEnvelope(t, resp.Body)
			if e.Error.Type != c.typ || str(e.Error.Code) != c.code || str(e.Error.Param) != c.param {
				t.Errorf("envelope = %+v (code %s, param %s)", e.Error, str(e.Error.Code), str(e.Error.Param))
			}
			if !strings.Contains(e.Error.Message, c.msgSubstring) {
				t.Errorf("message %q lacks %q", e.Error.Message, c.msgSubstring)
			}
		})
	}
}

func TestSDKSeesErrors(t *testing.T) {
	h := startGateway(t, "sqlite", nil)
	_, err := h.client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:    "no-such-model",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
	})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.Code != "model_not_found" || apiErr.Param != "model" {
		t.Fatalf("err = %v", err)
	}
	bad := openai.NewClient(option.WithAPIKey("llmgtwy_invalid"), option.WithBaseURL(h.base+"/v1"), option.WithMaxRetries(0))
	_, err = bad.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model: "gpt-4o", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
	})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 || apiErr.Code != "invalid_api_key" {
		t.Fatalf("err = %v", err)
	}
}

func TestUpstreamDiesMidStream(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		h := startGateway(t, dialect, nil)
		var raw *httpResponse
		stream := h.client.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
			Model:    "gpt-4o-mini",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("#die\none two three four")},
		}, option.WithResponseInto(&raw))
		var text strings.Builder
		for stream.Next() {
			if c := stream.Current(); len(c.Choices) > 0 {
				text.WriteString(c.Choices[0].Delta.Content)
			}
		}
		err := stream.Err()
		if err == nil {
			t.Fatalf("a broken stream was presented as a clean finish (text %q)", text.String())
		}
		if text.String() != "Hello! You" { // the fake cuts the connection after two words
			t.Errorf("text before the break = %q", text.String())
		}
		rows := h.logs(raw.Header.Get("X-Request-Id"))
		if len(rows) != 1 || rows[0].Status != 502 || rows[0].ErrorMessage == "" || !rows[0].Streamed {
			t.Fatalf("log = %+v", rows)
		}
		// What was generated before the break is still counted and billed.
		if rows[0].CompletionTokens == 0 || rows[0].TotalCost == nil || *rows[0].TotalCost == 0 {
			t.Errorf("partial usage not billed: %+v", rows[0])
		}
	})
}

func TestStreamErrorBeforeFirstByteIsJSON(t *testing.T) {
	h := startGateway(t, "sqlite", nil)
	resp := h.post("/v1/chat/completions", `{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"#status 503"}]}`)
	if resp.StatusCode != 502 {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	readEnvelope(t, resp.Body)
}

func TestKeyDeactivatedBetweenRequests(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		h := startGateway(t, dialect, nil)
		ctx := context.Background()
		params := openai.ChatCompletionNewParams{Model: "test/echo", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}
		if _, err := h.client.Chat.Completions.New(ctx, params); err != nil {
			t.Fatal(err)
		}
		var keyID string
		h.srv.DB.Raw("SELECT id FROM api_keys WHERE project_id = ?", h.setup.ProjectID).Scan(&keyID)
		if _, err := h.prov.SetKeyStatus(ctx, keyID, "inactive"); err != nil {
			t.Fatal(err)
		}
		_, err := h.client.Chat.Completions.New(ctx, params)
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 {
			t.Fatalf("deactivated key: err = %v", err)
		}
		if _, err := h.prov.SetKeyStatus(ctx, keyID, "active"); err != nil {
			t.Fatal(err)
		}
		if _, err := h.client.Chat.Completions.New(ctx, params); err != nil {
			t.Fatalf("reactivated key: %v", err)
		}
		if _, err := h.prov.SetKeyStatus(ctx, keyID, "deleted"); err != nil {
			t.Fatal(err)
		}
		if _, err := h.client.Chat.Completions.New(ctx, params); !errors.As(err, &apiErr) || apiErr.StatusCode != 401 {
			t.Fatalf("deleted key: err = %v", err)
		}
	})
}

func TestXAPIKeyHeaderAuthenticates(t *testing.T) {
	h := startGateway(t, "sqlite", nil)
	resp := h.post("/v1/chat/completions", `{"model":"test/echo","messages":[{"role":"user","content":"hi"}]}`,
		"Authorization", "", "X-Api-Key", h.setup.APIKey)
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
}
