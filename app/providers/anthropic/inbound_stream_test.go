package anthropic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/llmgw/gateway/app/providers/providertest"
	"github.com/llmgw/gateway/app/providers/sse"
	"github.com/llmgw/gateway/app/schema"
)

type sseEvent struct {
	name string
	data map[string]any
	raw  string
}

func parseEvents(t testing.TB, b []byte) []sseEvent {
	t.Helper()
	r := sse.NewReader(bytes.NewReader(b), 0)
	var out []sseEvent
	for {
		ev, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(ev.Data, &m); err != nil {
			t.Fatalf("event %s: invalid JSON %s", ev.Name, ev.Data)
		}
		out = append(out, sseEvent{ev.Name, m, string(ev.Data)})
	}
}

// message is a stream folded back into Anthropic's content blocks.
type message struct {
	blocks []block
	stop   string
	usage  map[string]any
	err    string // error type when the stream ended with an error event
}

type block struct {
	typ, text, id, name string
	sig                 string // thinking: the signature
}

// checkSequence verifies that events follow Anthropic's stream grammar
// (message_start, well-nested blocks with consecutive indices and matching
// delta types, one message_delta, message_stop last; or an error event last)
// and folds them into a message.
func checkSequence(events []sseEvent) (message, error) {
	var m message
	open := -1
	var blocks []block
	usage := map[string]any{}
	state := "start" // start, body, delta, stopped, error
	for i, ev := range events {
		typ, _ := ev.data["type"].(string)
		if ev.name != typ {
			return m, fmt.Errorf("event %d: name %q but type %q", i, ev.name, typ)
		}
		if state == "stopped" || state == "error" {
			return m, fmt.Errorf("event %d (%s) after the end", i, typ)
		}
		if typ == "ping" {
			continue
		}
		if typ == "error" {
			e, _ := ev.data["error"].(map[string]any)
			m.err, _ = e["type"].(string)
			state = "error"
			continue
		}
		if state == "start" {
			if typ != "message_start" {
				return m, fmt.Errorf("event %d: %s before message_start", i, typ)
			}
			msg, _ := ev.data["message"].(map[string]any)
			if msg["type"] != "message" || msg["role"] != "assistant" || msg["stop_reason"] != nil || !strings.HasPrefix(fmt.Sprint(msg["id"]), "msg_") {
				return m, fmt.Errorf("message_start %s", ev.raw)
			}
			if c, ok := msg["content"].([]any); !ok || len(c) != 0 {
				return m, fmt.Errorf("message_start content %s", ev.raw)
			}
			for k, v := range msg["usage"].(map[string]any) {
				usage[k] = v
			}
			state = "body"
			continue
		}
		idx := -2
		if f, ok := ev.data["index"].(float64); ok {
			idx = int(f)
		}
		switch typ {
		case "content_block_start":
			if state != "body" || open != -1 || idx != len(blocks) {
				return m, fmt.Errorf("event %d: block %d starts (open %d, %d blocks)", i, idx, open, len(blocks))
			}
			cb, _ := ev.data["content_block"].(map[string]any)
			b := block{typ: fmt.Sprint(cb["type"])}
			switch b.typ {
			case "text":
				b.text = fmt.Sprint(cb["text"])
			case "thinking":
				b.text = fmt.Sprint(cb["thinking"])
				b.sig = fmt.Sprint(cb["signature"])
			case "redacted_thinking":
				b.text = fmt.Sprint(cb["data"])
			case "tool_use":
				b.id, b.name = fmt.Sprint(cb["id"]), fmt.Sprint(cb["name"])
				if in, ok := cb["input"].(map[string]any); !ok || len(in) != 0 || b.id == "" {
					return m, fmt.Errorf("tool_use start %s", ev.raw)
				}
			default:
				return m, fmt.Errorf("block type %q", b.typ)
			}
			blocks = append(blocks, b)
			open = idx
		case "content_block_delta":
			if open < 0 || idx != open {
				return m, fmt.Errorf("event %d: delta for block %d, open %d", i, idx, open)
			}
			d, _ := ev.data["delta"].(map[string]any)
			b := &blocks[open]
			switch dt := d["type"]; {
			case b.typ == "text" && dt == "text_delta":
				b.text += d["text"].(string)
			case b.typ == "thinking" && dt == "thinking_delta":
				b.text += d["thinking"].(string)
			case b.typ == "thinking" && dt == "signature_delta":
				b.sig += d["signature"].(string)
			case b.typ == "tool_use" && dt == "input_json_delta":
				b.text += d["partial_json"].(string)
			default:
				return m, fmt.Errorf("event %d: %v delta in a %s block", i, dt, b.typ)
			}
		case "content_block_stop":
			if open < 0 || idx != open {
				return m, fmt.Errorf("event %d: stop of block %d, open %d", i, idx, open)
			}
			open = -1
		case "message_delta":
			if state != "body" || open != -1 {
				return m, fmt.Errorf("event %d: message_delta with block %d open", i, open)
			}
			d, _ := ev.data["delta"].(map[string]any)
			m.stop, _ = d["stop_reason"].(string)
			if m.stop == "" {
				return m, fmt.Errorf("message_delta without stop_reason")
			}
			u, _ := ev.data["usage"].(map[string]any)
			for k, v := range u {
				usage[k] = v
			}
			state = "delta"
		case "message_stop":
			if state != "delta" {
				return m, fmt.Errorf("event %d: message_stop without message_delta", i)
			}
			state = "stopped"
		default:
			return m, fmt.Errorf("event %d: unknown type %q", i, typ)
		}
	}
	if state != "stopped" && state != "error" {
		return m, fmt.Errorf("stream not finished (state %s)", state)
	}
	m.blocks, m.usage = blocks, usage
	return m, nil
}

// checkToolInputs: every tool_use input assembles to JSON. Anthropic sends no
// fragment at all for an empty input.
func checkToolInputs(m message) error {
	for _, b := range m.blocks {
		if b.typ == "tool_use" && b.text != "" && !json.Valid([]byte(b.text)) {
			return fmt.Errorf("tool %s input %q is not JSON", b.name, b.text)
		}
	}
	return nil
}

// TestStreamEncoderRoundTrip: Anthropic stream -> upstream adapter -> neutral
// chunks -> StreamEncoder gives back the same message.
func TestStreamEncoderRoundTrip(t *testing.T) {
	for _, name := range []string{"stream_text.sse", "stream_thinking.sse", "stream_tool_use.sse", "stream_thinking_tool.sse"} {
		src := providertest.Fixture(t, name)
		want, err := checkSequence(parseEvents(t, []byte(src)))
		if err != nil {
			t.Fatalf("%s: the fixture itself: %v", name, err)
		}
		u := newUpstream(t, providertest.SSEHandler(src, 1<<20))
		s := startStream(t, u, providertest.SimpleRequest)
		enc := NewStreamEncoder("client-model")
		var out bytes.Buffer
		for {
			c, err := s.Recv()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := enc.WriteChunk(&out, c); err != nil {
				t.Fatal(err)
			}
		}
		if err := enc.Finish(&out, nil); err != nil {
			t.Fatal(err)
		}
		events := parseEvents(t, out.Bytes())
		got, err := checkSequence(events)
		if err == nil {
			err = checkToolInputs(got)
		}
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out.String())
		}
		// A tool call without arguments streams "{}" rather than nothing.
		for i := range want.blocks {
			if want.blocks[i].typ == "tool_use" && want.blocks[i].text == "" {
				want.blocks[i].text = "{}"
			}
		}
		if !reflect.DeepEqual(got.blocks, want.blocks) || got.stop != want.stop {
			t.Errorf("%s:\n got %+v %s\nwant %+v %s", name, got.blocks, got.stop, want.blocks, want.stop)
		}
		for _, k := range []string{"input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens", "output_tokens"} {
			w, g := want.usage[k], got.usage[k]
			if w == nil {
				w = 0.0
			}
			if w != g {
				t.Errorf("%s: usage %s = %v, want %v", name, k, g, w)
			}
		}
		if msg := events[0].data["message"].(map[string]any); msg["model"] != "client-model" || !strings.HasPrefix(msg["id"].(string), "msg_01") {
			t.Errorf("%s: message_start %s", name, events[0].raw)
		}
	}
}

func strp(s string) *string { return &s }
func intp(i int) *int       { return &i }

func chunk(d schema.Delta, finish string) *schema.ChatChunk {
	c := &schema.ChatChunk{ID: "chatcmpl-123", Object: "chat.completion.chunk", Model: "gpt-5-2025-08-07",
		Choices: []schema.ChunkChoice{{Delta: d}}}
	if finish != "" {
		c.Choices[0].FinishReason = &finish
	}
	return c
}

// TestStreamEncoderExact checks the exact event sequence and payloads for an
// answer that reasons, writes, then calls two tools.
func TestStreamEncoderExact(t *testing.T) {
	usage := &schema.Usage{PromptTokens: 1500, CompletionTokens: 80, TotalTokens: 1580,
		PromptTokensDetails: &schema.PromptTokensDetails{CachedTokens: 1024, CacheWriteTokens: 100}}
	chunks := []*schema.ChatChunk{
		chunk(schema.Delta{Role: "assistant", Content: strp("")}, ""),
		chunk(schema.Delta{Reasoning: strp("Let me ")}, ""),
		chunk(schema.Delta{Reasoning: strp("think.")}, ""),
		chunk(schema.Delta{Content: strp("Checking.")}, ""),
		chunk(schema.Delta{ToolCalls: []schema.ToolCall{{Index: intp(0), ID: "call_a", Type: "function", Function: schema.ToolCallFunction{Name: "get_weather", Arguments: ""}}}}, ""),
		chunk(schema.Delta{ToolCalls: []schema.ToolCall{{Index: intp(0), Function: schema.ToolCallFunction{Arguments: `{"city":`}}}}, ""),
		chunk(schema.Delta{ToolCalls: []schema.ToolCall{{Index: intp(0), Function: schema.ToolCallFunction{Arguments: `"Paris"}`}}}}, ""),
		chunk(schema.Delta{ToolCalls: []schema.ToolCall{{Index: intp(1), ID: "call_b", Type: "function", Function: schema.ToolCallFunction{Name: "get_time", Arguments: `{}`}}}}, ""),
		chunk(schema.Delta{}, "tool_calls"),
		{ID: "chatcmpl-123", Object: "chat.completion.chunk", Choices: []schema.ChunkChoice{}, Usage: usage},
	}
	enc := NewStreamEncoder("claude-sonnet-4-20250514")
	enc.InputTokens = 1400
	var out bytes.Buffer
	for _, c := range chunks {
		if err := enc.WriteChunk(&out, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Finish(&out, nil); err != nil {
		t.Fatal(err)
	}
	if err := enc.Finish(&out, nil); err != nil {
		t.Fatal("second Finish:", err)
	}
	want := strings.Join([]string{
		`event: message_start`,
		`data: {"type":"message_start","message":{"id":"msg_chatcmpl-123","type":"message","role":"assistant","model":"claude-sonnet-4-20250514","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":1400,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}}}`,
		``,
		`event: content_block_start`,
		`data: {"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}`,
		``,
		`event: content_block_delta`,
		`data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Let me "}}`,
		``,
		`event: content_block_delta`,
		`data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"think."}}`,
		``,
		`event: content_block_stop`,
		`data: {"type":"content_block_stop","index":0}`,
		``,
		`event: content_block_start`,
		`data: {"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}`,
		``,
		`event: content_block_delta`,
		`data: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Checking."}}`,
		``,
		`event: content_block_stop`,
		`data: {"type":"content_block_stop","index":1}`,
		``,
		`event: content_block_start`,
		`data: {"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"call_a","name":"get_weather","input":{}}}`,
		``,
		`event: content_block_delta`,
		`data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"city\":"}}`,
		``,
		`event: content_block_delta`,
		`data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"\"Paris\"}"}}`,
		``,
		`event: content_block_stop`,
		`data: {"type":"content_block_stop","index":2}`,
		``,
		`event: content_block_start`,
		`data: {"type":"content_block_start","index":3,"content_block":{"type":"tool_use","id":"call_b","name":"get_time","input":{}}}`,
		``,
		`event: content_block_delta`,
		`data: {"type":"content_block_delta","index":3,"delta":{"type":"input_json_delta","partial_json":"{}"}}`,
		``,
		`event: content_block_stop`,
		`data: {"type":"content_block_stop","index":3}`,
		``,
		`event: message_delta`,
		`data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"input_tokens":376,"cache_creation_input_tokens":100,"cache_read_input_tokens":1024,"output_tokens":80}}`,
		``,
		`event: message_stop`,
		`data: {"type":"message_stop"}`,
		``, ``,
	}, "\n")
	if out.String() != want {
		t.Errorf("got:\n%s", out.String())
	}
	if enc.ID() != "msg_chatcmpl-123" {
		t.Errorf("id %q", enc.ID())
	}
	if err := enc.WriteChunk(&out, chunks[1]); err != ErrStreamFinished {
		t.Errorf("write after finish: %v", err)
	}
}

func TestStreamEncoderEmptyAndErrors(t *testing.T) {
	// Nothing at all: a complete empty message.
	var out bytes.Buffer
	enc := NewStreamEncoder("m")
	if err := enc.Finish(&out, &schema.Usage{PromptTokens: 5}); err != nil {
		t.Fatal(err)
	}
	m, err := checkSequence(parseEvents(t, out.Bytes()))
	if err != nil || len(m.blocks) != 0 || m.stop != "end_turn" || m.usage["input_tokens"] != 5.0 {
		t.Errorf("%+v %v\n%s", m, err, out.String())
	}

	// An error mid-stream ends it.
	out.Reset()
	enc = NewStreamEncoder("m")
	_ = enc.WriteChunk(&out, chunk(schema.Delta{Content: strp("partial")}, ""))
	if err := enc.ErrorEvent(&out, ErrorType(529), "Upstream overloaded"); err != nil {
		t.Fatal(err)
	}
	events := parseEvents(t, out.Bytes())
	m, err = checkSequence(events)
	if err != nil || m.err != "overloaded_error" {
		t.Errorf("%+v %v", m, err)
	}
	if last := events[len(events)-1].raw; last != `{"type":"error","error":{"type":"overloaded_error","message":"Upstream overloaded"}}` {
		t.Errorf("error event %s", last)
	}
	if err := enc.WriteChunk(&out, chunk(schema.Delta{Content: strp("x")}, "")); err != ErrStreamFinished {
		t.Errorf("write after error: %v", err)
	}

	// Interleaved tool call fragments cannot be expressed.
	enc = NewStreamEncoder("m")
	out.Reset()
	for i, d := range []schema.Delta{
		{ToolCalls: []schema.ToolCall{{Index: intp(0), ID: "a", Function: schema.ToolCallFunction{Name: "f"}}}},
		{ToolCalls: []schema.ToolCall{{Index: intp(1), ID: "b", Function: schema.ToolCallFunction{Name: "g"}}}},
		{ToolCalls: []schema.ToolCall{{Index: intp(0), Function: schema.ToolCallFunction{Arguments: "{}"}}}},
	} {
		err := enc.WriteChunk(&out, chunk(d, ""))
		if (i == 2) != (err == ErrInterleavedToolCalls) {
			t.Errorf("chunk %d: %v", i, err)
		}
	}

	// A write error is returned.
	enc = NewStreamEncoder("m")
	boom := errors.New("client gone")
	if err := enc.WriteChunk(failWriter{boom}, chunk(schema.Delta{Content: strp("x")}, "")); !errors.Is(err, boom) {
		t.Errorf("err %v", err)
	}
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }

// Tool calls without indices (some compatible servers), ids generated when
// missing, refusal text, the model taken from the chunk, other choices ignored.
func TestStreamEncoderLenient(t *testing.T) {
	enc := &StreamEncoder{}
	var out bytes.Buffer
	other := chunk(schema.Delta{Content: strp("ignored")}, "")
	other.Choices[0].Index = 1
	for _, c := range []*schema.ChatChunk{
		other,
		chunk(schema.Delta{Refusal: strp("I can't.")}, ""),
		chunk(schema.Delta{ToolCalls: []schema.ToolCall{{ID: "c1", Function: schema.ToolCallFunction{Name: "f", Arguments: `{"a":`}}}}, ""),
		chunk(schema.Delta{ToolCalls: []schema.ToolCall{{Function: schema.ToolCallFunction{Arguments: `1}`}}}}, ""),
		chunk(schema.Delta{ToolCalls: []schema.ToolCall{{Function: schema.ToolCallFunction{Name: "g", Arguments: `{}`}}}}, "stop"),
		nil,
	} {
		if err := enc.WriteChunk(&out, c); err != nil {
			t.Fatal(err)
		}
	}
	_ = enc.Finish(&out, nil)
	events := parseEvents(t, out.Bytes())
	m, err := checkSequence(events)
	if err != nil {
		t.Fatal(err, out.String())
	}
	if len(m.blocks) != 3 || m.blocks[0].text != "I can't." || m.blocks[1].text != `{"a":1}` || m.blocks[1].id != "c1" ||
		m.blocks[2].name != "g" || m.blocks[2].text != "{}" || !strings.HasPrefix(m.blocks[2].id, "toolu_") || m.stop != "end_turn" {
		t.Errorf("%+v", m)
	}
	if events[0].data["message"].(map[string]any)["model"] != "gpt-5-2025-08-07" {
		t.Errorf("model %s", events[0].raw)
	}
}

// TestStreamEncoderFromAdapterError: a stream that breaks mid-way is ended
// with the error event the endpoint derives from the error.
func TestStreamEncoderFromAdapterError(t *testing.T) {
	u := newUpstream(t, providertest.SSEHandler(providertest.Fixture(t, "stream_error.sse"), 1<<20))
	s, err := u.provider().ChatStream(context.Background(), u.target(), providertest.ChatRequest(t, providertest.SimpleRequest))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	enc := NewStreamEncoder("m")
	var out bytes.Buffer
	for {
		c, err := s.Recv()
		if err != nil {
			pe := asError(t, err, 1)
			_ = enc.ErrorEvent(&out, ErrorType(pe.Status), pe.Message)
			break
		}
		_ = enc.WriteChunk(&out, c)
	}
	m, err := checkSequence(parseEvents(t, out.Bytes()))
	if err != nil || m.err != "overloaded_error" {
		t.Errorf("%+v %v\n%s", m, err, out.String())
	}
}
