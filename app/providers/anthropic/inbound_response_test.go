package anthropic

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/llmgw/gateway/app/providers/providertest"
	"github.com/llmgw/gateway/app/schema"
)

func TestFromChatResponse(t *testing.T) {
	resp := &schema.ChatResponse{
		ID: "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG", Object: "chat.completion", Model: "gpt-5-2025-08-07",
		Choices: []schema.Choice{{
			Message: schema.Message{Role: "assistant", Content: schema.TextContent("Checking the weather."), Reasoning: "User wants weather.",
				ToolCalls: []schema.ToolCall{
					{ID: "call_1", Type: "function", Function: schema.ToolCallFunction{Name: "get_weather", Arguments: `{"city": "Paris"}`}},
					{ID: "", Type: "function", Function: schema.ToolCallFunction{Name: "noop", Arguments: ``}},
					{ID: "call_3", Type: "function", Function: schema.ToolCallFunction{Name: "broken", Arguments: `{"city":`}},
				}},
			FinishReason: "tool_calls",
		}},
		Usage: &schema.Usage{PromptTokens: 2000, CompletionTokens: 120, TotalTokens: 2120,
			PromptTokensDetails:     &schema.PromptTokensDetails{CachedTokens: 1500, CacheWriteTokens: 200},
			CompletionTokensDetails: &schema.CompletionTokensDetails{ReasoningTokens: 64}},
	}
	out := FromChatResponse(resp, "claude-sonnet-4-20250514")
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	got := providertest.DecodeAny(t, b).(map[string]any)
	content := got["content"].([]any)
	noopID := content[3].(map[string]any)["id"].(string)
	if !strings.HasPrefix(noopID, "toolu_") || len(noopID) < 20 {
		t.Errorf("generated id %q", noopID)
	}
	want := `{
	  "id": "msg_chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG", "type": "message", "role": "assistant", "model": "claude-sonnet-4-20250514",
	  "content": [
	    {"type": "thinking", "thinking": "User wants weather.", "signature": ""},
	    {"type": "text", "text": "Checking the weather."},
	    {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
	    {"type": "tool_use", "id": "` + noopID + `", "name": "noop", "input": {}},
	    {"type": "tool_use", "id": "call_3", "name": "broken", "input": {"_raw_arguments": "{\"city\":"}}
	  ],
	  "stop_reason": "tool_use", "stop_sequence": null,
	  "usage": {"input_tokens": 300, "cache_creation_input_tokens": 200, "cache_read_input_tokens": 1500, "output_tokens": 120}
	}`
	for _, d := range providertest.JSONDiff("resp", providertest.DecodeAny(t, []byte(want)), got) {
		t.Error(d)
	}
}

func TestFromChatResponseEdges(t *testing.T) {
	// No choices, no usage, no id.
	out := FromChatResponse(&schema.ChatResponse{}, "m")
	b, _ := json.Marshal(out)
	if !strings.HasPrefix(out.ID, "msg_") || len(out.ID) < 20 || *out.StopReason != "end_turn" ||
		!strings.Contains(string(b), `"content":[]`) || !strings.Contains(string(b), `"usage":{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}`) {
		t.Errorf("%s", b)
	}
	// An OpenAI refusal becomes text; a msg_ id is kept.
	refusal := "I can't help with that."
	out = FromChatResponse(&schema.ChatResponse{ID: "msg_01X", Choices: []schema.Choice{{
		Message: schema.Message{Role: "assistant", Refusal: &refusal}, FinishReason: "content_filter"}}}, "m")
	if out.ID != "msg_01X" || len(out.Content) != 1 || out.Content[0].Text != refusal || *out.StopReason != "refusal" {
		t.Errorf("%+v", out)
	}
	// Usage whose details exceed the prompt never goes negative.
	if u := anthropicUsage(&schema.Usage{PromptTokens: 5, PromptTokensDetails: &schema.PromptTokensDetails{CachedTokens: 9}}); u.InputTokens != 0 {
		t.Errorf("%+v", u)
	}
	for finish, want := range map[string]string{"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use",
		"function_call": "tool_use", "content_filter": "refusal", "": "end_turn", "completed": "end_turn"} {
		if got := stopReason(finish); got != want {
			t.Errorf("%q -> %q", finish, got)
		}
	}
}

func TestWriteError(t *testing.T) {
	for status, typ := range map[int]string{
		400: "invalid_request_error", 401: "authentication_error", 402: "billing_error", 403: "permission_error",
		404: "not_found_error", 408: "invalid_request_error", 413: "request_too_large", 422: "invalid_request_error",
		429: "rate_limit_error", 499: "invalid_request_error", 500: "api_error", 502: "api_error",
		503: "overloaded_error", 504: "timeout_error", 529: "overloaded_error",
	} {
		b := WriteError(status, `bad "thing"`)
		want := `{"type":"error","error":{"type":"` + typ + `","message":"bad \"thing\""}}`
		if string(b) != want {
			t.Errorf("%d: %s", status, b)
		}
	}
	// What the upstream adapter parses back.
	if f, ok := parseErrorBody(WriteError(429, "slow")); !ok || f.Type != "rate_limit_error" || f.Message != "slow" {
		t.Errorf("%+v", f)
	}
}
