package odock

import (
	"encoding/json"
	"strings"

	"github.com/llmgw/gateway/app/schema"
)

// FromChat turns a neutral chat completion into Odock's response. provider
// is the gateway provider that answered (the X-LLMGateway-Used-Provider the
// gateway sets); when empty it is taken from the model's prefix, since the
// gateway names a served model "provider/model". The response reports the
// provider under its Odock name (OdockProvider) and the model without the
// provider prefix.
//
// Only the first choice is used. content is the answer's text; content_blocks
// are, in order, a thinking block (message.reasoning), a text block and one
// tool_use block per tool call, whose input is the parsed arguments object;
// tool_calls repeat the calls with their exact arguments text ("{}" when
// empty). A refusal
// becomes the text, with stop_reason "refusal". input_tokens and
// output_tokens are the usage's prompt and completion tokens;
// provider_usage is the whole usage object (with the gateway's cost) and
// provider_request_id the upstream response id.
func FromChat(resp *schema.ChatResponse, provider string) *Response {
	if resp == nil {
		resp = &schema.ChatResponse{}
	}
	prov, model := splitModel(resp.Model, provider)
	out := &Response{
		Provider:          OdockProvider(prov),
		Model:             model,
		ContentBlocks:     []ContentBlock{},
		ToolCalls:         []ToolCall{},
		ProviderUsage:     resp.Usage,
		ProviderRequestID: resp.ID,
	}
	if u := resp.Usage; u != nil {
		out.InputTokens, out.OutputTokens = u.PromptTokens, u.CompletionTokens
	}
	if len(resp.Choices) == 0 {
		return out
	}
	c := &resp.Choices[0]
	for i := range resp.Choices {
		if resp.Choices[i].Index == 0 {
			c = &resp.Choices[i]
			break
		}
	}
	fill(out, &c.Message, c.FinishReason)
	return out
}

// fill sets the content fields of out from an assistant message.
func fill(out *Response, m *schema.Message, finish string) {
	if m.Reasoning != "" {
		out.ContentBlocks = append(out.ContentBlocks, ContentBlock{Type: BlockThinking, Thinking: m.Reasoning})
	}
	text := m.Content.String()
	refused := false
	if text == "" && m.Refusal != nil && *m.Refusal != "" {
		text, refused = *m.Refusal, true
	}
	if text != "" {
		out.Content = text
		out.ContentBlocks = append(out.ContentBlocks, ContentBlock{Type: BlockText, Text: text})
	}
	for _, tc := range m.ToolCalls {
		out.ContentBlocks = append(out.ContentBlocks, ContentBlock{Type: BlockToolUse, ID: tc.ID,
			Name: tc.Function.Name, Input: toolInput(tc.Function.Arguments)})
		args := tc.Function.Arguments
		if strings.TrimSpace(args) == "" {
			args = "{}"
		}
		out.ToolCalls = append(out.ToolCalls, ToolCall{ID: tc.ID, Type: "function", Name: tc.Function.Name, Arguments: args})
	}
	out.StopReason = StopReason(finish)
	switch {
	case refused:
		out.StopReason = StopRefusal
	case len(m.ToolCalls) > 0 && (out.StopReason == StopEndTurn || out.StopReason == ""):
		// Some compatible servers say "stop" after tool calls.
		out.StopReason = StopToolUse
	}
}

// StopReason maps an OpenAI finish_reason to Odock's stop reason: stop ->
// end_turn, length -> max_tokens, tool_calls/function_call -> tool_use,
// content_filter -> content_filter; "" stays "" and any other value passes
// through.
func StopReason(finish string) string {
	switch finish {
	case "stop":
		return StopEndTurn
	case "length":
		return StopMaxTokens
	case "tool_calls", "function_call":
		return StopToolUse
	case "content_filter":
		return StopContentFilter
	}
	return finish
}

// toolInput is a tool call's arguments as a JSON object, so a client can
// replay the block: the arguments when they are a JSON object, {} when empty,
// else {"_raw_arguments": text} (as the /v1/messages endpoint does; the
// exact text is in tool_calls[].arguments).
func toolInput(args string) json.RawMessage {
	if strings.TrimSpace(args) == "" {
		return json.RawMessage("{}")
	}
	if json.Valid([]byte(args)) && kind(json.RawMessage(args)) == "object" {
		return compact(json.RawMessage(args))
	}
	b, _ := json.Marshal(map[string]string{"_raw_arguments": args})
	return b
}

// splitModel returns the provider and the model name without the provider
// prefix. With provider empty, the prefix before the first slash is the
// provider (the gateway's served-model naming).
func splitModel(served, provider string) (string, string) {
	if provider == "" {
		if p, rest, ok := strings.Cut(served, "/"); ok && p != "" && rest != "" {
			return p, rest
		}
		return "", served
	}
	for _, p := range []string{provider, OdockProvider(provider), GatewayProvider(provider)} {
		if rest, ok := strings.CutPrefix(served, p+"/"); ok && rest != "" {
			return provider, rest
		}
	}
	return provider, served
}
