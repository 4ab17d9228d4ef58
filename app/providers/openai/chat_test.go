package openai

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"testing"

	"github.com/llmgw/gateway/app/providers"
	"github.com/llmgw/gateway/app/providers/providertest"
	"github.com/llmgw/gateway/app/schema"
)

func TestChatToolCalls(t *testing.T) {
	u := newUpstream(t, providertest.Respond(200, "application/json", providertest.Fixture(t, "chat_tool_calls.json")))
	resp, err := New(u.Client()).Chat(context.Background(), u.target(), providertest.ChatRequest(t, providertest.SimpleRequest))
	if err != nil {
		t.Fatal(err)
	}

	got := u.Last(t)
	if got.Method != http.MethodPost || got.Path != "/v1/chat/completions" {
		t.Errorf("request line = %s %s", got.Method, got.Path)
	}
	for h, want := range map[string]string{
		"Authorization": "Bearer " + testKey,
		"Content-Type":  "application/json",
		"Accept":        "application/json",
	} {
		if v := got.Header.Get(h); v != want {
			t.Errorf("%s = %q, want %q", h, v, want)
		}
	}

	if resp.ID != "chatcmpl-BJqv2Xb6yQ5nM8ZrT1kLwP0aEoFcU" || resp.Model != "gpt-4o-2024-08-06" || resp.SystemFingerprint != "fp_898ac29719" || resp.ServiceTier != "default" {
		t.Errorf("envelope = %+v", resp)
	}
	if len(resp.Choices) != 1 {
		t.Fatalf("choices = %d", len(resp.Choices))
	}
	c := resp.Choices[0]
	if c.FinishReason != "tool_calls" || !c.Message.Content.IsNull() || c.Message.Role != "assistant" {
		t.Errorf("choice = %+v", c)
	}
	wantCalls := []schema.ToolCall{
		{ID: "call_Q7rV2kHc9mXbN4tLpZ1wYs8e", Type: "function", Function: schema.ToolCallFunction{Name: "get_weather", Arguments: `{"city":"Paris","unit":"celsius"}`}},
		{ID: "call_J3nT8fRw0qLx5vBkM2cHd6yA", Type: "function", Function: schema.ToolCallFunction{Name: "get_time", Arguments: `{"timezone":"Europe/Paris"}`}},
	}
	if !reflect.DeepEqual(c.Message.ToolCalls, wantCalls) {
		t.Errorf("tool calls = %+v", c.Message.ToolCalls)
	}
	us := resp.Usage
	if us == nil || us.PromptTokens != 1342 || us.CompletionTokens != 54 || us.TotalTokens != 1396 ||
		us.PromptTokensDetails == nil || us.PromptTokensDetails.CachedTokens != 1152 ||
		us.CompletionTokensDetails == nil || us.Cost != nil {
		t.Errorf("usage = %+v", us)
	}
}

func TestChatNoKeyNoAuthorization(t *testing.T) {
	u := newUpstream(t, providertest.Respond(200, "application/json", providertest.Fixture(t, "chat_tool_calls.json")))
	tg := u.target()
	tg.APIKey = ""
	if _, err := New(u.Client()).Chat(context.Background(), tg, providertest.ChatRequest(t, providertest.SimpleRequest)); err != nil {
		t.Fatal(err)
	}
	if _, ok := u.Last(t).Header["Authorization"]; ok {
		t.Error("Authorization sent without a key")
	}
}

// TestRequestBody checks the body sent upstream: the client's request with only
// the model replaced and the stream fields set by the adapter.
func TestRequestBody(t *testing.T) {
	in := providertest.Fixture(t, "chat_request.json")
	for _, stream := range []bool{false, true} {
		var u *upstream
		if stream {
			u = newUpstream(t, providertest.SSEHandler(providertest.Fixture(t, "stream_content.sse"), 1<<20))
		} else {
			u = newUpstream(t, providertest.Respond(200, "application/json", providertest.Fixture(t, "chat_tool_calls.json")))
		}
		req := providertest.ChatRequest(t, in)
		before, _ := json.Marshal(req)

		p := New(u.Client())
		if stream {
			s, err := p.ChatStream(context.Background(), u.target(), req)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := providertest.ReadStream(s); err.Error() != "EOF" {
				t.Fatal(err)
			}
			s.Close()
		} else if _, err := p.Chat(context.Background(), u.target(), req); err != nil {
			t.Fatal(err)
		}

		var want, got map[string]any
		_ = json.Unmarshal([]byte(in), &want)
		want["model"] = "gpt-4o-2024-08-06"
		delete(want, "stream")
		delete(want, "stream_options")
		if stream {
			want["stream"] = true
			want["stream_options"] = map[string]any{"include_usage": true}
		}
		if err := json.Unmarshal(u.Last(t).Body, &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			g, _ := json.MarshalIndent(got, "", " ")
			t.Errorf("stream=%v: upstream body:\n%s", stream, g)
		}
		if h := u.Last(t).Header.Get("Accept"); stream && h != "text/event-stream" {
			t.Errorf("Accept = %q", h)
		}
		if after, _ := json.Marshal(req); string(after) != string(before) {
			t.Errorf("stream=%v: the caller's request was mutated", stream)
		}
	}
}

func TestChatBadResponses(t *testing.T) {
	for name, body := range map[string]string{
		"html":        "<html><body>Welcome to nginx!</body></html>",
		"truncated":   `{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,`,
		"no choices":  `{"id":"chatcmpl-1","object":"chat.completion"}`,
		"null":        `null`,
		"wrong types": `{"choices":"yes"}`,
		"empty":       ``,
	} {
		u := newUpstream(t, providertest.Respond(200, "application/json", body))
		_, err := New(u.Client()).Chat(context.Background(), u.target(), providertest.ChatRequest(t, providertest.SimpleRequest))
		pe := asError(t, err, providers.KindBadResponse)
		if !pe.Retryable() || pe.API().Status != 502 {
			t.Errorf("%s: retryable=%v status=%d", name, pe.Retryable(), pe.API().Status)
		}
	}
}

// A compatible server answering an error object with status 200.
func TestChatErrorWithStatus200(t *testing.T) {
	u := newUpstream(t, providertest.Respond(200, "application/json", `{"error":{"message":"Provider returned error","code":429}}`))
	_, err := New(u.Client()).Chat(context.Background(), u.target(), providertest.ChatRequest(t, providertest.SimpleRequest))
	pe := asError(t, err, providers.KindStatus)
	if pe.Status != 429 || pe.Message != "Provider returned error" || pe.Code != "" {
		t.Errorf("error = %+v", pe)
	}
}
