package fakeupstream

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// The Anthropic side of the fake also answers, for the directive
//
//	#thinking NAME ARGS
//
// with extended thinking, as Claude does in a tool loop:
//
//   - while the last turn is not a tool result: a thinking block (signed
//     ThinkingSignature), a redacted_thinking block (RedactedThinkingData)
//     and a call of tool NAME with JSON ARGS (stop_reason tool_use);
//   - after the tool result: a thinking block (signed FinalThinkingSignature)
//     and the text "Done: <the tool's result>".
//
// Streams send the thinking in two thinking_delta pieces followed by a
// signature_delta, as Anthropic does.

// The signatures and redacted data the fake issues.
const (
	ThinkingSignature      = "EqQBCkYIBxgCKkBfakeSignature+thinking/one=="
	FinalThinkingSignature = "EqQBCkYIBxgCKkBfakeSignature+thinking/two=="
	RedactedThinkingData   = "EmwKAhgBEgyFakeRedactedThinking+data/=="
)

// withThinking answers #thinking requests and passes the others to next.
func (s *Server) withThinking(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(raw))
		var peek map[string]any
		_ = json.Unmarshal(raw, &peek)
		msgs, _ := peek["messages"].([]any)
		last := ""
		for _, m := range msgs {
			mm, _ := m.(map[string]any)
			if t := anthropicText(mm["content"]); mm["role"] == "user" && t != "" {
				last = t
			}
		}
		d := parseDirective(last)
		if d.name != "thinking" {
			next(w, r)
			return
		}
		body := s.record(r)
		s.anthropicThinking(w, body, d, toolResultText(msgs))
	}
}

// toolResultText is the text of the tool_result blocks of the last turn, if
// it is a user turn with some ("": none).
func toolResultText(msgs []any) string {
	if len(msgs) == 0 {
		return ""
	}
	m, _ := msgs[len(msgs)-1].(map[string]any)
	blocks, _ := m["content"].([]any)
	if m["role"] != "user" {
		return ""
	}
	var out []string
	for _, b := range blocks {
		bb, _ := b.(map[string]any)
		if bb["type"] != "tool_result" {
			continue
		}
		switch c := bb["content"].(type) {
		case string:
			out = append(out, c)
		default:
			out = append(out, anthropicText(c))
		}
	}
	if len(out) == 0 && len(blocks) > 0 {
		if bb, _ := blocks[0].(map[string]any); bb["type"] == "tool_result" {
			return "(empty)"
		}
	}
	return strings.Join(out, "\n")
}

func (s *Server) anthropicThinking(w http.ResponseWriter, body map[string]any, d directive, result string) {
	model, _ := body["model"].(string)
	var content []map[string]any
	stop := "tool_use"
	if result == "" {
		name, args, _ := strings.Cut(d.arg, " ")
		var input any
		if json.Unmarshal([]byte(args), &input) != nil {
			input = map[string]any{}
		}
		content = []map[string]any{
			{"type": "thinking", "thinking": "I should call " + name + ". Let me do that.", "signature": ThinkingSignature},
			{"type": "redacted_thinking", "data": RedactedThinkingData},
			{"type": "tool_use", "id": "toolu_fakethinking1", "name": name, "input": input},
		}
	} else {
		content = []map[string]any{
			{"type": "thinking", "thinking": "The tool answered. I can reply.", "signature": FinalThinkingSignature},
			{"type": "text", "text": "Done: " + result},
		}
		stop = "end_turn"
	}
	usage := map[string]any{"input_tokens": 50, "output_tokens": 40, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0}
	if stream, _ := body["stream"].(bool); !stream {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"id": "msg_fakethinking", "type": "message", "role": "assistant", "model": model,
			"content": content, "stop_reason": stop, "stop_sequence": nil, "usage": usage})
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	fl, _ := w.(http.Flusher)
	event := func(name string, data map[string]any) {
		data["type"] = name
		b, _ := json.Marshal(data)
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, b)
		if fl != nil {
			fl.Flush()
		}
	}
	event("message_start", map[string]any{"message": map[string]any{"id": "msg_fakethinking", "type": "message", "role": "assistant",
		"model": model, "content": []any{}, "stop_reason": nil, "stop_sequence": nil,
		"usage": map[string]any{"input_tokens": 50, "output_tokens": 1, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0}}})
	for i, b := range content {
		delta := func(d map[string]any) { event("content_block_delta", map[string]any{"index": i, "delta": d}) }
		switch b["type"] {
		case "thinking":
			event("content_block_start", map[string]any{"index": i, "content_block": map[string]any{"type": "thinking", "thinking": "", "signature": ""}})
			text := b["thinking"].(string)
			half := len(text) / 2
			delta(map[string]any{"type": "thinking_delta", "thinking": text[:half]})
			delta(map[string]any{"type": "thinking_delta", "thinking": text[half:]})
			delta(map[string]any{"type": "signature_delta", "signature": b["signature"]})
		case "redacted_thinking":
			event("content_block_start", map[string]any{"index": i, "content_block": b})
		case "tool_use":
			event("content_block_start", map[string]any{"index": i, "content_block": map[string]any{"type": "tool_use", "id": b["id"], "name": b["name"], "input": map[string]any{}}})
			args, _ := json.Marshal(b["input"])
			delta(map[string]any{"type": "input_json_delta", "partial_json": string(args)})
		case "text":
			event("content_block_start", map[string]any{"index": i, "content_block": map[string]any{"type": "text", "text": ""}})
			delta(map[string]any{"type": "text_delta", "text": b["text"]})
		}
		event("content_block_stop", map[string]any{"index": i})
	}
	event("message_delta", map[string]any{"delta": map[string]any{"stop_reason": stop, "stop_sequence": nil},
		"usage": map[string]any{"output_tokens": usage["output_tokens"]}})
	event("message_stop", map[string]any{})
}
