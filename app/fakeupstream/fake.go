// Package fakeupstream is a local HTTP server that speaks the OpenAI wire format,
// for tests and benchmarks. Its behaviour is steered by a directive at the start
// of the last user message, so a test can ask for each failure mode:
//
//	#status 500      answer with that HTTP status and an OpenAI error envelope
//	#garbage         answer 200 with a body that is not JSON
//	#die             stream: send two chunks, then cut the connection
//	#nousage         report no usage (the gateway must count tokens itself)
//	#tool NAME ARGS  answer with a call of tool NAME with JSON ARGS
//	#slow 300ms      wait before answering
//	#cached N        report N cached prompt tokens
//	#drip 100ms      stream: wait that long before each chunk
//	#interleave      stream: two tool calls whose argument fragments interleave
//
// Anything else is answered "Hello! You said: <text>" with usage
// prompt_tokens = number of words in all messages + 10, completion_tokens =
// words in the answer.
package fakeupstream

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Request is what the fake received.
type Request struct {
	Path   string
	Header http.Header
	Body   map[string]any
}

// Server is the fake upstream.
type Server struct {
	*httptest.Server
	mu       sync.Mutex
	requests []Request
	force    int // when set, every chat request is answered with this status
	failN    int // with failOf: fail failN of every failOf chat requests (deterministic)
	failOf   int
	calls    int
	byKey    map[string]int // API key -> status every chat request with it gets
	// cancelled counts requests whose caller went away while they were slow
	// or dripping (the gateway cancelled the upstream call).
	cancelled atomic.Int64
}

// Cancelled is how many requests the gateway abandoned mid-way.
func (s *Server) Cancelled() int { return int(s.cancelled.Load()) }

// KeyStatus makes every chat request authenticated with key fail with status
// (0 restores): a revoked (401) or rate-limited (429) key of a pool.
func (s *Server) KeyStatus(key string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byKey == nil {
		s.byKey = map[string]int{}
	}
	s.byKey[key] = status
}

// apiKey is the credential of a request, whichever header carries it.
func apiKey(r *http.Request) string {
	if k := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "); k != "" {
		return k
	}
	for _, h := range []string{"x-api-key", "api-key", "x-goog-api-key"} {
		if k := r.Header.Get(h); k != "" {
			return k
		}
	}
	return ""
}

// FailRatio makes n of every m chat requests fail with 500 (0, 0 restores).
func (s *Server) FailRatio(n, m int) {
	s.mu.Lock()
	s.failN, s.failOf, s.calls = n, m, 0
	s.mu.Unlock()
}

// ForceStatus makes every chat request fail with status (0 restores normal answers).
func (s *Server) ForceStatus(status int) {
	s.mu.Lock()
	s.force = status
	s.mu.Unlock()
}

// New starts a fake upstream.
func New() *Server {
	s := &Server{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", s.chat)
	mux.HandleFunc("POST /v1/embeddings", s.embeddings)
	mux.HandleFunc("POST /v1/messages", s.withThinking(s.anthropic))
	mux.HandleFunc("POST /openai/deployments/{deployment}/chat/completions", s.chat) // Azure OpenAI
	mux.HandleFunc("POST /v1beta/models/", s.gemini)
	s.vllmRoutes(mux)  // vllm.go: a vLLM server under VLLMPrefix
	s.imageRoutes(mux) // images.go: the OpenAI Images API
	s.Server = httptest.NewServer(mux)
	return s
}

// Requests returns what the fake has received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Last returns the last request received.
func (s *Server) Last() Request {
	r := s.Requests()
	if len(r) == 0 {
		return Request{}
	}
	return r[len(r)-1]
}

func (s *Server) record(r *http.Request) map[string]any {
	var body map[string]any
	_ = json.NewDecoder(r.Body).Decode(&body)
	s.mu.Lock()
	s.requests = append(s.requests, Request{Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
	s.mu.Unlock()
	return body
}

type directive struct {
	name string
	arg  string
	text string // the message without the directive
}

func parseDirective(text string) directive {
	if !strings.HasPrefix(text, "#") {
		return directive{text: text}
	}
	line, rest, _ := strings.Cut(text, "\n")
	name, arg, _ := strings.Cut(strings.TrimPrefix(line, "#"), " ")
	return directive{name: name, arg: arg, text: rest}
}

func lastUserText(body map[string]any) (string, int) {
	msgs, _ := body["messages"].([]any)
	last, words := "", 0
	for _, m := range msgs {
		mm, _ := m.(map[string]any)
		text := contentText(mm["content"])
		words += len(strings.Fields(text))
		if mm["role"] == "user" {
			last = text
		}
	}
	return last, words
}

func contentText(c any) string {
	switch v := c.(type) {
	case string:
		return v
	case []any:
		var parts []string
		for _, p := range v {
			if pm, ok := p.(map[string]any); ok && pm["type"] == "text" {
				s, _ := pm["text"].(string)
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, "\n")
	}
	return ""
}

func writeError(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	typ := "server_error"
	if status < 500 {
		typ = "invalid_request_error"
	}
	fmt.Fprintf(w, `{"error":{"message":"fake upstream error %d","type":%q,"param":null,"code":"fake_%d"}}`, status, typ, status)
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	body := s.record(r)
	s.mu.Lock()
	force := s.force
	if s.failOf > 0 {
		if s.calls%s.failOf < s.failN {
			force = 500
		}
		s.calls++
	}
	if st := s.byKey[apiKey(r)]; st != 0 {
		force = st
		if st == 429 {
			w.Header().Set("Retry-After", "2") // a pool key's rate limit says how long
		}
	}
	s.mu.Unlock()
	if force != 0 {
		writeError(w, force)
		return
	}
	text, words := lastUserText(body)
	d := parseDirective(text)
	if d.name == "slow" {
		if dur, err := time.ParseDuration(d.arg); err == nil {
			select {
			case <-time.After(dur):
			case <-r.Context().Done():
				s.cancelled.Add(1)
				return
			}
		}
	}
	switch d.name {
	case "status":
		code, _ := strconv.Atoi(d.arg)
		writeError(w, code)
		return
	case "garbage":
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte("<html>definitely not json"))
		return
	}
	model, _ := body["model"].(string)
	answer := "Hello! You said: " + strings.TrimSpace(text)
	usage := map[string]any{"prompt_tokens": words + 10, "completion_tokens": len(strings.Fields(answer)),
		"total_tokens": words + 10 + len(strings.Fields(answer))}
	if d.name == "cached" {
		n, _ := strconv.Atoi(d.arg)
		usage["prompt_tokens_details"] = map[string]any{"cached_tokens": n}
	}
	if d.name == "nousage" {
		usage = nil
	}
	var toolCall map[string]any
	if d.name == "tool" {
		name, args, _ := strings.Cut(d.arg, " ")
		toolCall = map[string]any{"id": "call_fake1", "type": "function", "function": map[string]any{"name": name, "arguments": args}}
	}
	if stream, _ := body["stream"].(bool); stream {
		var drip time.Duration
		if d.name == "drip" {
			drip, _ = time.ParseDuration(d.arg)
		}
		s.stream(w, r, model, answer, toolCall, usage, d.name == "die", drip)
		return
	}
	msg := map[string]any{"role": "assistant", "content": answer}
	finish := "stop"
	if toolCall != nil {
		msg = map[string]any{"role": "assistant", "content": nil, "tool_calls": []any{toolCall}}
		finish = "tool_calls"
	}
	resp := map[string]any{"id": "chatcmpl-fake", "object": "chat.completion", "created": time.Now().Unix(), "model": model,
		"choices":            []any{map[string]any{"index": 0, "message": msg, "finish_reason": finish, "logprobs": nil}},
		"system_fingerprint": "fp_fake"}
	if usage != nil {
		resp["usage"] = usage
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

func (s *Server) stream(w http.ResponseWriter, r *http.Request, model, answer string, toolCall, usage map[string]any, die bool, drip time.Duration) {
	w.Header().Set("Content-Type", "text/event-stream")
	fl, _ := w.(http.Flusher)
	created := time.Now().Unix()
	gone := false
	send := func(choices []any, u map[string]any) {
		if drip > 0 {
			select {
			case <-time.After(drip):
			case <-r.Context().Done():
				if !gone {
					gone = true
					s.cancelled.Add(1)
				}
			}
		}
		ch := map[string]any{"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": created, "model": model, "choices": choices}
		if u != nil {
			ch["usage"] = u
		}
		b, _ := json.Marshal(ch)
		fmt.Fprintf(w, "data: %s\n\n", b)
		if fl != nil {
			fl.Flush()
		}
	}
	delta := func(d map[string]any, finish any) []any {
		return []any{map[string]any{"index": 0, "delta": d, "finish_reason": finish}}
	}
	send(delta(map[string]any{"role": "assistant", "content": ""}, nil), nil)
	finish := "stop"
	if strings.HasPrefix(answer, "Hello! You said: #interleave") {
		call := func(i int, extra map[string]any) map[string]any {
			tc := map[string]any{"index": i, "function": map[string]any{"arguments": "{}"}}
			for k, v := range extra {
				tc[k] = v
			}
			return map[string]any{"tool_calls": []any{tc}}
		}
		send(delta(call(0, map[string]any{"id": "call_a", "type": "function", "function": map[string]any{"name": "a", "arguments": ""}}), nil), nil)
		send(delta(call(1, map[string]any{"id": "call_b", "type": "function", "function": map[string]any{"name": "b", "arguments": ""}}), nil), nil)
		send(delta(call(0, nil), nil), nil) // back to the first call: OpenAI allows it, Anthropic's format cannot say it
		send(delta(map[string]any{}, "tool_calls"), nil)
		fmt.Fprint(w, "data: [DONE]\n\n")
		return
	}
	if toolCall != nil {
		fn := toolCall["function"].(map[string]any)
		send(delta(map[string]any{"tool_calls": []any{map[string]any{"index": 0, "id": toolCall["id"], "type": "function",
			"function": map[string]any{"name": fn["name"], "arguments": ""}}}}, nil), nil)
		send(delta(map[string]any{"tool_calls": []any{map[string]any{"index": 0, "function": map[string]any{"arguments": fn["arguments"]}}}}, nil), nil)
		finish = "tool_calls"
	} else {
		for i, word := range strings.Fields(answer) {
			if die && i == 2 {
				if hj, ok := w.(http.Hijacker); ok {
					conn, _, _ := hj.Hijack()
					conn.Close()
				}
				return
			}
			if i > 0 {
				word = " " + word
			}
			send(delta(map[string]any{"content": word}, nil), nil)
		}
	}
	send(delta(map[string]any{}, finish), nil)
	if usage != nil {
		send([]any{}, usage)
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
}

func (s *Server) embeddings(w http.ResponseWriter, r *http.Request) {
	body := s.record(r)
	var inputs []string
	switch v := body["input"].(type) {
	case string:
		inputs = []string{v}
	case []any:
		for _, x := range v {
			str, _ := x.(string)
			inputs = append(inputs, str)
		}
	}
	if len(inputs) > 0 && strings.HasPrefix(inputs[0], "#status ") {
		code, _ := strconv.Atoi(strings.TrimPrefix(inputs[0], "#status "))
		writeError(w, code)
		return
	}
	format, _ := body["encoding_format"].(string)
	var data []any
	tokens := 0
	for i, in := range inputs {
		tokens += len(strings.Fields(in))
		vec := []float32{float32(len(in)), 0.5, -0.25}
		var emb any = vec
		if format == "base64" {
			buf := make([]byte, 4*len(vec))
			for j, f := range vec {
				binary.LittleEndian.PutUint32(buf[4*j:], math.Float32bits(f))
			}
			emb = base64.StdEncoding.EncodeToString(buf)
		}
		data = append(data, map[string]any{"object": "embedding", "index": i, "embedding": emb})
	}
	model, _ := body["model"].(string)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data, "model": model,
		"usage": map[string]any{"prompt_tokens": tokens, "total_tokens": tokens}})
}
