package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"

	"github.com/llmgw/gateway/app/schema"
)

var (
	// ErrStreamFinished: WriteChunk after Finish or ErrorEvent.
	ErrStreamFinished = errors.New("anthropic: stream already finished")
	// ErrInterleavedToolCalls: a chunk continued a tool call after another
	// content block had started. Anthropic streams blocks one after the
	// other, so such a stream cannot be expressed; the endpoint should end
	// the stream with ErrorEvent. OpenAI and compatible upstreams send tool
	// calls one after the other, so this is a broken upstream.
	ErrInterleavedToolCalls = errors.New("anthropic: tool call arguments interleaved with other content")
)

// StreamEncoder writes neutral chat chunks as Anthropic's Messages stream:
//
//	message_start
//	(content_block_start, content_block_delta*, content_block_stop)*
//	message_delta (stop_reason, usage)
//	message_stop
//
// Reasoning deltas become thinking blocks (thinking_delta), content deltas
// text blocks (text_delta) and each tool call a tool_use block whose
// arguments stream as input_json_delta. reasoning_details of Anthropic's
// format (an Anthropic upstream's) take over from the reasoning text: each
// index is a thinking block of its own, whose signature is sent as
// signature_delta, and encrypted items are redacted_thinking blocks, so the
// client gets the blocks exactly as Anthropic issued them. A block is closed when the next delta
// is of another kind (or another tool call), so blocks never overlap and
// their indices count up from 0. Only choice 0 is encoded.
//
// Use: WriteChunk for every chunk, the final usage chunk included, then
// Finish once; on a failure mid-stream, ErrorEvent instead of Finish. The
// encoder is not safe for concurrent use.
type StreamEncoder struct {
	// Model is the model reported in message_start (the name the client
	// asked for); when empty, the first chunk's model is used.
	Model string
	// InputTokens, when set before the first write, is reported in
	// message_start's usage (Anthropic clients read the prompt size there;
	// the neutral stream only tells it at the end, so an estimate is better
	// than nothing). message_delta carries the final counts.
	InputTokens int

	id       string
	started  bool
	finished bool
	next     int      // index of the next block
	open     string   // kind of the open block: "", text, thinking, redacted_thinking, tool_use
	openTool int      // tool index of the open tool_use block
	tools    toolSeen // tool indices that got a block
	stop     string
	usage    *schema.Usage

	// thinkKey is the reasoning_details index of the open thinking block (-1:
	// opened by reasoning text alone), thinkSigned whether its signature was
	// sent (the block is complete).
	thinkKey    int
	thinkSigned bool
}

type toolSeen map[int]bool

// NewStreamEncoder returns an encoder reporting model.
func NewStreamEncoder(model string) *StreamEncoder {
	return &StreamEncoder{Model: model}
}

// WriteChunk encodes one chunk. A chunk's usage is kept for Finish.
func (e *StreamEncoder) WriteChunk(w io.Writer, ch *schema.ChatChunk) error {
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
		if err := e.delta(w, &c.Delta); err != nil {
			return err
		}
		if c.FinishReason != nil && *c.FinishReason != "" {
			e.stop = stopReason(*c.FinishReason)
			if err := e.closeBlock(w); err != nil {
				return err
			}
		}
	}
	return nil
}

func (e *StreamEncoder) delta(w io.Writer, d *schema.Delta) error {
	if err := e.reasoning(w, d); err != nil {
		return err
	}
	for _, text := range []*string{d.Content, d.Refusal} {
		if text == nil || *text == "" {
			continue
		}
		if err := e.ensure(w, "text", ContentBlock{Type: "text"}); err != nil {
			return err
		}
		if err := e.blockDelta(w, blockDelta{Type: "text_delta", Text: text}); err != nil {
			return err
		}
	}
	for i := range d.ToolCalls {
		if err := e.toolCall(w, &d.ToolCalls[i]); err != nil {
			return err
		}
	}
	return nil
}

// reasoning writes a delta's reasoning. A delta's reasoning text is the text
// its reasoning_details carry, when they carry any: it is written once, from
// the details when they are Anthropic's.
func (e *StreamEncoder) reasoning(w io.Writer, d *schema.Delta) error {
	carried := false // the details gave the text
	for i := range d.ReasoningDetails {
		rd := &d.ReasoningDetails[i]
		if !isAnthropicDetail(rd, false) {
			continue
		}
		switch rd.Type {
		case schema.ReasoningText:
			if rd.Text == "" && rd.Signature == "" {
				continue
			}
			if err := e.ensureThinking(w, rd.Index); err != nil {
				return err
			}
			if rd.Text != "" {
				carried = true
				if err := e.blockDelta(w, blockDelta{Type: "thinking_delta", Thinking: &rd.Text}); err != nil {
					return err
				}
			}
			if rd.Signature != "" {
				e.thinkSigned = true
				if err := e.blockDelta(w, blockDelta{Type: "signature_delta", Signature: &rd.Signature}); err != nil {
					return err
				}
			}
		case schema.ReasoningEncrypted:
			if rd.Data == "" {
				continue
			}
			if err := e.closeBlock(w); err != nil {
				return err
			}
			if err := e.openBlock(w, "redacted_thinking", ContentBlock{Type: "redacted_thinking", Data: rd.Data}); err != nil {
				return err
			}
			if err := e.closeBlock(w); err != nil {
				return err
			}
		}
	}
	if carried || d.Reasoning == nil || *d.Reasoning == "" {
		return nil
	}
	if err := e.ensureThinking(w, -1); err != nil {
		return err
	}
	return e.blockDelta(w, blockDelta{Type: "thinking_delta", Thinking: d.Reasoning})
}

// ensureThinking opens a thinking block for reasoning_details index key (-1:
// any) unless the open one can take it: a thinking block of that index, or
// of none, whose signature has not been sent.
func (e *StreamEncoder) ensureThinking(w io.Writer, key int) error {
	if e.open == "thinking" && !e.thinkSigned && (key < 0 || e.thinkKey < 0 || e.thinkKey == key) {
		if key >= 0 {
			e.thinkKey = key
		}
		return nil
	}
	if err := e.closeBlock(w); err != nil {
		return err
	}
	e.thinkKey, e.thinkSigned = key, false
	return e.openBlock(w, "thinking", ContentBlock{Type: "thinking"})
}

func (e *StreamEncoder) toolCall(w io.Writer, tc *schema.ToolCall) error {
	var idx int
	switch {
	case tc.Index != nil:
		idx = *tc.Index
	case tc.ID != "" || tc.Function.Name != "" || e.open != "tool_use":
		// No index (some compatible servers): a call with an id or a name is
		// a new one, anything else continues the open one.
		idx = len(e.tools)
		for e.tools[idx] {
			idx++
		}
	default:
		idx = e.openTool
	}
	if !e.tools[idx] {
		if err := e.closeBlock(w); err != nil {
			return err
		}
		if e.tools == nil {
			e.tools = toolSeen{}
		}
		e.tools[idx] = true
		block := ContentBlock{Type: "tool_use", ID: toolUseID(tc.ID), Name: tc.Function.Name}
		if err := e.openBlock(w, "tool_use", block); err != nil {
			return err
		}
		e.openTool = idx
	} else if e.open != "tool_use" || e.openTool != idx {
		if tc.Function.Arguments == "" {
			return nil // an empty continuation says nothing
		}
		return ErrInterleavedToolCalls
	}
	if tc.Function.Arguments == "" {
		return nil
	}
	return e.blockDelta(w, blockDelta{Type: "input_json_delta", PartialJSON: &tc.Function.Arguments})
}

// ensure opens a block of the kind unless one is open.
func (e *StreamEncoder) ensure(w io.Writer, kind string, block ContentBlock) error {
	if e.open == kind {
		return nil
	}
	if err := e.closeBlock(w); err != nil {
		return err
	}
	return e.openBlock(w, kind, block)
}

func (e *StreamEncoder) openBlock(w io.Writer, kind string, block ContentBlock) error {
	e.open = kind
	e.next++
	return e.event(w, "content_block_start", blockStartEvent{Type: "content_block_start", Index: e.next - 1, ContentBlock: block})
}

// blockDelta writes a delta of the open block.
func (e *StreamEncoder) blockDelta(w io.Writer, d blockDelta) error {
	return e.event(w, "content_block_delta", blockDeltaEvent{Type: "content_block_delta", Index: e.next - 1, Delta: d})
}

func (e *StreamEncoder) closeBlock(w io.Writer) error {
	if e.open == "" {
		return nil
	}
	e.open = ""
	return e.event(w, "content_block_stop", blockStopEvent{Type: "content_block_stop", Index: e.next - 1})
}

func (e *StreamEncoder) start(w io.Writer, id string) error {
	e.started = true
	e.id = messageID(id)
	return e.event(w, "message_start", messageStartEvent{Type: "message_start", Message: MessagesResponse{
		ID: e.id, Type: "message", Role: "assistant", Model: e.Model, Content: []ContentBlock{},
		Usage: Usage{InputTokens: e.InputTokens},
	}})
}

// Finish ends the stream: it closes the open block and writes message_delta
// (stop_reason, and usage from the usage argument when not nil, else from the
// last chunk that carried usage) and message_stop. Finish on a stream that
// never received a chunk writes a complete empty message. Calling it again
// does nothing.
func (e *StreamEncoder) Finish(w io.Writer, usage *schema.Usage) error {
	if e.finished {
		return nil
	}
	if usage != nil {
		e.usage = usage
	}
	if !e.started {
		if err := e.start(w, ""); err != nil {
			return err
		}
	}
	if err := e.closeBlock(w); err != nil {
		return err
	}
	e.finished = true
	stop := e.stop
	if stop == "" {
		stop = "end_turn"
	}
	if err := e.event(w, "message_delta", messageDeltaEvent{Type: "message_delta",
		Delta: messageDelta{StopReason: stop}, Usage: anthropicUsage(e.usage)}); err != nil {
		return err
	}
	return e.event(w, "message_stop", typeOnly{Type: "message_stop"})
}

// ErrorEvent ends the stream with an error event, as Anthropic reports
// failures after the response has started: errType is an Anthropic error
// type (ErrorType maps an HTTP status to one). Nothing may be written after
// it.
func (e *StreamEncoder) ErrorEvent(w io.Writer, errType, message string) error {
	e.finished = true
	return e.event(w, "error", errorBody{Type: "error", Error: errorDetail{Type: errType, Message: message}})
}

// Ping writes a ping event, Anthropic's keep-alive, e.g. while waiting for
// the first chunk. It is valid anywhere in the stream.
func (e *StreamEncoder) Ping(w io.Writer) error {
	return e.event(w, "ping", typeOnly{Type: "ping"})
}

// ID is the message id sent in message_start ("" before the first write).
func (e *StreamEncoder) ID() string { return e.id }

// event writes one server-sent event in one Write, so that a flushing writer
// never sends half an event.
func (e *StreamEncoder) event(w io.Writer, name string, payload any) error {
	data, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	b.Grow(len(name) + len(data) + 16)
	b.WriteString("event: ")
	b.WriteString(name)
	b.WriteString("\ndata: ")
	b.Write(data)
	b.WriteString("\n\n")
	_, err = w.Write(b.Bytes())
	return err
}

// The event payloads, as structs so that fields keep Anthropic's order.
type (
	typeOnly struct {
		Type string `json:"type"`
	}
	messageStartEvent struct {
		Type    string           `json:"type"`
		Message MessagesResponse `json:"message"`
	}
	blockStartEvent struct {
		Type         string       `json:"type"`
		Index        int          `json:"index"`
		ContentBlock ContentBlock `json:"content_block"`
	}
	blockDeltaEvent struct {
		Type  string     `json:"type"`
		Index int        `json:"index"`
		Delta blockDelta `json:"delta"`
	}
	blockDelta struct {
		Type        string  `json:"type"`
		Text        *string `json:"text,omitempty"`
		Thinking    *string `json:"thinking,omitempty"`
		Signature   *string `json:"signature,omitempty"`
		PartialJSON *string `json:"partial_json,omitempty"`
	}
	blockStopEvent struct {
		Type  string `json:"type"`
		Index int    `json:"index"`
	}
	messageDeltaEvent struct {
		Type  string       `json:"type"`
		Delta messageDelta `json:"delta"`
		Usage Usage        `json:"usage"`
	}
	messageDelta struct {
		StopReason   string  `json:"stop_reason"`
		StopSequence *string `json:"stop_sequence"`
	}
)
