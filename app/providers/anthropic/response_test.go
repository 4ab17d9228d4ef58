package anthropic

import (
	"context"
	"reflect"
	"testing"

	"github.com/llmgw/gateway/app/providers"
	"github.com/llmgw/gateway/app/providers/providertest"
	"github.com/llmgw/gateway/app/schema"
)

func TestChatResponses(t *testing.T) {
	str := func(s string) *string { return &s }
	tests := []struct {
		fixture, request string
		id, model        string
		content          *string // nil: null content
		reasoning        string
		details          []schema.ReasoningDetail
		finish           string
		toolCalls        []schema.ToolCall
		usage            schema.Usage
	}{
		{
			fixture: "response_text.json", request: providertest.SimpleRequest,
			id: "msg_01XFDUDYJgAACzvnptvVoYEL", model: "claude-sonnet-4-20250514",
			content: str("Paris is the capital of France. It has been since 987."), finish: "stop",
			usage: schema.Usage{PromptTokens: 21 + 1024 + 2048, CompletionTokens: 17, TotalTokens: 21 + 1024 + 2048 + 17,
				PromptTokensDetails:     &schema.PromptTokensDetails{CachedTokens: 2048, CacheWriteTokens: 1024},
				CompletionTokensDetails: &schema.CompletionTokensDetails{}},
		},
		{
			fixture: "response_tool_use.json", request: providertest.SimpleRequest,
			id: "msg_01Aq9w938a90dw8q", model: "claude-sonnet-4-20250514",
			content: str("I'll check the weather in both cities."), finish: "tool_calls",
			toolCalls: []schema.ToolCall{
				{ID: "toolu_01A09q90qw90lq917835lq9", Type: "function", Function: schema.ToolCallFunction{Name: "get_weather", Arguments: `{"city":"Paris","unit":"celsius"}`}},
				{ID: "toolu_01B7x2mQ4pLk9vNc3dRt8sWe", Type: "function", Function: schema.ToolCallFunction{Name: "get_time", Arguments: `{}`}},
			},
			usage: schema.Usage{PromptTokens: 384, CompletionTokens: 92, TotalTokens: 476,
				PromptTokensDetails: &schema.PromptTokensDetails{}, CompletionTokensDetails: &schema.CompletionTokensDetails{}},
		},
		{
			fixture: "response_thinking.json", request: providertest.SimpleRequest,
			id: "msg_01Ld4Hn2mvWcoVb4U5pT2TFu", model: "claude-sonnet-4-20250514",
			content: str("2/3 + 1/4 = 11/12."), finish: "stop",
			reasoning: "The user asks for 2/3 + 1/4. Common denominator 12: 8/12 + 3/12 = 11/12.",
			details: []schema.ReasoningDetail{
				{Type: "reasoning.text", Format: "anthropic-claude-v1", Index: 0,
					Text:      "The user asks for 2/3 + 1/4. Common denominator 12: 8/12 + 3/12 = 11/12.",
					Signature: "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds6xzt3fszsdBEdzHQ3KvQPD4ajqKqRStcB4f4r9rELdDhz0ljEABQg7MfbaXg=="},
				{Type: "reasoning.encrypted", Format: "anthropic-claude-v1", Index: 1,
					Data: "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpPkNRj2YfWXGmKDxH4mPnZ5sQ7vB8URj2pLmN3kGqWrGBRxw=="},
			},
			usage: schema.Usage{PromptTokens: 48, CompletionTokens: 310, TotalTokens: 358,
				PromptTokensDetails: &schema.PromptTokensDetails{}, CompletionTokensDetails: &schema.CompletionTokensDetails{ReasoningTokens: 280}},
		},
		{
			// reasoning.exclude: the model thinks, the client does not see it.
			fixture: "response_thinking.json", request: `{"messages":[{"role":"user","content":"q"}],"reasoning":{"effort":"low","exclude":true}}`,
			id: "msg_01Ld4Hn2mvWcoVb4U5pT2TFu", model: "claude-sonnet-4-20250514",
			content: str("2/3 + 1/4 = 11/12."), finish: "stop",
			usage: schema.Usage{PromptTokens: 48, CompletionTokens: 310, TotalTokens: 358,
				PromptTokensDetails: &schema.PromptTokensDetails{}, CompletionTokensDetails: &schema.CompletionTokensDetails{ReasoningTokens: 280}},
		},
		{
			fixture: "response_refusal.json", request: providertest.SimpleRequest,
			id: "msg_01RfSaLq8mVbN3xK2pD7wHcY", model: "claude-sonnet-4-5-20250929",
			content: str(""), finish: "content_filter",
			usage: schema.Usage{PromptTokens: 30, TotalTokens: 30,
				PromptTokensDetails: &schema.PromptTokensDetails{}, CompletionTokensDetails: &schema.CompletionTokensDetails{}},
		},
		{
			fixture: "response_max_tokens.json", request: providertest.SimpleRequest,
			id: "msg_01MxTk9bQwE4rT6yU8iO0pAs", model: "claude-3-5-haiku-20241022",
			content: str("Once upon a time, in a land far"), finish: "length",
			usage: schema.Usage{PromptTokens: 15, CompletionTokens: 10, TotalTokens: 25,
				PromptTokensDetails: &schema.PromptTokensDetails{}, CompletionTokensDetails: &schema.CompletionTokensDetails{}},
		},
		{
			// json_schema via the forced tool: its input is the content.
			fixture: "response_json_tool.json",
			request: `{"messages":[{"role":"user","content":"Paris?"}],"response_format":{"type":"json_schema","json_schema":{"name":"city_info","schema":{"type":"object"}}}}`,
			id:      "msg_01JsOnT00lAnsw3rXyZ12345", model: "claude-sonnet-4-20250514",
			content: str(`{"city":"Paris","population":2102650}`), finish: "stop",
			usage: schema.Usage{PromptTokens: 410, CompletionTokens: 40, TotalTokens: 450,
				PromptTokensDetails: &schema.PromptTokensDetails{}, CompletionTokensDetails: &schema.CompletionTokensDetails{}},
		},
	}
	for _, tc := range tests {
		u := newUpstream(t, providertest.Respond(200, "application/json", providertest.Fixture(t, tc.fixture)))
		resp, err := u.provider().Chat(context.Background(), u.target(), providertest.ChatRequest(t, tc.request))
		if err != nil {
			t.Fatalf("%s: %v", tc.fixture, err)
		}
		if resp.ID != tc.id || resp.Model != tc.model || resp.Object != "chat.completion" || resp.Created == 0 || len(resp.Choices) != 1 {
			t.Errorf("%s: envelope %+v", tc.fixture, resp)
			continue
		}
		c := resp.Choices[0]
		m := c.Message
		if m.Role != "assistant" || c.FinishReason != tc.finish || m.Reasoning != tc.reasoning {
			t.Errorf("%s: choice %+v", tc.fixture, c)
		}
		if (tc.content == nil) != m.Content.IsNull() || tc.content != nil && m.Content.String() != *tc.content {
			t.Errorf("%s: content %q", tc.fixture, m.Content.String())
		}
		if !reflect.DeepEqual(m.ToolCalls, tc.toolCalls) {
			t.Errorf("%s: tool calls %+v", tc.fixture, m.ToolCalls)
		}
		if !reflect.DeepEqual(m.ReasoningDetails, tc.details) {
			t.Errorf("%s: reasoning_details %+v", tc.fixture, m.ReasoningDetails)
		}
		if !reflect.DeepEqual(*resp.Usage, tc.usage) {
			t.Errorf("%s: usage %+v %+v %+v", tc.fixture, resp.Usage, resp.Usage.PromptTokensDetails, resp.Usage.CompletionTokensDetails)
		}
	}
}

// A tool-only answer has null content, as at OpenAI.
func TestChatToolOnlyNullContent(t *testing.T) {
	body := `{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[{"type":"tool_use","id":"toolu_1","name":"f","input":{"a":[1, 2]}}],"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":1}}`
	u := newUpstream(t, providertest.Respond(200, "application/json", body))
	resp, err := u.provider().Chat(context.Background(), u.target(), providertest.ChatRequest(t, providertest.SimpleRequest))
	if err != nil {
		t.Fatal(err)
	}
	m := resp.Choices[0].Message
	if !m.Content.IsNull() || len(m.ToolCalls) != 1 || m.ToolCalls[0].Function.Arguments != `{"a":[1,2]}` {
		t.Errorf("message %+v", m)
	}
}

func TestChatBadResponses(t *testing.T) {
	for name, body := range map[string]string{
		"html":        "<html><body>Welcome to nginx!</body></html>",
		"truncated":   `{"id":"msg_1","type":"message","content":[`,
		"no content":  `{"id":"msg_1","type":"message"}`,
		"not message": `{"id":"x","type":"completion","completion":"hi"}`,
		"null":        `null`,
		"wrong types": `{"type":"message","content":"yes"}`,
		"empty":       ``,
	} {
		u := newUpstream(t, providertest.Respond(200, "application/json", body))
		_, err := u.provider().Chat(context.Background(), u.target(), providertest.ChatRequest(t, providertest.SimpleRequest))
		pe := asError(t, err, providers.KindBadResponse)
		if !pe.Retryable() || pe.API().Status != 502 {
			t.Errorf("%s: retryable=%v status=%d", name, pe.Retryable(), pe.API().Status)
		}
	}
}

// An error object with status 200 (a proxy) is still an error.
func TestChatErrorWithStatus200(t *testing.T) {
	u := newUpstream(t, providertest.Respond(200, "application/json", providertest.Fixture(t, "error_529.json")))
	_, err := u.provider().Chat(context.Background(), u.target(), providertest.ChatRequest(t, providertest.SimpleRequest))
	pe := asError(t, err, providers.KindStatus)
	if pe.Status != 503 || pe.Type != "overloaded_error" || pe.Message != "Overloaded" || !pe.Retryable() {
		t.Errorf("error = %+v", pe)
	}
}
