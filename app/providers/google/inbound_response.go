package google

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/llmgw/gateway/app/schema"
)

// FromChatResponse translates a neutral completion into the answer of a
// native generateContent call. Reasoning text becomes a thought part ahead of
// the answer; tool calls become functionCall parts carrying the tool call id,
// which Google's SDKs echo back in functionResponse.id.
func FromChatResponse(resp *schema.ChatResponse) *GenerateResponse {
	out := &GenerateResponse{
		ModelVersion:  resp.Model,
		ResponseID:    resp.ID,
		UsageMetadata: usageMetadataFrom(resp.Usage),
	}
	for _, c := range resp.Choices {
		text := c.Message.Content.String()
		if text == "" && c.Message.Refusal != nil {
			text = *c.Message.Refusal
		}
		parts := answerParts(c.Message.Reasoning, text)
		for _, tc := range c.Message.ToolCalls {
			parts = append(parts, functionCallPart(tc.ID, tc.Function.Name, tc.Function.Arguments))
		}
		cand := Candidate{Index: c.Index, FinishReason: geminiFinishReason(c.FinishReason)}
		if len(parts) > 0 {
			cand.Content = &Content{Role: "model", Parts: parts}
		}
		out.Candidates = append(out.Candidates, cand)
	}
	return out
}

// answerParts is the thought part (if any) then the text part (if any):
// Gemini never sends an empty text part.
func answerParts(reasoning, text string) []Part {
	var parts []Part
	if reasoning != "" {
		parts = append(parts, Part{Text: reasoning, Thought: true})
	}
	if text != "" {
		parts = append(parts, Part{Text: text})
	}
	return parts
}

// functionCallPart builds a functionCall. Gemini's args must be an object:
// arguments that are not a JSON object (a model's malformed output) are
// passed as {"arguments": "<text>"} rather than lost.
func functionCallPart(id, name, arguments string) Part {
	args := bytes.TrimSpace([]byte(arguments))
	switch {
	case len(args) == 0:
		args = []byte("{}")
	case args[0] != '{' || !json.Valid(args):
		args, _ = json.Marshal(map[string]string{"arguments": arguments})
	default:
		args = compactJSON(args)
	}
	return Part{FunctionCall: &FunctionCall{ID: id, Name: name, Args: args}}
}

// geminiFinishReason maps an OpenAI finish_reason back: a finished tool call
// is STOP (Gemini has no tool_calls reason); unknown reasons are OTHER.
func geminiFinishReason(r string) string {
	switch r {
	case "stop", "tool_calls", "function_call", "":
		return "STOP"
	case "length":
		return "MAX_TOKENS"
	case "content_filter":
		return "SAFETY"
	}
	return "OTHER"
}

// usageMetadataFrom is the reverse of usageFrom: thinking tokens leave
// candidatesTokenCount for thoughtsTokenCount; cached tokens stay inside
// promptTokenCount.
func usageMetadataFrom(u *schema.Usage) *UsageMetadata {
	if u == nil {
		return nil
	}
	m := &UsageMetadata{
		PromptTokenCount:     u.PromptTokens,
		CandidatesTokenCount: u.CompletionTokens,
		TotalTokenCount:      u.TotalTokens,
	}
	if d := u.PromptTokensDetails; d != nil {
		m.CachedContentTokenCount = d.CachedTokens
	}
	if d := u.CompletionTokensDetails; d != nil && d.ReasoningTokens > 0 {
		m.ThoughtsTokenCount = min(d.ReasoningTokens, u.CompletionTokens)
		m.CandidatesTokenCount -= m.ThoughtsTokenCount
	}
	if m.TotalTokenCount == 0 {
		m.TotalTokenCount = u.PromptTokens + u.CompletionTokens
	}
	return m
}

// ErrorBody renders an error the way Gemini's API does:
//
//	{"error":{"code":429,"message":"...","status":"RESOURCE_EXHAUSTED"}}
//
// The status name follows google/rpc/code.proto's HTTP mapping; Google's SDKs
// read code and message from it.
func ErrorBody(status int, message string) []byte {
	if message == "" {
		message = http.StatusText(status)
	}
	b, _ := marshalNoEscape(map[string]any{"error": map[string]any{
		"code": status, "message": message, "status": statusName(status),
	}})
	return b
}

func statusName(status int) string {
	switch status {
	case 400:
		return "INVALID_ARGUMENT"
	case 401:
		return "UNAUTHENTICATED"
	case 403:
		return "PERMISSION_DENIED"
	case 404:
		return "NOT_FOUND"
	case 409:
		return "ABORTED"
	case 429:
		return "RESOURCE_EXHAUSTED"
	case 499:
		return "CANCELLED"
	case 500:
		return "INTERNAL"
	case 501:
		return "UNIMPLEMENTED"
	case 502, 503:
		// A failed upstream is, to the client, a service that is
		// temporarily unavailable (retryable).
		return "UNAVAILABLE"
	case 504:
		return "DEADLINE_EXCEEDED"
	}
	switch {
	case status >= 500:
		return "INTERNAL"
	case status == 408:
		return "DEADLINE_EXCEEDED"
	case status >= 400:
		return "INVALID_ARGUMENT"
	}
	return "UNKNOWN"
}

// marshalNoEscape encodes without escaping <, > and &: model text is passed
// as written.
func marshalNoEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
