package testprovider

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/llmgw/gateway/app/providers"
	"github.com/llmgw/gateway/app/schema"
)

var echo = providers.Target{Provider: "test", Model: ModelEcho}

func request(t *testing.T, body string) *schema.ChatRequest {
	t.Helper()
	r, err := schema.DecodeChatRequest([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func statusOf(t *testing.T, err error) *providers.Error {
	t.Helper()
	var pe *providers.Error
	if !errors.As(err, &pe) || pe.Kind != providers.KindStatus || pe.Provider != "test" {
		t.Fatalf("error %v is not a status error of the test provider", err)
	}
	return pe
}

// collect reads a stream and folds it into the equivalent non-streaming answer.
func collect(t *testing.T, s providers.ChatStream) (content, finish string, calls []schema.ToolCall, usage *schema.Usage, chunks []*schema.ChatChunk) {
	t.Helper()
	defer s.Close()
	for {
		c, err := s.Recv()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		chunks = append(chunks, c)
		if c.Object != "chat.completion.chunk" || !strings.HasPrefix(c.ID, "chatcmpl-test-") {
			t.Errorf("chunk envelope = %+v", c)
		}
		if c.Usage != nil {
			usage = c.Usage
		}
		for _, ch := range c.Choices {
			if ch.Delta.Content != nil {
				content += *ch.Delta.Content
			}
			for _, tc := range ch.Delta.ToolCalls {
				if tc.ID != "" {
					calls = append(calls, schema.ToolCall{ID: tc.ID, Type: tc.Type})
				}
				calls[len(calls)-1].Function.Name += tc.Function.Name
				calls[len(calls)-1].Function.Arguments += tc.Function.Arguments
			}
			if ch.FinishReason != nil {
				finish = *ch.FinishReason
			}
		}
	}
}

func TestEcho(t *testing.T) {
	p := New(nil)
	req := request(t, `{"model":"test/echo","messages":[
		{"role":"system","content":"Be brief."},
		{"role":"user","content":"first"},
		{"role":"assistant","content":"echo: first"},
		{"role":"user","content":[{"type":"text","text":"Hello   there,"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}},{"type":"text","text":"world! "}]}]}`)
	resp, err := p.Chat(context.Background(), echo, req)
	if err != nil {
		t.Fatal(err)
	}
	want := "echo: Hello   there,\nworld! "
	if resp.Object != "chat.completion" || resp.Model != "echo" || !strings.HasPrefix(resp.ID, "chatcmpl-test-") ||
		time.Since(time.Unix(resp.Created, 0)) > time.Minute || len(resp.Choices) != 1 {
		t.Fatalf("response = %+v", resp)
	}
	c := resp.Choices[0]
	if c.Message.Role != "assistant" || c.Message.Content.String() != want || c.FinishReason != "stop" {
		t.Errorf("choice = %+v", c)
	}
	// prompt: "system Be brief." 3 + "user first" 2 + "assistant echo: first" 3 + "user Hello there, world!" 4.
	if u := resp.Usage; u == nil || u.PromptTokens != 12 || u.CompletionTokens != 4 || u.TotalTokens != 16 || u.Cost != nil {
		t.Errorf("usage = %+v", resp.Usage)
	}

	again, _ := p.Chat(context.Background(), echo, req)
	if again.ID == resp.ID {
		t.Error("ids are not unique")
	}

	resp, _ = p.Chat(context.Background(), echo, request(t, `{"model":"m","messages":[{"role":"system","content":"x"}]}`))
	if s := resp.Choices[0].Message.Content.String(); s != "echo: " {
		t.Errorf("no user message: %q", s)
	}
}

func TestStreamEqualsChat(t *testing.T) {
	p := New(nil)
	for _, body := range []string{
		`{"model":"m","messages":[{"role":"user","content":"  The quick\tbrown  fox\njumps "}]}`,
		`{"model":"m","messages":[{"role":"user","content":"one two three four"}],"max_tokens":3}`,
		`{"model":"m","messages":[{"role":"user","content":"call get_weather {\"city\": \"Paris\"}"}],"tools":[{"type":"function","function":{"name":"get_weather"}}]}`,
		`{"model":"m","messages":[{"role":"user","content":"héllo wörld"}],"n":2}`,
	} {
		req := request(t, body)
		resp, err := p.Chat(context.Background(), echo, req)
		if err != nil {
			t.Fatal(err)
		}
		s, err := p.ChatStream(context.Background(), echo, req)
		if err != nil {
			t.Fatal(err)
		}
		content, finish, calls, usage, chunks := collect(t, s)
		n := len(resp.Choices)
		wantContent := strings.Repeat(resp.Choices[0].Message.Content.String(), n)
		if content != wantContent || finish != resp.Choices[0].FinishReason || !reflect.DeepEqual(*usage, *resp.Usage) {
			t.Errorf("%s:\nstream %q %q %+v\nchat   %q %q %+v", body, content, finish, usage, wantContent, resp.Choices[0].FinishReason, resp.Usage)
		}
		if len(resp.Choices[0].Message.ToolCalls) > 0 {
			got, want := calls[0].Function, resp.Choices[0].Message.ToolCalls[0].Function
			if got != want || calls[0].Type != "function" || !strings.HasPrefix(calls[0].ID, "call_") {
				t.Errorf("tool call stream %+v, chat %+v", calls[0], want)
			}
		}
		// Shape: role chunk first, usage chunk with empty choices last.
		first, last := chunks[0], chunks[len(chunks)-1]
		if first.Choices[0].Delta.Role != "assistant" {
			t.Errorf("first chunk = %+v", first.Choices[0].Delta)
		}
		if last.Usage == nil || last.Choices == nil || len(last.Choices) != 0 {
			t.Errorf("last chunk = %+v", last)
		}
		if b, _ := json.Marshal(last); !strings.Contains(string(b), `"choices":[]`) {
			t.Errorf("usage chunk JSON = %s", b)
		}
	}
}

func TestStreamWords(t *testing.T) {
	s, err := New(nil).ChatStream(context.Background(), echo, request(t, `{"model":"m","messages":[{"role":"user","content":"a  b c"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	_, _, _, _, chunks := collect(t, s)
	var pieces []string
	for _, c := range chunks {
		if len(c.Choices) > 0 && c.Choices[0].Delta.Content != nil {
			pieces = append(pieces, *c.Choices[0].Delta.Content)
		}
	}
	if want := []string{"", "echo: ", "a  ", "b ", "c"}; !reflect.DeepEqual(pieces, want) {
		t.Errorf("pieces = %q, want %q", pieces, want)
	}
}

func TestTruncation(t *testing.T) {
	p := New(nil)
	for _, tc := range []struct {
		body, content, finish string
	}{
		{`{"messages":[{"role":"user","content":"one two three"}],"max_tokens":2}`, "echo: one", "length"},
		{`{"messages":[{"role":"user","content":"one two three"}],"max_completion_tokens":3,"max_tokens":10}`, "echo: one two", "length"},
		{`{"messages":[{"role":"user","content":"one two three"}],"max_tokens":4}`, "echo: one two three", "stop"},
		{`{"messages":[{"role":"user","content":"one two three"}],"max_tokens":1}`, "echo:", "length"},
	} {
		resp, err := p.Chat(context.Background(), echo, request(t, tc.body))
		if err != nil {
			t.Fatal(err)
		}
		c := resp.Choices[0]
		if c.Message.Content.String() != tc.content || c.FinishReason != tc.finish || resp.Usage.CompletionTokens != WordCount(tc.content) {
			t.Errorf("%s: %q %q %+v", tc.body, c.Message.Content.String(), c.FinishReason, resp.Usage)
		}
	}
	_, err := p.Chat(context.Background(), echo, request(t, `{"messages":[{"role":"user","content":"x"}],"max_tokens":0}`))
	if pe := statusOf(t, err); pe.Status != 400 || pe.Param != "max_tokens" {
		t.Errorf("max_tokens 0: %+v", pe)
	}
}

func TestToolCall(t *testing.T) {
	p := New(nil)
	tools := `"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]`
	for _, tc := range []struct {
		body, name, args string
	}{
		{`{"messages":[{"role":"user","content":"call get_weather {\"city\":\"Paris\"}"}],` + tools + `}`, "get_weather", `{"city":"Paris"}`},
		{`{"messages":[{"role":"user","content":"call get_time"}],` + tools + `}`, "get_time", `{}`},
		{`{"messages":[{"role":"user","content":"call get_weather {}"}],` + tools + `,"tool_choice":"none"}`, "", ""},
		{`{"messages":[{"role":"user","content":"call get_weather {}"}]}`, "", ""},
	} {
		resp, err := p.Chat(context.Background(), echo, request(t, tc.body))
		if err != nil {
			t.Fatal(err)
		}
		m := resp.Choices[0].Message
		if tc.name == "" {
			if len(m.ToolCalls) != 0 || resp.Choices[0].FinishReason != "stop" {
				t.Errorf("%s: unexpected tool call %+v", tc.body, m)
			}
			continue
		}
		if !m.Content.IsNull() || resp.Choices[0].FinishReason != "tool_calls" || len(m.ToolCalls) != 1 {
			t.Fatalf("%s: %+v", tc.body, resp.Choices[0])
		}
		call := m.ToolCalls[0]
		if call.Type != "function" || call.Function.Name != tc.name || call.Function.Arguments != tc.args || !strings.HasPrefix(call.ID, "call_") {
			t.Errorf("%s: call = %+v", tc.body, call)
		}
		if b, _ := json.Marshal(resp.Choices[0].Message); !strings.Contains(string(b), `"content":null`) {
			t.Errorf("content not null: %s", b)
		}
	}
}

func TestStreamToolCallShape(t *testing.T) {
	req := request(t, `{"messages":[{"role":"user","content":"call f {\"k\":\"value that is long\"}"}],"tools":[{"type":"function","function":{"name":"f"}}]}`)
	s, err := New(nil).ChatStream(context.Background(), echo, req)
	if err != nil {
		t.Fatal(err)
	}
	_, _, _, _, chunks := collect(t, s)
	head := chunks[0].Choices[0].Delta
	if head.Role != "assistant" || len(head.ToolCalls) != 1 || head.ToolCalls[0].ID == "" ||
		head.ToolCalls[0].Function.Name != "f" || head.ToolCalls[0].Function.Arguments != "" || *head.ToolCalls[0].Index != 0 {
		t.Errorf("head = %+v", head)
	}
	if frag := chunks[1].Choices[0].Delta.ToolCalls[0]; frag.ID != "" || frag.Function.Name != "" || frag.Function.Arguments == "" {
		t.Errorf("fragment = %+v", frag)
	}
	if len(chunks) < 5 {
		t.Errorf("arguments not fragmented: %d chunks", len(chunks))
	}
}

func TestCancellation(t *testing.T) {
	p := New(nil)
	req := request(t, `{"messages":[{"role":"user","content":"a b c d e f"}]}`)

	ctx, cancel := context.WithCancel(context.Background())
	s, err := p.ChatStream(ctx, echo, req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recv(); err != nil {
		t.Fatal(err)
	}
	cancel()
	var pe *providers.Error
	if _, err := s.Recv(); !errors.As(err, &pe) || pe.Kind != providers.KindCancelled {
		t.Fatalf("after cancel: %v", err)
	}
	if _, err := p.Chat(ctx, echo, req); !errors.As(err, &pe) || pe.Kind != providers.KindCancelled {
		t.Fatalf("chat with cancelled ctx: %v", err)
	}

	// With a delay, a deadline interrupts the wait between chunks.
	slow := New(nil)
	slow.ChunkDelay = time.Hour
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	s, _ = slow.ChatStream(ctx, echo, req)
	s.Recv()
	if _, err := s.Recv(); !errors.As(err, &pe) || pe.Kind != providers.KindTimeout {
		t.Fatalf("deadline: %v", err)
	}

	s, _ = p.ChatStream(context.Background(), echo, req)
	s.Close()
	s.Close()
	if _, err := s.Recv(); err == nil || err == io.EOF {
		t.Errorf("Recv after Close = %v", err)
	}
}

func TestModels(t *testing.T) {
	p := New(nil)
	req := request(t, `{"messages":[{"role":"user","content":"x"}]}`)
	_, err := p.Chat(context.Background(), providers.Target{Provider: "test", Model: "gpt-x"}, req)
	pe := statusOf(t, err)
	if pe.Status != 404 || pe.Message != "The model `gpt-x` does not exist" || pe.Code != "model_not_found" {
		t.Errorf("%+v", pe)
	}
	_, err = p.ChatStream(context.Background(), providers.Target{Provider: "test", Model: "gpt-x"}, req)
	statusOf(t, err)
	_, err = p.Embed(context.Background(), providers.Target{Provider: "test", Model: "gpt-x"}, &schema.EmbeddingRequest{Input: []byte(`"x"`)})
	if pe := statusOf(t, err); pe.Status != 404 {
		t.Errorf("%+v", pe)
	}
	_, err = p.Chat(context.Background(), providers.Target{Provider: "test", Model: ModelEmbed}, req)
	if pe := statusOf(t, err); pe.Status != 400 {
		t.Errorf("%+v", pe)
	}
	_, err = p.Embed(context.Background(), echo, &schema.EmbeddingRequest{Input: []byte(`"x"`)})
	if pe := statusOf(t, err); pe.Status != 400 {
		t.Errorf("%+v", pe)
	}
}

func TestCustomTokenizer(t *testing.T) {
	chars := func(s string) int { return len(s) }
	resp, err := New(chars).Chat(context.Background(), echo, request(t, `{"messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if u := resp.Usage; u.PromptTokens != len("user hi") || u.CompletionTokens != len("echo: hi") {
		t.Errorf("usage = %+v", u)
	}
}

var embed = providers.Target{Provider: "test", Model: ModelEmbed}

func embedReq(t *testing.T, body string) *schema.EmbeddingRequest {
	t.Helper()
	var r schema.EmbeddingRequest
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

type item struct {
	Object    string          `json:"object"`
	Index     int             `json:"index"`
	Embedding json.RawMessage `json:"embedding"`
}

func TestEmbeddings(t *testing.T) {
	p := New(nil)
	resp, err := p.Embed(context.Background(), embed, embedReq(t, `{"model":"x","input":["hello world","bonjour", "hello world"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Object != "list" || resp.Model != "embed" || resp.Usage.PromptTokens != 5 || resp.Usage.TotalTokens != 5 {
		t.Errorf("response = %+v %+v", resp, resp.Usage)
	}
	var items []item
	if err := json.Unmarshal(resp.Data, &items); err != nil || len(items) != 3 {
		t.Fatal(err, len(items))
	}
	vecs := make([][]float32, 3)
	for i, it := range items {
		if it.Object != "embedding" || it.Index != i {
			t.Errorf("item %d = %+v", i, it)
		}
		if err := json.Unmarshal(it.Embedding, &vecs[i]); err != nil || len(vecs[i]) != 8 {
			t.Fatalf("item %d: %v %v", i, err, vecs[i])
		}
		var norm float64
		for _, x := range vecs[i] {
			norm += float64(x) * float64(x)
		}
		if math.Abs(norm-1) > 1e-5 {
			t.Errorf("norm² = %v", norm)
		}
	}
	if !reflect.DeepEqual(vecs[0], vecs[2]) || reflect.DeepEqual(vecs[0], vecs[1]) {
		t.Error("vectors are not a function of the input")
	}
	if !reflect.DeepEqual(vecs[0], Vector("hello world", 8)) {
		t.Error("vector differs from Vector")
	}

	// base64: little-endian float32s, the same vector.
	resp, err = p.Embed(context.Background(), embed, embedReq(t, `{"model":"x","input":"hello world","encoding_format":"base64"}`))
	if err != nil {
		t.Fatal(err)
	}
	_ = json.Unmarshal(resp.Data, &items)
	var s string
	if err := json.Unmarshal(items[0].Embedding, &s); err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(raw) != 32 {
		t.Fatalf("%v %d", err, len(raw))
	}
	for i := range vecs[0] {
		if got := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:])); got != vecs[0][i] {
			t.Errorf("base64 component %d = %v, want %v", i, got, vecs[0][i])
		}
	}

	resp, err = p.Embed(context.Background(), embed, embedReq(t, `{"input":"x","dimensions":20}`))
	if err != nil {
		t.Fatal(err)
	}
	_ = json.Unmarshal(resp.Data, &items)
	var v []float32
	_ = json.Unmarshal(items[0].Embedding, &v)
	if len(v) != 20 {
		t.Errorf("dimensions: %d", len(v))
	}
}

func TestEmbeddingErrors(t *testing.T) {
	p := New(nil)
	for _, body := range []string{
		`{"input":[1,2,3]}`,
		`{"input":[[1,2],[3]]}`,
		`{"input":[]}`,
		`{"input":null}`,
		`{}`,
		`{"input":"x","encoding_format":"int8"}`,
		`{"input":"x","dimensions":0}`,
	} {
		_, err := p.Embed(context.Background(), embed, embedReq(t, body))
		if pe := statusOf(t, err); pe.Status != 400 || pe.Message == "" {
			t.Errorf("%s: %+v", body, pe)
		}
	}
}
