package anthropic

import (
	"encoding/json"
	"strings"

	"github.com/llmgw/gateway/app/ids"
	"github.com/llmgw/gateway/app/schema"
)

// FromChatResponse turns a neutral chat completion into an Anthropic message,
// reported under model (the name the client asked for). Only the first
// choice is used (ToChat never asks for more). Content blocks come in
// Anthropic's order: thinking, text, then tool_use. The thinking blocks are
// those of the message's reasoning_details of Anthropic's format, with their
// signatures and redacted_thinking blocks (an Anthropic upstream's, so the
// client can send them back); without such details, message.reasoning
// becomes one thinking block without a signature, which only Anthropic can
// issue. A tool call whose
// arguments are not a JSON object (a misbehaving upstream) keeps them under
// input._raw_arguments rather than losing them. stop_sequence is always null:
// the neutral schema does not say which sequence matched.
func FromChatResponse(resp *schema.ChatResponse, model string) *MessagesResponse {
	out := &MessagesResponse{
		ID: messageID(resp.ID), Type: "message", Role: "assistant", Model: model,
		Content: []ContentBlock{}, Usage: anthropicUsage(resp.Usage),
	}
	finish := ""
	if len(resp.Choices) > 0 {
		c := &resp.Choices[0]
		finish = c.FinishReason
		m := &c.Message
		if blocks := thinkingBlocks(m.ReasoningDetails, false, false); len(blocks) > 0 {
			out.Content = append(out.Content, blocks...)
		} else if m.Reasoning != "" {
			out.Content = append(out.Content, ContentBlock{Type: "thinking", Thinking: m.Reasoning})
		}
		text := m.Content.String()
		if text == "" && m.Refusal != nil {
			text = *m.Refusal
		}
		if text != "" {
			out.Content = append(out.Content, ContentBlock{Type: "text", Text: text})
		}
		for _, tc := range m.ToolCalls {
			out.Content = append(out.Content, ContentBlock{Type: "tool_use", ID: toolUseID(tc.ID), Name: tc.Function.Name,
				Input: toolInput(tc.Function.Arguments)})
		}
	}
	sr := stopReason(finish)
	out.StopReason = &sr
	return out
}

// messageID keeps an upstream "msg_" id and prefixes any other, so that
// clients see the id shape they expect while the log can still be matched.
func messageID(id string) string {
	switch {
	case id == "":
		return "msg_" + ids.Random(24)
	case strings.HasPrefix(id, "msg_"):
		return id
	}
	return "msg_" + id
}

// toolUseID gives a tool call an id; Anthropic clients echo it back in the
// tool_result, so it must never be empty.
func toolUseID(id string) string {
	if id == "" {
		return "toolu_" + ids.Random(24)
	}
	return id
}

func toolInput(args string) json.RawMessage {
	if in, ok := argumentsObject(args); ok {
		return in
	}
	b, _ := json.Marshal(map[string]string{"_raw_arguments": args})
	return b
}

// stopReason maps an OpenAI finish_reason to Anthropic's stop_reason.
func stopReason(finish string) string {
	switch finish {
	case "length":
		return "max_tokens"
	case "tool_calls", "function_call":
		return "tool_use"
	case "content_filter":
		return "refusal"
	}
	return "end_turn"
}

// anthropicUsage converts neutral usage: Anthropic's input_tokens excludes
// the cache reads and writes that the neutral prompt_tokens includes.
func anthropicUsage(u *schema.Usage) Usage {
	if u == nil {
		return Usage{}
	}
	var cached, written int
	if d := u.PromptTokensDetails; d != nil {
		cached, written = d.CachedTokens, d.CacheWriteTokens
	}
	return Usage{
		InputTokens:              max(u.PromptTokens-cached-written, 0),
		CacheCreationInputTokens: written,
		CacheReadInputTokens:     cached,
		OutputTokens:             u.CompletionTokens,
	}
}
