package fakeupstream

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// The same fake also speaks Anthropic's Messages API (POST /v1/messages) and
// the Gemini API (POST /v1beta/models/{model}:generateContent and
// :streamGenerateContent?alt=sse), with the same directives.

func anthropicText(content any) string {
	switch v := content.(type) {
	case string:
		return v
	case []any:
		var parts []string
		for _, b := range v {
			if m, ok := b.(map[string]any); ok && m["type"] == "text" {
				s, _ := m["text"].(string)
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, "\n")
	}
	return ""
}

func (s *Server) anthropic(w http.ResponseWriter, r *http.Request) {
	body := s.record(r)
	msgs, _ := body["messages"].([]any)
	last, words := "", 0
	for _, m := range msgs {
		mm, _ := m.(map[string]any)
		t := anthropicText(mm["content"])
		words += len(strings.Fields(t))
		if mm["role"] == "user" && t != "" {
			last = t
		}
	}
	d := parseDirective(last)
	if d.name == "status" {
		code, _ := strconv.Atoi(d.arg)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"type":"error","error":{"type":"api_error","message":"fake anthropic error %d"}}`, code)
		return
	}
	model, _ := body["model"].(string)
	answer := "Hello! You said: " + strings.TrimSpace(d.text)
	if d.name == "" {
		answer = "Hello! You said: " + strings.TrimSpace(last)
	}
	cached := 0
	if d.name == "cached" {
		cached, _ = strconv.Atoi(d.arg)
	}
	usage := map[string]any{"input_tokens": words + 10, "output_tokens": len(strings.Fields(answer)),
		"cache_read_input_tokens": cached, "cache_creation_input_tokens": 0}
	var tool map[string]any
	if d.name == "tool" {
		name, args, _ := strings.Cut(d.arg, " ")
		var input any
		_ = json.Unmarshal([]byte(args), &input)
		tool = map[string]any{"type": "tool_use", "id": "toolu_fake1", "name": name, "input": input}
	}
	if stream, _ := body["stream"].(bool); stream {
		s.anthropicStream(w, model, answer, tool, usage)
		return
	}
	content := []any{map[string]any{"type": "text", "text": answer}}
	stop := "end_turn"
	if tool != nil {
		content, stop = []any{tool}, "tool_use"
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"id": "msg_fake", "type": "message", "role": "assistant", "model": model,
		"content": content, "stop_reason": stop, "stop_sequence": nil, "usage": usage})
}

func (s *Server) anthropicStream(w http.ResponseWriter, model, answer string, tool, usage map[string]any) {
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
	event("message_start", map[string]any{"message": map[string]any{"id": "msg_fake", "type": "message", "role": "assistant", "model": model,
		"content": []any{}, "stop_reason": nil, "stop_sequence": nil,
		"usage": map[string]any{"input_tokens": usage["input_tokens"], "output_tokens": 1, "cache_read_input_tokens": usage["cache_read_input_tokens"], "cache_creation_input_tokens": 0}}})
	event("ping", map[string]any{})
	stop := "end_turn"
	if tool != nil {
		args, _ := json.Marshal(tool["input"])
		event("content_block_start", map[string]any{"index": 0, "content_block": map[string]any{"type": "tool_use", "id": tool["id"], "name": tool["name"], "input": map[string]any{}}})
		half := len(args) / 2
		for _, part := range []string{string(args[:half]), string(args[half:])} {
			event("content_block_delta", map[string]any{"index": 0, "delta": map[string]any{"type": "input_json_delta", "partial_json": part}})
		}
		stop = "tool_use"
	} else {
		event("content_block_start", map[string]any{"index": 0, "content_block": map[string]any{"type": "text", "text": ""}})
		for i, word := range strings.Fields(answer) {
			if i > 0 {
				word = " " + word
			}
			event("content_block_delta", map[string]any{"index": 0, "delta": map[string]any{"type": "text_delta", "text": word}})
		}
	}
	event("content_block_stop", map[string]any{"index": 0})
	event("message_delta", map[string]any{"delta": map[string]any{"stop_reason": stop, "stop_sequence": nil},
		"usage": map[string]any{"output_tokens": usage["output_tokens"]}})
	event("message_stop", map[string]any{})
}

func (s *Server) gemini(w http.ResponseWriter, r *http.Request) {
	body := s.record(r)
	path := strings.TrimPrefix(r.URL.Path, "/v1beta/models/")
	model, method, _ := strings.Cut(path, ":")
	contents, _ := body["contents"].([]any)
	last, words := "", 0
	for _, c := range contents {
		cm, _ := c.(map[string]any)
		parts, _ := cm["parts"].([]any)
		for _, p := range parts {
			if pm, ok := p.(map[string]any); ok {
				if t, ok := pm["text"].(string); ok {
					words += len(strings.Fields(t))
					if cm["role"] == "user" {
						last = t
					}
				}
			}
		}
	}
	d := parseDirective(last)
	if d.name == "status" {
		code, _ := strconv.Atoi(d.arg)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"error":{"code":%d,"message":"fake gemini error %d","status":"INTERNAL"}}`, code, code)
		return
	}
	answer := "Hello! You said: " + strings.TrimSpace(last)
	usage := map[string]any{"promptTokenCount": words + 10, "candidatesTokenCount": len(strings.Fields(answer)),
		"totalTokenCount": words + 10 + len(strings.Fields(answer))}
	candidate := func(text string, finish bool) map[string]any {
		c := map[string]any{"content": map[string]any{"role": "model", "parts": []any{map[string]any{"text": text}}}, "index": 0}
		if finish {
			c["finishReason"] = "STOP"
		}
		return c
	}
	w.Header().Set("Content-Type", "application/json")
	if method != "streamGenerateContent" {
		_ = json.NewEncoder(w).Encode(map[string]any{"candidates": []any{candidate(answer, true)}, "usageMetadata": usage,
			"modelVersion": model, "responseId": "resp_fake"})
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	fl, _ := w.(http.Flusher)
	fields := strings.Fields(answer)
	for i, word := range fields {
		if i > 0 {
			word = " " + word
		}
		ev := map[string]any{"candidates": []any{candidate(word, i == len(fields)-1)}, "modelVersion": model, "responseId": "resp_fake"}
		if i == len(fields)-1 {
			ev["usageMetadata"] = usage
		}
		b, _ := json.Marshal(ev)
		fmt.Fprintf(w, "data: %s\r\n\r\n", b)
		if fl != nil {
			fl.Flush()
		}
	}
}
