package anthropic

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"

	"github.com/llmgw/gateway/app/schema"
)

// responseEnvelope decodes a Messages answer while noticing an error object
// sent with status 200 (proxies do that; Anthropic itself does not).
type responseEnvelope struct {
	MessagesResponse
	Error json.RawMessage `json:"error"`
}

// decodeResponse turns an Anthropic message into a chat completion.
func decodeResponse(provider string, b []byte, pl *plan) (*schema.ChatResponse, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return nil, badResponse(provider, "invalid message JSON", nil)
	}
	var env responseEnvelope
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, badResponse(provider, "invalid message JSON", err)
	}
	if env.Type == "error" || !isNull(env.Error) {
		return nil, payloadError(provider, b)
	}
	if env.Type != "message" || env.Content == nil {
		return nil, badResponse(provider, "answer is not a message", nil)
	}
	m := &env.MessagesResponse

	msg := schema.Message{Role: "assistant"}
	var text, reasoning strings.Builder
	var details []schema.ReasoningDetail
	hasText := false
	for _, blk := range m.Content {
		switch blk.Type {
		case "text":
			text.WriteString(blk.Text)
			hasText = true
		case "thinking", "redacted_thinking":
			// The text is the reasoning; the block with its signature (or
			// the encrypted data) is a reasoning_details item for the
			// client to send back.
			reasoning.WriteString(blk.Thinking)
			d, _ := reasoningDetail(len(details), &blk)
			details = append(details, d)
		case "tool_use":
			args := compactJSON(blk.Input)
			if pl.jsonTool != "" && blk.Name == pl.jsonTool {
				// The forced json_schema tool: its input is the answer.
				text.WriteString(args)
				hasText = true
				continue
			}
			msg.ToolCalls = append(msg.ToolCalls, schema.ToolCall{
				ID: blk.ID, Type: "function",
				Function: schema.ToolCallFunction{Name: blk.Name, Arguments: args},
			})
		}
		// Server-tool blocks (never requested) have no chat completion
		// equivalent.
	}
	// OpenAI sends null content with tool calls and a string otherwise.
	if hasText || len(msg.ToolCalls) == 0 {
		msg.Content = schema.TextContent(text.String())
	}
	if !pl.excludeReasoning {
		msg.Reasoning, msg.ReasoningDetails = reasoning.String(), details
	}
	return &schema.ChatResponse{
		ID:      m.ID,
		Object:  "chat.completion",
		Created: time.Now().Unix(),
		Model:   m.Model,
		Choices: []schema.Choice{{Index: 0, Message: msg, FinishReason: finishReason(deref(m.StopReason), pl)}},
		Usage:   chatUsage(&m.Usage),
	}, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// compactJSON renders tool input as the arguments string; input that is not
// valid JSON (never sent by Anthropic) is passed on as is.
func compactJSON(raw json.RawMessage) string {
	if isNull(raw) {
		return "{}"
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw)
	}
	return b.String()
}

// finishReason maps a stop_reason. pause_turn only occurs with server tools,
// which the adapter never sends; it and unknown reasons read as "stop".
func finishReason(stop string, pl *plan) string {
	switch stop {
	case "max_tokens", "model_context_window_exceeded":
		return "length"
	case "tool_use":
		if pl != nil && pl.jsonTool != "" {
			return "stop"
		}
		return "tool_calls"
	case "refusal":
		return "content_filter"
	}
	return "stop"
}

// chatUsage converts Anthropic usage. The gateway reports prompt tokens the
// OpenAI way: cache reads and writes are included in prompt_tokens and broken
// out in the details. Anthropic's output_tokens includes thinking; newer API
// versions break thinking out, which becomes reasoning_tokens.
func chatUsage(u *Usage) *schema.Usage {
	prompt := u.InputTokens + u.CacheReadInputTokens + u.CacheCreationInputTokens
	out := &schema.Usage{
		PromptTokens:     prompt,
		CompletionTokens: u.OutputTokens,
		TotalTokens:      prompt + u.OutputTokens,
		PromptTokensDetails: &schema.PromptTokensDetails{
			CachedTokens:     u.CacheReadInputTokens,
			CacheWriteTokens: u.CacheCreationInputTokens,
		},
		CompletionTokensDetails: &schema.CompletionTokensDetails{},
	}
	if u.OutputTokensDetails != nil {
		out.CompletionTokensDetails.ReasoningTokens = u.OutputTokensDetails.ThinkingTokens
	}
	return out
}
