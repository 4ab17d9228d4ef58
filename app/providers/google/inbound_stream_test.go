package google

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/llmgw/gateway/app/providers"
	"github.com/llmgw/gateway/app/providers/providertest"
	"github.com/llmgw/gateway/app/schema"
)

// chunksOf translates a Gemini SSE body with the adapter's own stream.
func chunksOf(t testing.TB, body []byte) ([]*schema.ChatChunk, error) {
	t.Helper()
	s := newStream(context.Background(), "acme", testModel, io.NopCloser(bytes.NewReader(body)))
	defer s.Close()
	return providertest.ReadStream(s)
}

// encode runs chunks through a StreamEncoder, then Finish.
func encode(t testing.TB, chunks []*schema.ChatChunk, usage *schema.Usage) []byte {
	t.Helper()
	var buf bytes.Buffer
	var enc StreamEncoder
	for _, c := range chunks {
		if err := enc.WriteChunk(&buf, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Finish(&buf, usage); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// sdkEvents splits a body the way the official Go SDK does (on blank
// lines, "data:" prefix) and decodes each event.
func sdkEvents(t testing.TB, body []byte) []GenerateResponse {
	t.Helper()
	if !bytes.HasSuffix(body, []byte("\n\n")) {
		t.Fatalf("body does not end an event: %q", body)
	}
	var out []GenerateResponse
	for _, ev := range strings.Split(strings.TrimSuffix(string(body), "\n\n"), "\n\n") {
		prefix, data, ok := strings.Cut(ev, ":")
		if !ok || prefix != "data" || strings.Contains(data, "\n") {
			t.Fatalf("event is not one data line: %q", ev)
		}
		var g GenerateResponse
		if err := json.Unmarshal([]byte(data), &g); err != nil {
			t.Fatalf("event %q: %v", ev, err)
		}
		out = append(out, g)
	}
	return out
}

func TestStreamEncoderRoundTrip(t *testing.T) {
	for _, name := range []string{"stream_text.sse", "stream_function_call.sse", "stream_thinking.sse", "stream_recitation.sse", "stream_prompt_blocked.sse"} {
		t.Run(name, func(t *testing.T) {
			in, err := chunksOf(t, []byte(providertest.Fixture(t, name)))
			if err != io.EOF {
				t.Fatal(err)
			}
			body := encode(t, in, nil)
			events := sdkEvents(t, body)
			last := events[len(events)-1]
			if len(last.Candidates) == 0 || last.Candidates[0].FinishReason == "" || last.UsageMetadata == nil {
				t.Errorf("last event = %+v", last)
			}
			for _, ev := range events[:len(events)-1] {
				if ev.UsageMetadata != nil || ev.Candidates[0].FinishReason != "" {
					t.Errorf("early event finishes: %+v", ev)
				}
			}
			out, err := chunksOf(t, body)
			if err != io.EOF {
				t.Fatal(err)
			}
			a, b := assemble(t, in), assemble(t, out)
			a.chunks, b.chunks, a.ids, b.ids = 0, 0, nil, nil
			if !reflect.DeepEqual(a, b) {
				t.Errorf("round trip:\n in  %+v\n out %+v", a, b)
			}
		})
	}
}

// OpenAI streams tool call arguments in fragments; Gemini's call is whole.
func TestStreamEncoderFragmentedCalls(t *testing.T) {
	i0, i1 := 0, 1
	str := func(s string) *string { return &s }
	stop := "tool_calls"
	chunks := []*schema.ChatChunk{
		{ID: "chatcmpl-1", Model: "gpt-x", Choices: []schema.ChunkChoice{{Delta: schema.Delta{Role: "assistant", Content: str("")}}}},
		{ID: "chatcmpl-1", Model: "gpt-x", Choices: []schema.ChunkChoice{{Delta: schema.Delta{ToolCalls: []schema.ToolCall{{Index: &i0, ID: "call_a", Type: "function", Function: schema.ToolCallFunction{Name: "get_weather", Arguments: ""}}}}}}},
		{ID: "chatcmpl-1", Model: "gpt-x", Choices: []schema.ChunkChoice{{Delta: schema.Delta{ToolCalls: []schema.ToolCall{{Index: &i0, Function: schema.ToolCallFunction{Arguments: `{"ci`}}}}}}},
		{ID: "chatcmpl-1", Model: "gpt-x", Choices: []schema.ChunkChoice{{Delta: schema.Delta{ToolCalls: []schema.ToolCall{{Index: &i0, Function: schema.ToolCallFunction{Arguments: `ty": "Oslo"}`}}, {Index: &i1, ID: "call_b", Function: schema.ToolCallFunction{Name: "get_time", Arguments: `{}`}}}}}}},
		{ID: "chatcmpl-1", Model: "gpt-x", Choices: []schema.ChunkChoice{{Delta: schema.Delta{}, FinishReason: &stop}}},
		{ID: "chatcmpl-1", Model: "gpt-x", Choices: []schema.ChunkChoice{}, Usage: usageOf(10, 5, 15, 0, 0)},
	}
	var buf bytes.Buffer
	enc := StreamEncoder{ModelVersion: "alias-model"}
	for _, c := range chunks {
		if err := enc.WriteChunk(&buf, c); err != nil {
			t.Fatal(err)
		}
	}
	if buf.Len() != 0 {
		t.Errorf("events before Finish: %q", buf.String())
	}
	if err := enc.Finish(&buf, nil); err != nil {
		t.Fatal(err)
	}
	want := `data: {"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"id":"call_a","name":"get_weather","args":{"city":"Oslo"}}},{"functionCall":{"id":"call_b","name":"get_time","args":{}}}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":5,"totalTokenCount":15},"modelVersion":"alias-model","responseId":"chatcmpl-1"}` + "\n\n"
	if buf.String() != want {
		t.Errorf("got  %s\nwant %s", buf.String(), want)
	}
	if err := enc.WriteChunk(&buf, chunks[0]); err == nil {
		t.Error("WriteChunk after Finish")
	}
	if err := enc.Finish(&buf, nil); err == nil {
		t.Error("Finish twice")
	}
}

func TestStreamEncoderEdges(t *testing.T) {
	// An empty stream still ends with a finishReason.
	var buf bytes.Buffer
	var enc StreamEncoder
	if err := enc.WriteChunk(&buf, nil); err != nil {
		t.Fatal(err)
	}
	if err := enc.Finish(&buf, usageOf(3, 0, 3, 0, 0)); err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); got != `data: {"candidates":[{"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":3,"totalTokenCount":3}}`+"\n\n" {
		t.Errorf("empty = %s", got)
	}

	// Text is passed as written, two candidates keep their indexes, and a
	// length finish is MAX_TOKENS.
	buf.Reset()
	enc = StreamEncoder{}
	s := "a <b> & \"c\"\n"
	length := "length"
	_ = enc.WriteChunk(&buf, &schema.ChatChunk{ID: "r", Choices: []schema.ChunkChoice{
		{Index: 0, Delta: schema.Delta{Content: &s}}, {Index: 1, Delta: schema.Delta{Reasoning: &s}, FinishReason: &length}}})
	_ = enc.Finish(&buf, nil)
	events := sdkEvents(t, buf.Bytes())
	if len(events) != 2 || events[0].Candidates[0].Content.Parts[0].Text != s ||
		!events[0].Candidates[1].Content.Parts[0].Thought || events[0].Candidates[1].Index != 1 ||
		events[1].Candidates[1].FinishReason != "MAX_TOKENS" || events[1].Candidates[0].FinishReason != "STOP" {
		t.Errorf("events = %+v", events)
	}
	if !strings.Contains(buf.String(), `a <b> & \"c\"\n`) {
		t.Errorf("text escaped: %s", buf.String())
	}
}

func TestStreamEncoderError(t *testing.T) {
	var buf bytes.Buffer
	var enc StreamEncoder
	s := "Once"
	_ = enc.WriteChunk(&buf, &schema.ChatChunk{ID: "r", Choices: []schema.ChunkChoice{{Delta: schema.Delta{Content: &s}}}})
	if err := enc.WriteError(&buf, 503, "Upstream failed."); err != nil {
		t.Fatal(err)
	}
	body := buf.String()
	errJSON := `{"error":{"code":503,"message":"Upstream failed.","status":"UNAVAILABLE"}}`
	if !strings.HasSuffix(body, "data: "+errJSON+"\n\n"+errJSON+"\n\n") {
		t.Errorf("body = %s", body)
	}
	if enc.Finish(&buf, nil) == nil || enc.WriteError(&buf, 500, "x") == nil {
		t.Error("writes after the error")
	}
	// The adapter reads it back as the upstream failure it reports.
	chunks, err := chunksOf(t, buf.Bytes())
	pe := asError(t, err, providers.KindStatus)
	if len(chunks) != 1 || pe.Status != 503 || pe.Message != "Upstream failed." {
		t.Errorf("chunks=%d err=%+v", len(chunks), pe)
	}
	// So does a reader that only sees the bare line (the Go SDK's view).
	bare := strings.Replace(body, "data: "+errJSON+"\n\n", "", 1)
	_, err = chunksOf(t, []byte(bare))
	if pe := asError(t, err, providers.KindStatus); pe.Status != 503 {
		t.Errorf("bare: %+v", pe)
	}
}
