package google

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
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

func withKeepAlives(s string) string {
	return ": ping\n\n" + strings.ReplaceAll(s, "\n\ndata:", "\n\n: keep-alive\n\n:\n\ndata:")
}

func TestStream(t *testing.T) {
	variants := map[string]func(string) string{
		"as sent":     func(s string) string { return s },
		"CRLF":        providertest.CRLF,
		"keep-alives": withKeepAlives,
		"no space":    func(s string) string { return strings.ReplaceAll(s, "data: ", "data:") },
		"event field": func(s string) string { return strings.ReplaceAll(s, "data: ", "event: message\ndata: ") },
	}
	wantCalls := []schema.ToolCall{
		{ID: "call_Vb10aPyWL8Kfz7IP2p6n0Q4_0", Type: "function", Function: schema.ToolCallFunction{Name: "get_weather", Arguments: `{"city":"Paris","unit":"celsius"}`}},
		{ID: "call_Vb10aPyWL8Kfz7IP2p6n0Q4_1", Type: "function", Function: schema.ToolCallFunction{Name: "get_time", Arguments: `{"timezone":"Europe/Paris"}`}},
	}
	for vname, variant := range variants {
		for _, size := range []int{1 << 20, 7, 1} {
			name := fmt.Sprintf("%s/%d", vname, size)

			u := newUpstream(t, sseHandler(variant(providertest.Fixture(t, "stream_text.sse")), size))
			chunks, err := providertest.ReadStream(startStream(t, u))
			if err != io.EOF {
				t.Fatalf("%s: text stream err = %v", name, err)
			}
			a := assemble(t, chunks)
			// 3 content chunks, 1 finish chunk, 1 usage chunk.
			if a.chunks != 5 || a.role != "assistant" || a.content != "Bonjour le monde ✨ !" || a.finish != "stop" ||
				!reflect.DeepEqual(a.usage, usageOf(7, 6, 13, 0, 0)) || len(a.ids) != 1 || !a.ids["MMV0aLGRFMGoz7IPlbmQ4A4"] {
				t.Errorf("%s: text stream = %+v", name, a)
			}
			last := chunks[len(chunks)-1]
			if last.Choices == nil || len(last.Choices) != 0 || last.Model != "gemini-2.0-flash" {
				t.Errorf("%s: usage chunk = %+v", name, last)
			}
			if fin := chunks[len(chunks)-2]; fin.Choices[0].Delta.Content != nil || fin.Usage != nil {
				t.Errorf("%s: finish chunk = %+v", name, fin)
			}

			u = newUpstream(t, sseHandler(variant(providertest.Fixture(t, "stream_function_call.sse")), size))
			chunks, err = providertest.ReadStream(startStream(t, u))
			if err != io.EOF {
				t.Fatalf("%s: tool stream err = %v", name, err)
			}
			a = assemble(t, chunks)
			if a.finish != "tool_calls" || a.content != "" || !reflect.DeepEqual(a.toolCalls, wantCalls) ||
				!reflect.DeepEqual(a.usage, usageOf(118, 144, 262, 64, 103)) {
				t.Errorf("%s: tool stream = %+v", name, a)
			}
		}
	}
}

// The stream and the non-stream translation of one answer agree.
func TestStreamMatchesChat(t *testing.T) {
	u := newUpstream(t, sseHandler(providertest.Fixture(t, "stream_function_call.sse"), 1<<20))
	chunks, _ := providertest.ReadStream(startStream(t, u))
	a := assemble(t, chunks)
	resp := chatFixture(t, "chat_function_call.json")
	if !reflect.DeepEqual(a.toolCalls, resp.Choices[0].Message.ToolCalls) {
		t.Errorf("stream %+v != chat %+v", a.toolCalls, resp.Choices[0].Message.ToolCalls)
	}
}

func TestStreamThinking(t *testing.T) {
	u := newUpstream(t, sseHandler(providertest.Fixture(t, "stream_thinking.sse"), 16))
	chunks, err := providertest.ReadStream(startStream(t, u))
	if err != io.EOF {
		t.Fatal(err)
	}
	a := assemble(t, chunks)
	if a.reasoning != "**Adding**\n\n17 + 25 is 42." || a.content != "17 + 25 = **42**." || a.finish != "stop" ||
		!reflect.DeepEqual(a.usage, usageOf(12, 242, 254, 0, 232)) {
		t.Errorf("stream = %+v", a)
	}
	if chunks[0].Choices[0].Delta.Role != "assistant" || chunks[0].Choices[0].Delta.Reasoning == nil {
		t.Errorf("first chunk = %+v", chunks[0].Choices[0].Delta)
	}
}

func TestStreamBlocked(t *testing.T) {
	for _, tc := range []struct{ fixture, content string }{
		{"stream_prompt_blocked.sse", ""},
		{"stream_recitation.sse", "I cannot continue with"},
	} {
		u := newUpstream(t, sseHandler(providertest.Fixture(t, tc.fixture), 1<<20))
		chunks, err := providertest.ReadStream(startStream(t, u))
		if err != io.EOF {
			t.Fatalf("%s: %v", tc.fixture, err)
		}
		a := assemble(t, chunks)
		if a.finish != "content_filter" || a.content != tc.content || a.role != "assistant" || a.usage == nil {
			t.Errorf("%s: %+v", tc.fixture, a)
		}
	}
}

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

func TestStreamFailures(t *testing.T) {
	t.Run("error event", func(t *testing.T) {
		u := newUpstream(t, sseHandler(providertest.Fixture(t, "stream_error.sse"), 1<<20))
		chunks, err := providertest.ReadStream(startStream(t, u))
		pe := asError(t, err, providers.KindStatus)
		if len(chunks) != 1 || pe.Status != 503 || pe.Code != "unavailable" || !pe.Retryable() ||
			pe.Message != "The model is overloaded. Please try again later." {
			t.Errorf("chunks=%d error=%+v", len(chunks), pe)
		}
	})
	t.Run("bare error", func(t *testing.T) {
		u := newUpstream(t, sseHandler(providertest.Fixture(t, "stream_error_bare.sse"), 5))
		chunks, err := providertest.ReadStream(startStream(t, u))
		pe := asError(t, err, providers.KindStatus)
		if len(chunks) != 1 || pe.Status != 429 || pe.Code != "resource_exhausted" {
			t.Errorf("chunks=%d error=%+v", len(chunks), pe)
		}
	})
	t.Run("named error event", func(t *testing.T) {
		u := newUpstream(t, sseHandler("event: error\ndata: {\"error\":{\"code\":500,\"message\":\"boom\",\"status\":\"INTERNAL\"}}\n\n", 1<<20))
		_, err := providertest.ReadStream(startStream(t, u))
		if pe := asError(t, err, providers.KindStatus); pe.Status != 500 || pe.Message != "boom" {
			t.Errorf("error = %+v", pe)
		}
	})
	for name, h := range map[string]http.HandlerFunc{
		"cut":      sseHandler(providertest.Fixture(t, "stream_cut.sse"), 1<<20),
		"hijacked": hijacked(providertest.Fixture(t, "stream_cut.sse")),
		"empty":    sseHandler("", 1),
	} {
		t.Run(name, func(t *testing.T) {
			u := newUpstream(t, h)
			s := startStream(t, u)
			_, err := providertest.ReadStream(s)
			pe := asError(t, err, providers.KindConnection)
			if pe.Message != "stream ended unexpectedly" || !pe.Retryable() {
				t.Errorf("error = %+v", pe)
			}
			if _, again := s.Recv(); again != err {
				t.Error("error not sticky")
			}
		})
	}
	for name, body := range map[string]string{
		"garbage": "data: {not json}\n\n",
		"null":    "data: null\n\n",
		"types":   "data: {\"candidates\":{}}\n\n",
	} {
		u := newUpstream(t, sseHandler(body, 1<<20))
		_, err := providertest.ReadStream(startStream(t, u))
		if pe := asError(t, err, providers.KindBadResponse); pe.API().Status != 502 {
			t.Errorf("%s: %+v", name, pe)
		}
	}
}

// A finished answer is complete even if the body then breaks.
func TestStreamFinishedThenCut(t *testing.T) {
	u := newUpstream(t, hijacked(providertest.Fixture(t, "stream_text.sse")))
	chunks, err := providertest.ReadStream(startStream(t, u))
	if err != io.EOF || assemble(t, chunks).content != "Bonjour le monde ✨ !" {
		t.Fatalf("err = %v", err)
	}
}

func TestStreamJSONInsteadOfEvents(t *testing.T) {
	u := newUpstream(t, providertest.Respond(200, "application/json", providertest.Fixture(t, "error_503.json")))
	_, err := New(u.Client()).ChatStream(context.Background(), u.target(), providertest.ChatRequest(t, providertest.SimpleRequest))
	if pe := asError(t, err, providers.KindStatus); pe.Status != 503 {
		t.Errorf("error = %+v", pe)
	}
	u = newUpstream(t, providertest.Respond(200, "application/json", "["+providertest.Fixture(t, "chat_text.json")+"]"))
	_, err = New(u.Client()).ChatStream(context.Background(), u.target(), providertest.ChatRequest(t, providertest.SimpleRequest))
	asError(t, err, providers.KindBadResponse)
}

func TestStreamCloseAndCancel(t *testing.T) {
	release := make(chan struct{})
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, strings.SplitAfter(providertest.Fixture(t, "stream_text.sse"), "\n\n")[0])
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)

	ctx, cancel := context.WithCancel(context.Background())
	s, err := New(u.Client()).ChatStream(ctx, u.target(), providertest.ChatRequest(t, providertest.SimpleRequest))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recv(); err != nil {
		t.Fatal(err)
	}
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	_, err = s.Recv()
	asError(t, err, providers.KindCancelled)
	s.Close()
	s.Close()

	s, err = New(u.Client()).ChatStream(context.Background(), u.target(), providertest.ChatRequest(t, providertest.SimpleRequest))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err = s.Recv()
	asError(t, err, providers.KindConnection)
}
