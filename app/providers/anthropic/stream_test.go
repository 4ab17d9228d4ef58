package anthropic

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmgw/gateway/app/providers"
	"github.com/llmgw/gateway/app/providers/providertest"
	"github.com/llmgw/gateway/app/schema"
)

func startStream(t *testing.T, u *upstream, body string) providers.ChatStream {
	t.Helper()
	s, err := u.provider().ChatStream(context.Background(), u.target(), providertest.ChatRequest(t, body))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStreams(t *testing.T) {
	tests := []struct {
		fixture, request string
		want             assembled
		chunks           int
	}{
		{
			fixture: "stream_text.sse", request: providertest.SimpleRequest,
			want: assembled{role: "assistant", content: "Hello! How can I help you today?", finish: "stop",
				usage: &schema.Usage{PromptTokens: 1825, CompletionTokens: 12, TotalTokens: 1837,
					PromptTokensDetails: &schema.PromptTokensDetails{CachedTokens: 1800}, CompletionTokensDetails: &schema.CompletionTokensDetails{}}},
			chunks: 6, // role, 3 text, finish, usage
		},
		{
			fixture: "stream_thinking.sse", request: providertest.SimpleRequest,
			want: assembled{role: "assistant", content: "2/3 + 1/4 = 11/12.", finish: "stop",
				reasoning: "I need to add 2/3 and 1/4. LCD is 12: 8/12 + 3/12 = 11/12.",
				// OpenRouter's shape: text pieces, then the signature, all of index 0.
				details: []schema.ReasoningDetail{
					{Type: "reasoning.text", Format: "anthropic-claude-v1", Index: 0, Text: "I need to add 2/3 and 1/4."},
					{Type: "reasoning.text", Format: "anthropic-claude-v1", Index: 0, Text: " LCD is 12: 8/12 + 3/12 = 11/12."},
					{Type: "reasoning.text", Format: "anthropic-claude-v1", Index: 0, Signature: "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds6xzt3fszsdBEdzHQ3KvQPD4ajqKqRStcB4f4r9rELdDhz0ljEABQg7MfbaXg=="},
				},
				usage: &schema.Usage{PromptTokens: 48, CompletionTokens: 215, TotalTokens: 263,
					PromptTokensDetails: &schema.PromptTokensDetails{}, CompletionTokensDetails: &schema.CompletionTokensDetails{ReasoningTokens: 190}}},
			chunks: 7, // role, 2 thinking, signature, text, finish, usage
		},
		{
			fixture: "stream_tool_use.sse", request: providertest.SimpleRequest,
			want: assembled{role: "assistant", content: "Okay, let's check the weather for San Francisco, CA:", finish: "tool_calls",
				toolCalls: []schema.ToolCall{
					{ID: "toolu_01T1x1fJ34qAmk2tNTrN7Up6", Type: "function", Function: schema.ToolCallFunction{Name: "get_weather", Arguments: `{"location": "San Francisco, CA", "unit": "fahrenheit"}`}},
					{ID: "toolu_01Wq9ZrPk4BvN2xLm7cT5yHd", Type: "function", Function: schema.ToolCallFunction{Name: "get_time", Arguments: `{}`}},
				},
				usage: &schema.Usage{PromptTokens: 472, CompletionTokens: 89, TotalTokens: 561,
					PromptTokensDetails: &schema.PromptTokensDetails{}, CompletionTokensDetails: &schema.CompletionTokensDetails{}}},
			chunks: 11, // role, text, start+4 fragments, start+{}, finish, usage
		},
		{
			fixture: "stream_json_tool.sse",
			request: `{"messages":[{"role":"user","content":"Paris?"}],"response_format":{"type":"json_schema","json_schema":{"name":"city_info","schema":{"type":"object"}}}}`,
			want: assembled{role: "assistant", content: `{"city": "Paris"}`, finish: "stop",
				usage: &schema.Usage{PromptTokens: 410, CompletionTokens: 20, TotalTokens: 430,
					PromptTokensDetails: &schema.PromptTokensDetails{}, CompletionTokensDetails: &schema.CompletionTokensDetails{}}},
			chunks: 5,
		},
		{
			fixture: "stream_thinking.sse", request: `{"messages":[{"role":"user","content":"q"}],"reasoning":{"max_tokens":2000,"exclude":true}}`,
			want: assembled{role: "assistant", content: "2/3 + 1/4 = 11/12.", finish: "stop",
				usage: &schema.Usage{PromptTokens: 48, CompletionTokens: 215, TotalTokens: 263,
					PromptTokensDetails: &schema.PromptTokensDetails{}, CompletionTokensDetails: &schema.CompletionTokensDetails{ReasoningTokens: 190}}},
			chunks: 4,
		},
	}
	for _, tc := range tests {
		for _, variant := range []struct {
			name string
			body string
			size int
		}{{"whole", providertest.Fixture(t, tc.fixture), 1 << 20}, {"bytewise", providertest.Fixture(t, tc.fixture), 7}, {"crlf", providertest.CRLF(providertest.Fixture(t, tc.fixture)), 1 << 20}} {
			u := newUpstream(t, providertest.SSEHandler(variant.body, variant.size))
			s := startStream(t, u, tc.request)
			chunks, err := providertest.ReadStream(s)
			if err != io.EOF {
				t.Fatalf("%s/%s: err = %v", tc.fixture, variant.name, err)
			}
			if _, again := s.Recv(); again != io.EOF {
				t.Errorf("%s: EOF not sticky", tc.fixture)
			}
			got := assemble(t, chunks)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s/%s:\n got %+v\nwant %+v", tc.fixture, variant.name, got, tc.want)
				if got.usage != nil {
					t.Errorf("usage %+v %+v", got.usage.PromptTokensDetails, got.usage.CompletionTokensDetails)
				}
			}
			if len(chunks) != tc.chunks {
				b, _ := json.Marshal(chunks)
				t.Errorf("%s/%s: %d chunks, want %d: %s", tc.fixture, variant.name, len(chunks), tc.chunks, b)
			}
			for _, c := range chunks {
				if c.Object != "chat.completion.chunk" || c.ID == "" || c.Model == "" || c.Created == 0 {
					t.Errorf("%s: chunk envelope %+v", tc.fixture, c)
				}
			}
			// The body asked for a stream.
			var sent map[string]any
			_ = json.Unmarshal(u.Last(t).Body, &sent)
			if sent["stream"] != true || u.Last(t).Header.Get("Accept") != "text/event-stream" {
				t.Errorf("%s: stream not requested: %v", tc.fixture, sent["stream"])
			}
		}
	}
}

// TestStreamToolCallChunks checks the exact OpenAI shape of tool call deltas.
func TestStreamToolCallChunks(t *testing.T) {
	u := newUpstream(t, providertest.SSEHandler(providertest.Fixture(t, "stream_tool_use.sse"), 1<<20))
	chunks, err := providertest.ReadStream(startStream(t, u, providertest.SimpleRequest))
	if err != io.EOF {
		t.Fatal(err)
	}
	first, _ := json.Marshal(chunks[0].Choices[0].Delta)
	if string(first) != `{"role":"assistant","content":""}` {
		t.Errorf("first delta %s", first)
	}
	start, _ := json.Marshal(chunks[2].Choices[0].Delta)
	if string(start) != `{"tool_calls":[{"index":0,"id":"toolu_01T1x1fJ34qAmk2tNTrN7Up6","type":"function","function":{"name":"get_weather","arguments":""}}]}` {
		t.Errorf("tool start delta %s", start)
	}
	frag, _ := json.Marshal(chunks[3].Choices[0].Delta)
	if string(frag) != `{"tool_calls":[{"index":0,"function":{"arguments":"{\"location\":"}}]}` {
		t.Errorf("fragment delta %s", frag)
	}
	second, _ := json.Marshal(chunks[7].Choices[0].Delta)
	if string(second) != `{"tool_calls":[{"index":1,"id":"toolu_01Wq9ZrPk4BvN2xLm7cT5yHd","type":"function","function":{"name":"get_time","arguments":""}}]}` {
		t.Errorf("second tool delta %s", second)
	}
	last, _ := json.Marshal(chunks[len(chunks)-1])
	var m map[string]any
	_ = json.Unmarshal(last, &m)
	if choices, ok := m["choices"].([]any); !ok || len(choices) != 0 {
		t.Errorf("usage chunk %s", last)
	}
}

func TestStreamErrorEvent(t *testing.T) {
	u := newUpstream(t, providertest.SSEHandler(providertest.Fixture(t, "stream_error.sse"), 1<<20))
	s := startStream(t, u, providertest.SimpleRequest)
	chunks, err := providertest.ReadStream(s)
	if a := assemble(t, chunks); a.content != "Let me" {
		t.Errorf("content before the error %q", a.content)
	}
	pe := asError(t, err, providers.KindStatus)
	if pe.Status != 503 || pe.Type != "overloaded_error" || pe.Message != "Overloaded" || !pe.Retryable() {
		t.Errorf("error %+v", pe)
	}
	if _, again := s.Recv(); again != err {
		t.Error("error not sticky")
	}
}

func TestStreamErrorTypes(t *testing.T) {
	start := "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\",\"content\":[],\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}}\n\n"
	for typ, status := range map[string]int{
		"overloaded_error": 503, "api_error": 500, "rate_limit_error": 429, "invalid_request_error": 400,
		"authentication_error": 401, "permission_error": 403, "not_found_error": 404, "request_too_large": 413,
		"billing_error": 402, "timeout_error": 504, "brand_new_error": 502,
	} {
		body := start + "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"" + typ + "\",\"message\":\"m\"}}\n\n"
		u := newUpstream(t, providertest.SSEHandler(body, 1<<20))
		_, err := providertest.ReadStream(startStream(t, u, providertest.SimpleRequest))
		if pe := asError(t, err, providers.KindStatus); pe.Status != status || pe.Type != typ {
			t.Errorf("%s: %+v", typ, pe)
		}
	}
	// An error event before anything else, and one without a name.
	for _, body := range []string{
		"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"boom\"}}\n\n",
		"data: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"boom\"}}\n\n",
	} {
		u := newUpstream(t, providertest.SSEHandler(body, 1<<20))
		_, err := providertest.ReadStream(startStream(t, u, providertest.SimpleRequest))
		if pe := asError(t, err, providers.KindStatus); pe.Status != 500 || pe.Message != "boom" {
			t.Errorf("%q: %+v", body, pe)
		}
	}
}

// A stream cut before message_stop is a broken connection, even after a
// stop_reason.
func TestStreamCut(t *testing.T) {
	u := newUpstream(t, providertest.SSEHandler(providertest.Fixture(t, "stream_cut.sse"), 1<<20))
	chunks, err := providertest.ReadStream(startStream(t, u, providertest.SimpleRequest))
	if a := assemble(t, chunks); a.content != "The answer is" {
		t.Errorf("content %q", a.content)
	}
	pe := asError(t, err, providers.KindConnection)
	if !pe.Retryable() {
		t.Error("not retryable")
	}
	// The empty body, too.
	u = newUpstream(t, providertest.SSEHandler("", 1))
	_, err = providertest.ReadStream(startStream(t, u, providertest.SimpleRequest))
	asError(t, err, providers.KindConnection)
}

func TestStreamBadEvents(t *testing.T) {
	start := "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\",\"content\":[],\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}}\n\n"
	for _, body := range []string{
		"data: <html>\n\n",
		"data: [1,2]\n\n",
		"data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}\n\n",
		start + start,
		start + "data: {\"type\":\"content_block_start\",\"index\":0}\n\n",
		start + "data: {\"type\":\"content_block_delta\",\"index\":0}\n\n",
		start + "data: {\"type\":\"content_block_delta\",\"index\":3,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\"}}\n\n",
		start + "data: {\"type\":\"message_delta\",\"delta\":\"x\"}\n\n",
	} {
		u := newUpstream(t, providertest.SSEHandler(body, 1<<20))
		_, err := providertest.ReadStream(startStream(t, u, providertest.SimpleRequest))
		asError(t, err, providers.KindBadResponse)
	}
}

// Events this adapter does not know are skipped, before and after message_start.
func TestStreamUnknownEvents(t *testing.T) {
	body := "event: future\ndata: {\"type\":\"future\"}\n\n: comment\n\n" + providertest.Fixture(t, "stream_text.sse")
	u := newUpstream(t, providertest.SSEHandler(body, 1<<20))
	chunks, err := providertest.ReadStream(startStream(t, u, providertest.SimpleRequest))
	if err != io.EOF || assemble(t, chunks).content != "Hello! How can I help you today?" {
		t.Fatalf("err %v", err)
	}
}

// A stream without message_delta still ends with a finish reason.
func TestStreamNoMessageDelta(t *testing.T) {
	body := "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\",\"content\":[],\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
	u := newUpstream(t, providertest.SSEHandler(body, 1<<20))
	chunks, err := providertest.ReadStream(startStream(t, u, providertest.SimpleRequest))
	a := assemble(t, chunks)
	if err != io.EOF || a.finish != "stop" || a.usage == nil || a.usage.PromptTokens != 3 {
		t.Fatalf("err %v, %+v", err, a)
	}
}

func TestStreamJSONAnswer(t *testing.T) {
	u := newUpstream(t, providertest.Respond(200, "application/json", providertest.Fixture(t, "error_529.json")))
	_, err := u.provider().ChatStream(context.Background(), u.target(), providertest.ChatRequest(t, providertest.SimpleRequest))
	if pe := asError(t, err, providers.KindStatus); pe.Status != 503 || pe.Type != "overloaded_error" {
		t.Errorf("error %+v", pe)
	}
	u = newUpstream(t, providertest.Respond(200, "application/json", providertest.Fixture(t, "response_text.json")))
	_, err = u.provider().ChatStream(context.Background(), u.target(), providertest.ChatRequest(t, providertest.SimpleRequest))
	asError(t, err, providers.KindBadResponse)
}

// Refusals happen before the stream starts too.
func TestStreamRefusal(t *testing.T) {
	u := newUpstream(t, providertest.SSEHandler(providertest.Fixture(t, "stream_text.sse"), 1<<20))
	_, err := u.provider().ChatStream(context.Background(), u.target(), providertest.ChatRequest(t, `{"messages":[{"role":"user","content":"x"}],"n":3}`))
	asError(t, err, providers.KindUnsupported)
}

func TestStreamConnectionReuse(t *testing.T) {
	var conns atomic.Int32
	body := providertest.Fixture(t, "stream_text.sse")
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		providertest.SSEHandler(body, 1<<20)(w, r)
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
		s, err := u.provider().ChatStream(context.Background(), u.target(), providertest.ChatRequest(t, providertest.SimpleRequest))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := providertest.ReadStream(s); err != io.EOF {
			t.Fatal(i, err)
		}
		s.Close()
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for 3 sequential streams, want 1", n)
	}
}

func TestStreamContext(t *testing.T) {
	partial := "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\",\"content\":[],\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}}\n\n"
	stall := func(w http.ResponseWriter, r *http.Request) {
		providertest.SSEHandler(partial, 1<<20)(w, r)
		<-r.Context().Done()
	}
	for _, cancelIt := range []bool{false, true} {
		u := newUpstream(t, stall)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		s, err := u.provider().ChatStream(ctx, u.target(), providertest.ChatRequest(t, providertest.SimpleRequest))
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
	// Close from another goroutine ends a blocked Recv.
	u := newUpstream(t, stall)
	s := startStream(t, u, providertest.SimpleRequest)
	if _, err := s.Recv(); err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(50*time.Millisecond, func() { s.Close() })
	_, err := s.Recv()
	asError(t, err, providers.KindConnection)
}
