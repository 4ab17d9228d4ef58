package odock

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"

	"github.com/llmgw/gateway/app/schema"
)

// ErrStreamFinished: a write after Finish or Error.
var ErrStreamFinished = errors.New("odock: stream already finished")

// StreamEncoder writes neutral chat chunks as Odock stream events
// (server-sent events, see the package documentation):
//
//	start, delta*, done      or      [start, delta*,] error
//
// The first chunk opens the stream with a start event. Each chunk's choice 0
// becomes at most one delta event carrying its text (content; a refusal is
// sent as content), its reasoning (thinking) and its tool call fragments;
// chunks with nothing to say (a role-only first delta, a bare finish_reason)
// write nothing. Tool calls are renumbered from 0 in order of appearance.
// Finish writes the done event, whose response is exactly what FromChat
// would answer for the same completion. Not safe for concurrent use.
type StreamEncoder struct {
	// Provider and Model are reported in start and done; Provider is the
	// gateway provider id (reported under its Odock name), Model the served
	// model (reported without the provider prefix). Set them before the
	// first write; an empty Model is taken from the first chunk.
	Provider string
	Model    string

	started  bool
	finished bool
	id       string
	text     strings.Builder
	thinking strings.Builder
	refusal  strings.Builder
	calls    []schema.ToolCall
	byIndex  map[int]int // upstream tool call index -> index in calls
	finish   string
	usage    *schema.Usage
}

// NewStreamEncoder returns an encoder for a stream served by model (the
// gateway's served model name, "provider/model") from provider (the gateway
// provider id; "" to take it from the model's prefix).
func NewStreamEncoder(model, provider string) *StreamEncoder {
	return &StreamEncoder{Provider: provider, Model: model}
}

// Chunk encodes one chunk. A chunk's usage, if any, is kept for Finish.
func (e *StreamEncoder) Chunk(w io.Writer, ch *schema.ChatChunk) error {
	if e.finished {
		return ErrStreamFinished
	}
	if ch == nil {
		return nil
	}
	if ch.Usage != nil {
		e.usage = ch.Usage
	}
	if !e.started {
		if e.Model == "" {
			e.Model = ch.Model
		}
		if err := e.start(w, ch.ID); err != nil {
			return err
		}
	}
	for i := range ch.Choices {
		c := &ch.Choices[i]
		if c.Index != 0 {
			continue
		}
		if c.FinishReason != nil && *c.FinishReason != "" {
			e.finish = *c.FinishReason
		}
		ev := e.delta(&c.Delta)
		if ev == nil {
			continue
		}
		if err := writeEvent(w, ev); err != nil {
			return err
		}
	}
	return nil
}

// delta accumulates a choice delta and returns its event (nil if empty).
func (e *StreamEncoder) delta(d *schema.Delta) *StreamEvent {
	ev := &StreamEvent{Type: EventDelta}
	has := false
	if d.Reasoning != nil && *d.Reasoning != "" {
		e.thinking.WriteString(*d.Reasoning)
		ev.Thinking, has = d.Reasoning, true
	}
	var text strings.Builder
	if d.Content != nil && *d.Content != "" {
		e.text.WriteString(*d.Content)
		text.WriteString(*d.Content)
	}
	if d.Refusal != nil && *d.Refusal != "" {
		e.refusal.WriteString(*d.Refusal)
		text.WriteString(*d.Refusal)
	}
	if text.Len() > 0 {
		s := text.String()
		ev.Content, has = &s, true
	}
	for i := range d.ToolCalls {
		if td, ok := e.toolCall(&d.ToolCalls[i]); ok {
			ev.ToolCalls = append(ev.ToolCalls, td)
			has = true
		}
	}
	if !has {
		return nil
	}
	return ev
}

// toolCall accumulates a tool call fragment and returns its delta.
func (e *StreamEncoder) toolCall(tc *schema.ToolCall) (ToolCallDelta, bool) {
	if e.byIndex == nil {
		e.byIndex = map[int]int{}
	}
	var idx int
	var known bool
	switch {
	case tc.Index != nil:
		idx, known = e.byIndex[*tc.Index]
		if !known {
			idx = len(e.calls)
			e.byIndex[*tc.Index] = idx
		}
	case tc.ID == "" && tc.Function.Name == "" && len(e.calls) > 0:
		// No index (some compatible servers): a fragment without id or name
		// continues the last call.
		idx, known = len(e.calls)-1, true
	default:
		idx = len(e.calls)
	}
	if !known {
		e.calls = append(e.calls, schema.ToolCall{Type: "function"})
	}
	call := &e.calls[idx]
	td := ToolCallDelta{Index: idx, Arguments: tc.Function.Arguments}
	if call.ID == "" && tc.ID != "" {
		call.ID, td.ID = tc.ID, tc.ID
	}
	if call.Function.Name == "" && tc.Function.Name != "" {
		call.Function.Name, td.Name = tc.Function.Name, tc.Function.Name
	}
	call.Function.Arguments += tc.Function.Arguments
	return td, !known || td.ID != "" || td.Name != "" || td.Arguments != ""
}

func (e *StreamEncoder) start(w io.Writer, id string) error {
	e.started = true
	e.id = id
	prov, model := splitModel(e.Model, e.Provider)
	return writeEvent(w, &StreamEvent{Type: EventStart, Provider: OdockProvider(prov), Model: model, ProviderRequestID: id})
}

// Finish ends the stream with the done event: the complete response, with
// usage (the argument when not nil, else the last usage a chunk carried) and
// provider_request_id id (the first chunk's id when id is empty). created
// is not reported (Odock's response has no timestamp). A stream that never
// got a chunk still gets its start event. Calling Finish again does nothing.
func (e *StreamEncoder) Finish(w io.Writer, id string, created int64, usage *schema.Usage) error {
	_ = created
	if e.finished {
		return nil
	}
	if usage != nil {
		e.usage = usage
	}
	if id == "" {
		id = e.id
	}
	if !e.started {
		if err := e.start(w, id); err != nil {
			return err
		}
	}
	e.finished = true
	return writeEvent(w, &StreamEvent{Type: EventDone, Response: e.Response(id)})
}

// Response is the response accumulated so far, as FromChat builds it.
func (e *StreamEncoder) Response(id string) *Response {
	msg := schema.Message{Role: "assistant", Reasoning: e.thinking.String(), ToolCalls: e.calls}
	switch {
	case e.text.Len() > 0:
		// A refusal after text was streamed as content: keep it there.
		msg.Content = schema.TextContent(e.text.String() + e.refusal.String())
	case e.refusal.Len() > 0:
		r := e.refusal.String()
		msg.Refusal = &r
	}
	resp := &schema.ChatResponse{ID: id, Model: e.Model, Usage: e.usage,
		Choices: []schema.Choice{{Message: msg, FinishReason: e.finish}}}
	return FromChat(resp, e.Provider)
}

// Error ends the stream with an error event ({"type":"error","error":{code,
// message, status}}, code defaulting as in ErrorBody). It may come first (no
// start event is written) and nothing may follow it.
func (e *StreamEncoder) Error(w io.Writer, status int, code, message string) error {
	if e.finished {
		return ErrStreamFinished
	}
	e.finished = true
	d := errorDetail(status, code, message)
	return writeEvent(w, &StreamEvent{Type: EventError, Error: &d})
}

// writeEvent writes one server-sent event in a single Write, so a flushing
// writer never sends half an event.
func writeEvent(w io.Writer, ev *StreamEvent) error {
	data, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	b.Grow(len(ev.Type) + len(data) + 16)
	b.WriteString("event: ")
	b.WriteString(ev.Type)
	b.WriteString("\ndata: ")
	b.Write(data)
	b.WriteString("\n\n")
	_, err = w.Write(b.Bytes())
	return err
}
