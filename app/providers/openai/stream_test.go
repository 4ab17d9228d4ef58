package openai

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmgw/gateway/app/providers"
	"github.com/llmgw/gateway/app/providers/providertest"
	"github.com/llmgw/gateway/app/schema"
)

func startStream(t *testing.T, u *upstream) providers.ChatStream {
	t.Helper()
	s, err := New(u.Client()).ChatStream(context.Background(), u.target(), providertest.ChatRequest(t, providertest.SimpleRequest))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// withKeepAlives inserts SSE comments between events, as proxies and some
// upstreams do while the model thinks.
func withKeepAlives(s string) string {
	return ": OPENROUTER PROCESSING\n\n" + strings.ReplaceAll(s, "\n\ndata:", "\n\n: keep-alive\n\n:\n\ndata:")
}

func TestStream(t *testing.T) {
	content := providertest.Fixture(t, "stream_content.sse")
	tools := providertest.Fixture(t, "stream_tool_calls.sse")
	wantTools := []schema.ToolCall{
		{ID: "call_Q7rV2kHc9mXbN4tLpZ1wYs8e", Type: "function", Function: schema.ToolCallFunction{Name: "get_weather", Arguments: `{"city":"Paris","unit":"celsius"}`}},
		{ID: "call_J3nT8fRw0qLx5vBkM2cHd6yA", Type: "function", Function: schema.ToolCallFunction{Name: "get_time", Arguments: `{"timezone":"Europe/Paris"}`}},
	}
	variants := map[string]func(string) string{
		"as sent":     func(s string) string { return s },
		"CRLF":        providertest.CRLF,
		"keep-alives": withKeepAlives,
		"no space":    func(s string) string { return strings.ReplaceAll(s, "data: ", "data:") },
		"event field": func(s string) string { return strings.ReplaceAll(s, "data: ", "event: message\ndata: ") },
	}
	for vname, variant := range variants {
		for _, size := range []int{1 << 20, 7, 1} {
			name := fmt.Sprintf("%s/%d", vname, size)

			u := newUpstream(t, providertest.SSEHandler(variant(content), size))
			chunks, err := providertest.ReadStream(startStream(t, u))
			if err != io.EOF {
				t.Fatalf("%s: content stream err = %v", name, err)
			}
			a := assemble(t, chunks)
			if a.chunks != 7 || a.role != "assistant" || a.content != "Bonjour le monde ✨ !" || a.finish != "stop" ||
				a.usage == nil || a.usage.TotalTokens != 27 || a.usage.PromptTokens != 21 {
				t.Errorf("%s: content stream = %+v", name, a)
			}
			if last := chunks[len(chunks)-1]; last.Choices == nil || len(last.Choices) != 0 {
				t.Errorf("%s: usage chunk choices = %#v, want []", name, last.Choices)
			}

			u = newUpstream(t, providertest.SSEHandler(variant(tools), size))
			chunks, err = providertest.ReadStream(startStream(t, u))
			if err != io.EOF {
				t.Fatalf("%s: tool stream err = %v", name, err)
			}
			a = assemble(t, chunks)
			if a.finish != "tool_calls" || a.content != "" || !reflect.DeepEqual(a.toolCalls, wantTools) ||
				a.usage == nil || a.usage.PromptTokensDetails == nil || a.usage.PromptTokensDetails.CachedTokens != 1152 {
				t.Errorf("%s: tool stream = %+v", name, a)
			}
		}
	}
}

func TestStreamLongLine(t *testing.T) {
	long := strings.Repeat("ab", 100<<10) // 200 KiB in one data line
	body := `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"` + long + `"},"finish_reason":null}]}` + "\n\n" +
		`data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\n" +
		"data: [DONE]\n\n"
	u := newUpstream(t, providertest.SSEHandler(body, 32<<10))
	chunks, err := providertest.ReadStream(startStream(t, u))
	if err != io.EOF || len(chunks) != 2 || *chunks[0].Choices[0].Delta.Content != long {
		t.Fatalf("chunks=%d err=%v", len(chunks), err)
	}
}

// finishBody is a complete answer without the [DONE] marker.
const finishBody = `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]}` + "\n\n" +
	`data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\n"

const partialBody = `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]}` + "\n\n"

// hijacked writes a raw chunked HTTP/1.1 response and then drops the
// connection without the terminating chunk: the body is cut mid-stream.
func hijacked(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			panic(err)
		}
		defer conn.Close()
		fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n", len(body), body)
		buf.Flush()
	}
}

func TestStreamEnd(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		wantErr bool
	}{
		{"finished, body ends without [DONE]", providertest.SSEHandler(finishBody, 1<<20), false},
		{"finished, connection dropped", hijacked(finishBody), false},
		{"finished, last line cut", providertest.SSEHandler(finishBody+"data: [DO", 1<<20), false},
		{"unfinished, body ends", providertest.SSEHandler(partialBody, 1<<20), true},
		{"unfinished, connection dropped", hijacked(partialBody), true},
		{"unfinished, chunk cut mid-line", hijacked(partialBody + `data: {"id":"c","obj`), true},
		{"empty body", providertest.SSEHandler("", 1), true},
		{"only keep-alives", providertest.SSEHandler(": ping\n\n: ping\n\n", 1), true},
	}
	for _, tc := range tests {
		u := newUpstream(t, tc.handler)
		s := startStream(t, u)
		_, err := providertest.ReadStream(s)
		if !tc.wantErr {
			if err != io.EOF {
				t.Errorf("%s: err = %v, want EOF", tc.name, err)
			}
			continue
		}
		pe := asError(t, err, providers.KindConnection)
		if pe.Message != "stream ended unexpectedly" || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%s: error = %+v", tc.name, pe)
		}
		// The result is sticky, and Close is idempotent.
		if _, err2 := s.Recv(); err2 != err {
			t.Errorf("%s: second Recv = %v", tc.name, err2)
		}
		s.Close()
		s.Close()
	}
}

// TestStreamReset: a TCP reset in the middle of the body.
func TestStreamReset(t *testing.T) {
	proceed := make(chan struct{})
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		providertest.SSEHandler(partialBody, 1<<20)(w, r)
		<-proceed
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.(*net.TCPConn).SetLinger(0) // close with RST
		conn.Close()
	})
	s := startStream(t, u)
	if _, err := s.Recv(); err != nil {
		t.Fatal(err)
	}
	close(proceed)
	_, err := s.Recv()
	asError(t, err, providers.KindConnection)
}

func TestStreamErrorPayloads(t *testing.T) {
	tests := []struct {
		name, event          string
		status               int
		message, code, etype string
	}{
		{"numeric code", `data: {"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":500}}`, 500, "The server had an error while processing your request.", "", "server_error"},
		{"string code", `data: {"error":{"message":"Rate limit exceeded","type":"requests","param":null,"code":"rate_limit_exceeded"}}`, 502, "Rate limit exceeded", "rate_limit_exceeded", "requests"},
		{"4xx code", `data: {"error":{"message":"Context length exceeded","code":400}}`, 400, "Context length exceeded", "", ""},
		{"code out of range", `data: {"error":{"message":"x","code":200}}`, 502, "x", "", ""},
		{"null code", `data: {"error":{"message":"overloaded","type":"overloaded_error","code":null}}`, 502, "overloaded", "", "overloaded_error"},
		{"error string", `data: {"error":"upstream exploded"}`, 502, "upstream exploded", "", ""},
		{"event: error", "event: error\ndata: {\"message\":\"Overloaded\",\"type\":\"overloaded_error\"}", 502, "Overloaded", "", "overloaded_error"},
		{"event: error, text", "event: error\ndata: boom", 502, "boom", "", ""},
		{"vLLM object error", `data: {"object":"error","message":"bad things","type":"BadRequestError","param":null,"code":400}`, 400, "bad things", "", "BadRequestError"},
	}
	for _, tc := range tests {
		u := newUpstream(t, providertest.SSEHandler(partialBody+tc.event+"\n\n", 1<<20))
		s := startStream(t, u)
		chunks, err := providertest.ReadStream(s)
		if len(chunks) != 1 {
			t.Errorf("%s: %d chunks before the error", tc.name, len(chunks))
		}
		pe := asError(t, err, providers.KindStatus)
		if pe.Status != tc.status || pe.Message != tc.message || pe.Code != tc.code || pe.Type != tc.etype {
			t.Errorf("%s: error = %+v", tc.name, pe)
		}
	}
}

func TestStreamBadChunk(t *testing.T) {
	for _, ev := range []string{`data: {"id":"c",`, `data: <html>`, `data: [1,2]`, `data: {"choices":"x"}`, `data: null`, `data: "text"`} {
		u := newUpstream(t, providertest.SSEHandler(partialBody+ev+"\n\n", 1<<20))
		_, err := providertest.ReadStream(startStream(t, u))
		asError(t, err, providers.KindBadResponse)
	}
}

// TestStreamUnknownEvents: named events other than message/error are not chunks.
func TestStreamUnknownEvents(t *testing.T) {
	u := newUpstream(t, providertest.SSEHandler("event: ping\ndata: {}\n\n"+finishBody+"data: [DONE]\n\n", 1<<20))
	chunks, err := providertest.ReadStream(startStream(t, u))
	if err != io.EOF || len(chunks) != 2 {
		t.Fatalf("chunks=%d err=%v", len(chunks), err)
	}
}

// TestStreamJSONAnswer: an upstream answering a stream request with JSON.
func TestStreamJSONAnswer(t *testing.T) {
	u := newUpstream(t, providertest.Respond(200, "application/json; charset=utf-8", `{"error":{"message":"quota exceeded","type":"insufficient_quota","code":"insufficient_quota"}}`))
	_, err := New(u.Client()).ChatStream(context.Background(), u.target(), providertest.ChatRequest(t, providertest.SimpleRequest))
	if pe := asError(t, err, providers.KindStatus); pe.Status != 502 || pe.Code != "insufficient_quota" {
		t.Errorf("error = %+v", pe)
	}
	u = newUpstream(t, providertest.Respond(200, "application/json", providertest.Fixture(t, "chat_tool_calls.json")))
	_, err = New(u.Client()).ChatStream(context.Background(), u.target(), providertest.ChatRequest(t, providertest.SimpleRequest))
	asError(t, err, providers.KindBadResponse)
}

// TestStreamConnectionReuse: a finished stream gives its connection back, and
// Close does not wait for a server that holds the response open after [DONE].
func TestStreamConnectionReuse(t *testing.T) {
	var conns atomic.Int32
	body := providertest.Fixture(t, "stream_content.sse")
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		providertest.SSEHandler(body, 1<<20)(w, r)
		// The end of the chunked body arrives after [DONE], in its own packet.
		time.Sleep(20 * time.Millisecond)
	}))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	u := &upstream{&providertest.Upstream{Server: srv}}
	for i := 0; i < 3; i++ {
		s := startStream(t, u)
		if _, err := providertest.ReadStream(s); err != io.EOF {
			t.Fatal(i, err)
		}
		s.Close()
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for 3 sequential streams, want 1", n)
	}

	release := make(chan struct{})
	defer close(release)
	held := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		providertest.SSEHandler(body, 1<<20)(w, r)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	s := startStream(t, held)
	if _, err := providertest.ReadStream(s); err != io.EOF {
		t.Fatal(err)
	}
	start := time.Now()
	s.Close()
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %v", d)
	}
}

// A stream whose server stalls: the context deadline or cancellation ends Recv.
func TestStreamContext(t *testing.T) {
	stall := func(w http.ResponseWriter, r *http.Request) {
		providertest.SSEHandler(partialBody, 1<<20)(w, r)
		<-r.Context().Done()
	}
	for _, cancelIt := range []bool{false, true} {
		u := newUpstream(t, stall)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		s, err := New(u.Client()).ChatStream(ctx, u.target(), providertest.ChatRequest(t, providertest.SimpleRequest))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Recv(); err != nil {
			t.Fatal(err)
		}
		want := providers.KindTimeout
		if cancelIt {
			want = providers.KindCancelled
			cancel()
		}
		_, err = s.Recv()
		asError(t, err, want)
		s.Close()
		cancel()
	}
}

// TestStreamCloseUnblocksRecv: Close from another goroutine ends a blocked Recv.
func TestStreamCloseUnblocksRecv(t *testing.T) {
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		providertest.SSEHandler(partialBody, 1<<20)(w, r)
		<-r.Context().Done()
	})
	s := startStream(t, u)
	if _, err := s.Recv(); err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(50*time.Millisecond, func() { s.Close() })
	_, err := s.Recv()
	asError(t, err, providers.KindConnection)
}

func TestStreamRecvAfterClose(t *testing.T) {
	u := newUpstream(t, providertest.SSEHandler(providertest.Fixture(t, "stream_content.sse"), 1<<20))
	s := startStream(t, u)
	if _, err := s.Recv(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err := s.Recv()
	asError(t, err, providers.KindConnection)
}
