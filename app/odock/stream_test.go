package odock

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/llmgw/gateway/app/schema"
)

func chunk(id string, d schema.Delta, finish string) *schema.ChatChunk {
	c := schema.ChunkChoice{Delta: d}
	if finish != "" {
		c.FinishReason = &finish
	}
	return &schema.ChatChunk{ID: id, Object: "chat.completion.chunk", Created: 1700000000, Model: "m", Choices: []schema.ChunkChoice{c}}
}

func call(index *int, id, name, args string) schema.Delta {
	return schema.Delta{ToolCalls: []schema.ToolCall{{Index: index, ID: id, Type: "function",
		Function: schema.ToolCallFunction{Name: name, Arguments: args}}}}
}

// events parses an SSE body and checks that every event is one "event:" and
// one "data:" line whose JSON type repeats the event name.
func events(t *testing.T, body string) []StreamEvent {
	t.Helper()
	if !strings.HasSuffix(body, "\n\n") {
		t.Fatalf("stream does not end with a blank line: %q", body)
	}
	var out []StreamEvent
	for _, block := range strings.Split(strings.TrimSuffix(body, "\n\n"), "\n\n") {
		lines := strings.Split(block, "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[0], "event: ") || !strings.HasPrefix(lines[1], "data: ") {
			t.Fatalf("malformed event %q", block)
		}
		var ev StreamEvent
		if err := json.Unmarshal([]byte(strings.TrimPrefix(lines[1], "data: ")), &ev); err != nil {
			t.Fatalf("event data %q: %v", lines[1], err)
		}
		if ev.Type != strings.TrimPrefix(lines[0], "event: ") {
			t.Fatalf("event %q has type %q", lines[0], ev.Type)
		}
		out = append(out, ev)
	}
	return out
}

func TestStreamText(t *testing.T) {
	var w bytes.Buffer
	enc := NewStreamEncoder("openai/gpt-4o", "openai")
	for _, ch := range []*schema.ChatChunk{
		chunk("chatcmpl-s1", schema.Delta{Role: "assistant", Content: ptr("")}, ""),
		chunk("chatcmpl-s1", schema.Delta{Content: ptr("Hel")}, ""),
		chunk("chatcmpl-s1", schema.Delta{Content: ptr("lo!")}, ""),
		chunk("chatcmpl-s1", schema.Delta{}, "stop"),
	} {
		if err := enc.Chunk(&w, ch); err != nil {
			t.Fatal(err)
		}
	}
	cost := 0.0001
	if err := enc.Finish(&w, "chatcmpl-s1", 1700000000, &schema.Usage{PromptTokens: 5, CompletionTokens: 2, TotalTokens: 7, Cost: &cost}); err != nil {
		t.Fatal(err)
	}
	want := "event: start\ndata: {\"type\":\"start\",\"provider\":\"openai\",\"model\":\"gpt-4o\",\"provider_request_id\":\"chatcmpl-s1\"}\n\n" +
		"event: delta\ndata: {\"type\":\"delta\",\"content\":\"Hel\"}\n\n" +
		"event: delta\ndata: {\"type\":\"delta\",\"content\":\"lo!\"}\n\n" +
		"event: done\ndata: {\"type\":\"done\",\"response\":{\"provider\":\"openai\",\"model\":\"gpt-4o\",\"content\":\"Hello!\"," +
		"\"stop_reason\":\"end_turn\",\"content_blocks\":[{\"type\":\"text\",\"text\":\"Hello!\"}],\"tool_calls\":[]," +
		"\"input_tokens\":5,\"output_tokens\":2,\"provider_usage\":{\"prompt_tokens\":5,\"completion_tokens\":2,\"total_tokens\":7,\"cost\":0.0001}," +
		"\"provider_request_id\":\"chatcmpl-s1\"}}\n\n"
	if w.String() != want {
		t.Errorf("\n got %q\nwant %q", w.String(), want)
	}
	golden(t, "streams/text.sse", w.Bytes())
	events(t, w.String())
	if err := enc.Chunk(&w, chunk("x", schema.Delta{Content: ptr("late")}, "")); !errors.Is(err, ErrStreamFinished) {
		t.Errorf("Chunk after Finish: %v", err)
	}
	if err := enc.Finish(&w, "", 0, nil); err != nil || w.String() != want {
		t.Errorf("second Finish wrote or failed: %v", err)
	}
}

func TestStreamToolCalls(t *testing.T) {
	var w bytes.Buffer
	enc := NewStreamEncoder("anthropic/claude-sonnet-4-5", "") // provider from the model
	chunks := []*schema.ChatChunk{
		chunk("msg_1", schema.Delta{Role: "assistant", Reasoning: ptr("Need the weather.")}, ""),
		chunk("msg_1", schema.Delta{Content: ptr("Checking.")}, ""),
		chunk("msg_1", call(ptr(0), "toolu_1", "get_weather", ""), ""),
		chunk("msg_1", call(ptr(0), "", "", `{"city":`), ""),
		chunk("msg_1", call(ptr(0), "", "", `"Paris"}`), ""),
		chunk("msg_1", call(ptr(1), "toolu_2", "get_time", "{}"), ""),
		chunk("msg_1", schema.Delta{}, "tool_calls"),
	}
	for _, ch := range chunks {
		if err := enc.Chunk(&w, ch); err != nil {
			t.Fatal(err)
		}
	}
	usage := &schema.Usage{PromptTokens: 50, CompletionTokens: 30, TotalTokens: 80}
	if err := enc.Finish(&w, "", 0, usage); err != nil {
		t.Fatal(err)
	}
	golden(t, "streams/tool_calls.sse", w.Bytes())
	evs := events(t, w.String())
	if len(evs) != 8 || evs[0].Type != EventStart || evs[len(evs)-1].Type != EventDone {
		t.Fatalf("%d events: %s", len(evs), w.String())
	}
	// The done event says what the non-streaming answer would say.
	whole := &schema.ChatResponse{ID: "msg_1", Model: "anthropic/claude-sonnet-4-5", Usage: usage, Choices: []schema.Choice{{
		FinishReason: "tool_calls",
		Message: schema.Message{Role: "assistant", Content: schema.TextContent("Checking."), Reasoning: "Need the weather.",
			ToolCalls: []schema.ToolCall{
				{ID: "toolu_1", Type: "function", Function: schema.ToolCallFunction{Name: "get_weather", Arguments: `{"city":"Paris"}`}},
				{ID: "toolu_2", Type: "function", Function: schema.ToolCallFunction{Name: "get_time", Arguments: "{}"}},
			}}}}}
	if got, want := mustJSON(t, evs[len(evs)-1].Response), mustJSON(t, FromChat(whole, "")); got != want {
		t.Errorf("done response\n got %s\nwant %s", got, want)
	}
}

// Servers that omit the tool call index: a fragment with an id or a name
// starts a call, one without continues the last.
func TestStreamToolCallsWithoutIndex(t *testing.T) {
	var w bytes.Buffer
	enc := NewStreamEncoder("m", "vllm")
	for _, d := range []schema.Delta{
		call(nil, "a", "f", `{"x"`), call(nil, "", "", `:1}`), call(nil, "b", "g", ""), call(nil, "", "", `{}`),
	} {
		if err := enc.Chunk(&w, chunk("id", d, "")); err != nil {
			t.Fatal(err)
		}
	}
	got := mustJSON(t, enc.Response("id").ToolCalls)
	want := `[{"id":"a","type":"function","name":"f","arguments":"{\"x\":1}"},{"id":"b","type":"function","name":"g","arguments":"{}"}]`
	if got != want {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
	if !strings.Contains(w.String(), `"tool_calls":[{"index":1,"arguments":"{}"}]`) {
		t.Errorf("continuation of call 1 not sent with index 1: %s", w.String())
	}
}

func TestStreamError(t *testing.T) {
	var w bytes.Buffer
	enc := NewStreamEncoder("openai/gpt-4o", "openai")
	if err := enc.Chunk(&w, chunk("c", schema.Delta{Content: ptr("Hel")}, "")); err != nil {
		t.Fatal(err)
	}
	if err := enc.Error(&w, 502, "", "The upstream connection was reset."); err != nil {
		t.Fatal(err)
	}
	evs := events(t, w.String())
	want := `event: error` + "\n" + `data: {"type":"error","error":{"code":"upstream_error","message":"The upstream connection was reset.","status":502}}` + "\n\n"
	if len(evs) != 3 || !strings.HasSuffix(w.String(), want) {
		t.Errorf("got %q", w.String())
	}
	n := w.Len()
	if err := enc.Chunk(&w, chunk("c", schema.Delta{Content: ptr("x")}, "")); !errors.Is(err, ErrStreamFinished) {
		t.Errorf("Chunk after Error: %v", err)
	}
	if err := enc.Error(&w, 500, "", "again"); !errors.Is(err, ErrStreamFinished) {
		t.Errorf("Error after Error: %v", err)
	}
	if err := enc.Finish(&w, "", 0, nil); err != nil || w.Len() != n {
		t.Errorf("Finish after Error wrote or failed: %v", err)
	}

	// An error before any chunk is the only event.
	w.Reset()
	if err := NewStreamEncoder("m", "").Error(&w, 402, "", "Budget exceeded."); err != nil {
		t.Fatal(err)
	}
	if got := w.String(); got != "event: error\ndata: {\"type\":\"error\",\"error\":{\"code\":\"budget_exceeded\",\"message\":\"Budget exceeded.\",\"status\":402}}\n\n" {
		t.Errorf("got %q", got)
	}
}

// An upstream stream that ended without a chunk still gets start and done.
func TestStreamEmpty(t *testing.T) {
	var w bytes.Buffer
	if err := NewStreamEncoder("openai/gpt-4o", "openai").Finish(&w, "chatcmpl-0", 0, nil); err != nil {
		t.Fatal(err)
	}
	evs := events(t, w.String())
	if len(evs) != 2 || evs[0].ProviderRequestID != "chatcmpl-0" || evs[1].Response == nil || evs[1].Response.ContentBlocks == nil {
		t.Errorf("got %s", w.String())
	}
}

// A refusal streams as content and ends with stop_reason "refusal".
func TestStreamRefusal(t *testing.T) {
	var w bytes.Buffer
	enc := NewStreamEncoder("openai/gpt-4o", "openai")
	_ = enc.Chunk(&w, chunk("c", schema.Delta{Refusal: ptr("I can't.")}, ""))
	_ = enc.Chunk(&w, chunk("c", schema.Delta{}, "stop"))
	_ = enc.Finish(&w, "c", 0, nil)
	evs := events(t, w.String())
	if *evs[1].Content != "I can't." || evs[2].Response.StopReason != StopRefusal || evs[2].Response.Content != "I can't." {
		t.Errorf("got %s", w.String())
	}
}

// Chunks for other choices, nil chunks and empty deltas write nothing.
func TestStreamSkips(t *testing.T) {
	var w bytes.Buffer
	enc := NewStreamEncoder("openai/gpt-4o", "openai")
	if err := enc.Chunk(&w, nil); err != nil || w.Len() != 0 {
		t.Fatalf("nil chunk: %v %q", err, w.String())
	}
	ch := chunk("c", schema.Delta{Content: ptr("other")}, "")
	ch.Choices[0].Index = 1
	_ = enc.Chunk(&w, ch)
	_ = enc.Chunk(&w, chunk("c", schema.Delta{Role: "assistant"}, ""))
	if evs := events(t, w.String()); len(evs) != 1 || evs[0].Type != EventStart {
		t.Errorf("got %s", w.String())
	}
}
