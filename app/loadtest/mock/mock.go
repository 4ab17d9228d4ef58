// Package mock is the benchmark's upstream: a minimal OpenAI-compatible chat
// completions server with a fixed latency, a fixed number of completion tokens,
// JSON and SSE answers and a reported usage. Responses are hand-written byte
// templates (no reflection, no per-request JSON encoding), so the mock stays far
// cheaper than anything it measures.
package mock

import (
	"bytes"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Config steers every answer of a Handler.
type Config struct {
	// Latency is the wait before answering: the whole answer of a JSON
	// request, the first chunk of a stream (time to first token).
	Latency time.Duration
	// Tokens is the number of completion tokens of a JSON answer.
	Tokens int
	// StreamTokens is the number of content chunks (one token each) of a stream.
	StreamTokens int
	// ChunkDelay is the wait between two content chunks of a stream.
	ChunkDelay time.Duration
}

// Model is the model name the mock reports.
const Model = "gpt-4o-mini"

// Handler serves POST /v1/chat/completions (any other path: 404).
type Handler struct {
	cfg     Config
	content string // the JSON answer's content, Tokens words
	first   []byte // first stream chunk (role and a token)
	chunk   []byte // every further content chunk
	last    []byte // the chunk with finish_reason
}

// New returns a Handler answering with cfg.
func New(cfg Config) *Handler {
	h := &Handler{cfg: cfg, content: words(cfg.Tokens)}
	const pre = `data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"` + Model + `","choices":[{"index":0,"delta":`
	h.first = []byte(pre + `{"role":"assistant","content":"tok "},"finish_reason":null}]}` + "\n\n")
	h.chunk = []byte(pre + `{"content":"tok "},"finish_reason":null}]}` + "\n\n")
	h.last = []byte(pre + `{},"finish_reason":"stop"}]}` + "\n\n")
	return h
}

func words(n int) string {
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("tok")
	}
	return b.String()
}

var bufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions" {
		http.NotFound(w, r)
		return
	}
	buf := bufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufs.Put(buf)
	if _, err := buf.ReadFrom(r.Body); err != nil {
		http.Error(w, "read error", http.StatusBadRequest)
		return
	}
	prompt := PromptTokens(buf.Len())
	stream := IsStream(buf.Bytes())
	if h.cfg.Latency > 0 {
		time.Sleep(h.cfg.Latency)
	}
	buf.Reset() // the body is not needed any more: reuse the buffer for the answer
	if stream {
		h.stream(w, r, prompt, buf)
		return
	}
	b := h.appendJSON(buf.Bytes(), prompt)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
}

// PromptTokens is the prompt size the mock reports for a body of n bytes.
func PromptTokens(n int) int { return n/4 + 1 }

func (h *Handler) appendJSON(b []byte, prompt int) []byte {
	b = append(b, `{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"`+Model+`","choices":[{"index":0,"message":{"role":"assistant","content":"`...)
	b = append(b, h.content...)
	b = append(b, `"},"finish_reason":"stop"}],`...)
	return appendUsage(b, prompt, h.cfg.Tokens)
}

func appendUsage(b []byte, prompt, completion int) []byte {
	b = append(b, `"usage":{"prompt_tokens":`...)
	b = strconv.AppendInt(b, int64(prompt), 10)
	b = append(b, `,"completion_tokens":`...)
	b = strconv.AppendInt(b, int64(completion), 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, int64(prompt+completion), 10)
	return append(b, "}}"...)
}

func (h *Handler) stream(w http.ResponseWriter, r *http.Request, prompt int, buf *bytes.Buffer) {
	fl, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	send := func(b []byte) bool {
		if _, err := w.Write(b); err != nil {
			return false
		}
		if fl != nil {
			fl.Flush()
		}
		return r.Context().Err() == nil
	}
	n := max(h.cfg.StreamTokens, 1)
	for i := 0; i < n; i++ {
		if i > 0 && h.cfg.ChunkDelay > 0 {
			time.Sleep(h.cfg.ChunkDelay)
		}
		c := h.chunk
		if i == 0 {
			c = h.first
		}
		if !send(c) {
			return
		}
	}
	b := append(buf.Bytes(), h.last...)
	b = append(b, `data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"`+Model+`","choices":[],`...)
	b = appendUsage(b, prompt, n)
	b = append(b, "\n\ndata: [DONE]\n\n"...)
	send(b)
}

// IsStream reports whether a chat request body asks for a stream
// ("stream": true at any depth; good enough for the bodies of a benchmark).
func IsStream(body []byte) bool {
	key := []byte(`"stream"`)
	for {
		i := bytes.Index(body, key)
		if i < 0 {
			return false
		}
		body = body[i+len(key):]
		j := 0
		for j < len(body) && (body[j] == ' ' || body[j] == '\t' || body[j] == '\n' || body[j] == '\r' || body[j] == ':') {
			j++
		}
		if bytes.HasPrefix(body[j:], []byte("true")) {
			return true
		}
	}
}
