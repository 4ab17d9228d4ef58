package google

import (
	"context"
	"reflect"
	"testing"

	"github.com/llmgw/gateway/app/providers"
	"github.com/llmgw/gateway/app/providers/providertest"
	"github.com/llmgw/gateway/app/schema"
)

func chatFixture(t *testing.T, name string) *schema.ChatResponse {
	t.Helper()
	u := newUpstream(t, providertest.Respond(200, "application/json; charset=UTF-8", providertest.Fixture(t, name)))
	resp, err := New(u.Client()).Chat(context.Background(), u.target(), providertest.ChatRequest(t, providertest.SimpleRequest))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if resp.Object != "chat.completion" || resp.Created == 0 || resp.Choices == nil {
		t.Fatalf("%s: envelope = %+v", name, resp)
	}
	return resp
}

func usageOf(prompt, completion, total, cached, reasoning int) *schema.Usage {
	return &schema.Usage{
		PromptTokens: prompt, CompletionTokens: completion, TotalTokens: total,
		PromptTokensDetails:     &schema.PromptTokensDetails{CachedTokens: cached},
		CompletionTokensDetails: &schema.CompletionTokensDetails{ReasoningTokens: reasoning},
	}
}

func TestChatText(t *testing.T) {
	resp := chatFixture(t, "chat_text.json")
	if resp.ID != "4qF0aN7BJ_n7xN8P0aP-uAk" || resp.Model != "gemini-2.0-flash" || len(resp.Choices) != 1 {
		t.Fatalf("envelope = %+v", resp)
	}
	c := resp.Choices[0]
	if c.Index != 0 || c.FinishReason != "stop" || c.Message.Role != "assistant" ||
		c.Message.Content.Text == nil || *c.Message.Content.Text != "The capital of France is **Paris**." ||
		c.Message.ToolCalls != nil || c.Message.Reasoning != "" {
		t.Errorf("choice = %+v", c)
	}
	if !reflect.DeepEqual(resp.Usage, usageOf(9, 8, 17, 0, 0)) {
		t.Errorf("usage = %+v", resp.Usage)
	}
}

func TestChatFunctionCall(t *testing.T) {
	resp := chatFixture(t, "chat_function_call.json")
	c := resp.Choices[0]
	want := []schema.ToolCall{
		{ID: "call_Vb10aPyWL8Kfz7IP2p6n0Q4_0", Type: "function", Function: schema.ToolCallFunction{Name: "get_weather", Arguments: `{"city":"Paris","unit":"celsius"}`}},
		{ID: "call_Vb10aPyWL8Kfz7IP2p6n0Q4_1", Type: "function", Function: schema.ToolCallFunction{Name: "get_time", Arguments: `{"timezone":"Europe/Paris"}`}},
	}
	if c.FinishReason != "tool_calls" || !reflect.DeepEqual(c.Message.ToolCalls, want) ||
		c.Message.Content.String() != "Let me look that up." {
		t.Errorf("choice = %+v", c)
	}
	if !reflect.DeepEqual(resp.Usage, usageOf(118, 144, 262, 0, 103)) {
		t.Errorf("usage = %+v", resp.Usage)
	}
	// The same answer translates to the same ids.
	if again := chatFixture(t, "chat_function_call.json"); !reflect.DeepEqual(again.Choices, resp.Choices) {
		t.Error("ids are not deterministic")
	}
}

func TestChatThinking(t *testing.T) {
	resp := chatFixture(t, "chat_thinking.json")
	m := resp.Choices[0].Message
	if m.Reasoning != "**Adding the numbers**\n\nThe user wants 17 + 25. 17 + 25 = 42.\n" || m.Content.String() != "17 + 25 = **42**." {
		t.Errorf("message = %+v", m)
	}
	if !reflect.DeepEqual(resp.Usage, usageOf(12, 242, 254, 0, 232)) {
		t.Errorf("usage = %+v", resp.Usage)
	}
}

func TestChatFinishReasons(t *testing.T) {
	for _, tc := range []struct {
		fixture, finish, content string
		usage                    *schema.Usage
	}{
		{"chat_safety.json", "content_filter", "", usageOf(21, 0, 21, 0, 0)},
		{"chat_prompt_blocked.json", "content_filter", "", usageOf(30, 0, 30, 0, 0)},
		{"chat_max_tokens.json", "length", "Once upon a time, in a land far", usageOf(6, 10, 16, 0, 0)},
		{"chat_cached.json", "stop", "Section 4.2 covers termination.", usageOf(4231, 79, 4310, 4096, 70)},
	} {
		resp := chatFixture(t, tc.fixture)
		if len(resp.Choices) != 1 {
			t.Fatalf("%s: choices = %+v", tc.fixture, resp.Choices)
		}
		c := resp.Choices[0]
		if c.FinishReason != tc.finish || c.Message.Content.Text == nil || *c.Message.Content.Text != tc.content {
			t.Errorf("%s: choice = %+v", tc.fixture, c)
		}
		if !reflect.DeepEqual(resp.Usage, tc.usage) {
			t.Errorf("%s: usage = %+v", tc.fixture, resp.Usage)
		}
	}
}

func TestChatTwoCandidates(t *testing.T) {
	resp := chatFixture(t, "chat_two_candidates.json")
	if len(resp.Choices) != 2 || resp.Choices[1].Index != 1 || resp.Choices[1].FinishReason != "tool_calls" ||
		!resp.Choices[1].Message.Content.IsNull() || resp.Choices[1].Message.ToolCalls[0].Function.Arguments != "{}" ||
		resp.Choices[0].FinishReason != "stop" {
		t.Errorf("choices = %+v", resp.Choices)
	}
	// Without a responseId the id is generated, and call ids follow it.
	id := resp.ID
	if len(id) != len("chatcmpl-")+24 || id[:9] != "chatcmpl-" || resp.Choices[1].Message.ToolCalls[0].ID != "call_"+id[9:]+"_0" {
		t.Errorf("ids = %s, %s", id, resp.Choices[1].Message.ToolCalls[0].ID)
	}
}

func TestChatBadResponses(t *testing.T) {
	for name, body := range map[string]string{
		"html":          "<html><body>Welcome to nginx!</body></html>",
		"truncated":     `{"candidates":[{"content":`,
		"no candidates": `{"usageMetadata":{"promptTokenCount":1}}`,
		"null":          `null`,
		"wrong types":   `{"candidates":"yes"}`,
		"empty":         ``,
	} {
		u := newUpstream(t, providertest.Respond(200, "application/json", body))
		_, err := New(u.Client()).Chat(context.Background(), u.target(), providertest.ChatRequest(t, providertest.SimpleRequest))
		pe := asError(t, err, providers.KindBadResponse)
		if !pe.Retryable() || pe.API().Status != 502 {
			t.Errorf("%s: retryable=%v status=%d", name, pe.Retryable(), pe.API().Status)
		}
	}
}

func TestChatErrorWithStatus200(t *testing.T) {
	u := newUpstream(t, providertest.Respond(200, "application/json", providertest.Fixture(t, "error_503.json")))
	_, err := New(u.Client()).Chat(context.Background(), u.target(), providertest.ChatRequest(t, providertest.SimpleRequest))
	pe := asError(t, err, providers.KindStatus)
	if pe.Status != 503 || pe.Code != "unavailable" || !pe.Retryable() {
		t.Errorf("error = %+v", pe)
	}
}
