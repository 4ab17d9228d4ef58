package openai

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"

	"github.com/llmgw/gateway/app/schema"
)

var (
	// ErrResponsesStreamFinished: a write after Finish or ErrorEvent.
	ErrResponsesStreamFinished = errors.New("openai: responses stream already finished")
	// ErrResponsesInterleavedToolCalls: a chunk continued a tool call after
	// another output item had started. Output items are streamed one after
	// the other (the done event of a function call carries its final
	// arguments), so such a stream cannot be expressed; the endpoint should
	// end the stream with ErrorEvent. OpenAI and compatible upstreams send
	// tool calls one after the other, so this is a broken upstream.
	ErrResponsesInterleavedToolCalls = errors.New("openai: tool call arguments interleaved with other output")
)

// ResponsesStreamEncoder writes neutral chat chunks as a Responses API event
// stream. Every event is "event: <type>" plus "data: <json>", the JSON
// carrying the same type and a sequence_number counting from 0:
//
//	response.created, response.in_progress
//	per output item:
//	  response.output_item.added
//	  reasoning: response.reasoning_summary_part.added,
//	             response.reasoning_summary_text.delta*, .done,
//	             response.reasoning_summary_part.done
//	  message:   per content part (output_text or refusal):
//	             response.content_part.added,
//	             response.output_text.delta* and .done (or
//	             response.refusal.delta* and .done),
//	             response.content_part.done
//	  function_call: response.function_call_arguments.delta*, .done
//	  response.output_item.done
//	response.completed (or response.incomplete), with the full response
//
// Reasoning deltas make a reasoning item, content and refusal deltas a
// message item (text then refusal are two parts of one message), each tool
// call a function_call item. An item is closed when a delta of another kind
// (or another tool call) arrives, or at the finish_reason, so items never
// overlap and output_index counts up from 0. Item ids are derived from the
// response id as in FromChatResponse. Only choice 0 is encoded.
//
// Use: WriteChunk for every chunk, then Finish once; on a failure
// mid-stream, ErrorEvent instead of Finish. The encoder is not safe for
// concurrent use.
type ResponsesStreamEncoder struct {
	// Model is the model reported in the response (the name the client asked
	// for); when empty, the first chunk's model is used.
	Model string
	// Request, when set before the first write, is echoed in the response
	// objects of the lifecycle events (see ResponsesResponse.EchoRequest).
	Request *ResponsesRequest

	resp      *ResponsesResponse // the response so far; Output grows item by item
	ids       itemIDs
	seq       int
	started   bool
	finished  bool
	open      string          // type of the open item: "", reasoning, message, function_call
	part      string          // type of the open part of the open message: "", output_text, refusal
	text      strings.Builder // text of the open part or reasoning summary
	tools     map[int]int     // tool call index -> output index
	openTool  int             // tool call index of the open function_call item
	answered  bool            // a message or function_call item was opened
	finishRsn string
	usage     *schema.Usage
}

// NewResponsesStreamEncoder returns an encoder reporting model.
func NewResponsesStreamEncoder(model string) *ResponsesStreamEncoder {
	return &ResponsesStreamEncoder{Model: model}
}

// ID is the response id sent in response.created ("" before the first write).
func (e *ResponsesStreamEncoder) ID() string {
	if e.resp == nil {
		return ""
	}
	return e.resp.ID
}

// WriteChunk encodes one chunk. A chunk's usage is kept for Finish; a chunk
// without choices writes nothing but the opening events.
func (e *ResponsesStreamEncoder) WriteChunk(w io.Writer, ch *schema.ChatChunk) error {
	if e.finished {
		return ErrResponsesStreamFinished
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
		if err := e.start(w, ch.ID, ch.Created); err != nil {
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
			e.finishRsn = *c.FinishReason
			if err := e.closeItem(w); err != nil {
				return err
			}
		}
	}
	return nil
}

func (e *ResponsesStreamEncoder) delta(w io.Writer, d *schema.Delta) error {
	if d.Reasoning != nil && *d.Reasoning != "" {
		if err := e.reasoningDelta(w, *d.Reasoning); err != nil {
			return err
		}
	}
	if d.Content != nil && *d.Content != "" {
		if err := e.textDelta(w, "output_text", *d.Content); err != nil {
			return err
		}
	}
	if d.Refusal != nil && *d.Refusal != "" {
		if err := e.textDelta(w, "refusal", *d.Refusal); err != nil {
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

// item is the open (last) output item.
func (e *ResponsesStreamEncoder) item() *ResponsesOutputItem {
	return &e.resp.Output[len(e.resp.Output)-1]
}

func (e *ResponsesStreamEncoder) outputIndex() int { return len(e.resp.Output) - 1 }

// openItem closes the open item and starts it.
func (e *ResponsesStreamEncoder) openItem(w io.Writer, it ResponsesOutputItem) error {
	if err := e.closeItem(w); err != nil {
		return err
	}
	prefix := map[string]string{"reasoning": "rs", "message": "msg", "function_call": "fc"}[it.Type]
	it.ID = e.ids.id(prefix, len(e.resp.Output))
	if it.Type != "reasoning" {
		it.Status = "in_progress"
		e.answered = true
	}
	e.resp.Output = append(e.resp.Output, it)
	e.open = it.Type
	return e.event(w, itemEvent{Type: "response.output_item.added", SequenceNumber: e.next(), OutputIndex: e.outputIndex(), Item: it})
}

func (e *ResponsesStreamEncoder) reasoningDelta(w io.Writer, s string) error {
	if e.open != "reasoning" {
		if err := e.openItem(w, ResponsesOutputItem{Type: "reasoning"}); err != nil {
			return err
		}
		e.text.Reset()
		if err := e.event(w, summaryPartEvent{Type: "response.reasoning_summary_part.added", SequenceNumber: e.next(),
			ItemID: e.item().ID, OutputIndex: e.outputIndex(), Part: ResponsesSummaryPart{Type: "summary_text"}}); err != nil {
			return err
		}
	}
	e.text.WriteString(s)
	return e.event(w, summaryDeltaEvent{Type: "response.reasoning_summary_text.delta", SequenceNumber: e.next(),
		ItemID: e.item().ID, OutputIndex: e.outputIndex(), Delta: s})
}

// textDelta appends to the message's output_text or refusal part.
func (e *ResponsesStreamEncoder) textDelta(w io.Writer, partType, s string) error {
	if e.open != "message" {
		if err := e.openItem(w, ResponsesOutputItem{Type: "message", Role: "assistant"}); err != nil {
			return err
		}
	}
	if e.part != partType {
		if err := e.openPart(w, partType); err != nil {
			return err
		}
	}
	e.text.WriteString(s)
	it := e.item()
	ci := len(it.Content) - 1
	if partType == "refusal" {
		return e.event(w, refusalDeltaEvent{Type: "response.refusal.delta", SequenceNumber: e.next(),
			ItemID: it.ID, OutputIndex: e.outputIndex(), ContentIndex: ci, Delta: s})
	}
	return e.event(w, textDeltaEvent{Type: "response.output_text.delta", SequenceNumber: e.next(),
		ItemID: it.ID, OutputIndex: e.outputIndex(), ContentIndex: ci, Delta: s, Logprobs: []struct{}{}})
}

func (e *ResponsesStreamEncoder) openPart(w io.Writer, partType string) error {
	if err := e.closePart(w); err != nil {
		return err
	}
	it := e.item()
	it.Content = append(it.Content, ResponsesOutputContent{Type: partType})
	e.part = partType
	e.text.Reset()
	return e.event(w, partEvent{Type: "response.content_part.added", SequenceNumber: e.next(),
		ItemID: it.ID, OutputIndex: e.outputIndex(), ContentIndex: len(it.Content) - 1, Part: it.Content[len(it.Content)-1]})
}

func (e *ResponsesStreamEncoder) closePart(w io.Writer) error {
	if e.part == "" {
		return nil
	}
	it := e.item()
	ci := len(it.Content) - 1
	p := &it.Content[ci]
	var err error
	if e.part == "refusal" {
		p.Refusal = e.text.String()
		err = e.event(w, refusalDoneEvent{Type: "response.refusal.done", SequenceNumber: e.next(),
			ItemID: it.ID, OutputIndex: e.outputIndex(), ContentIndex: ci, Refusal: p.Refusal})
	} else {
		p.Text = e.text.String()
		err = e.event(w, textDoneEvent{Type: "response.output_text.done", SequenceNumber: e.next(),
			ItemID: it.ID, OutputIndex: e.outputIndex(), ContentIndex: ci, Text: p.Text, Logprobs: []struct{}{}})
	}
	e.part = ""
	e.text.Reset()
	if err != nil {
		return err
	}
	return e.event(w, partEvent{Type: "response.content_part.done", SequenceNumber: e.next(),
		ItemID: it.ID, OutputIndex: e.outputIndex(), ContentIndex: ci, Part: *p})
}

func (e *ResponsesStreamEncoder) toolCall(w io.Writer, tc *schema.ToolCall) error {
	var idx int
	switch {
	case tc.Index != nil:
		idx = *tc.Index
	case tc.ID != "" || tc.Function.Name != "" || e.open != "function_call":
		// No index (some compatible servers): a call with an id or a name is
		// a new one, anything else continues the open one.
		idx = len(e.tools)
		for _, seen := e.tools[idx]; seen; _, seen = e.tools[idx] {
			idx++
		}
	default:
		idx = e.openTool
	}
	if _, seen := e.tools[idx]; !seen {
		if err := e.openItem(w, ResponsesOutputItem{Type: "function_call", CallID: callID(tc.ID), Name: tc.Function.Name}); err != nil {
			return err
		}
		if e.tools == nil {
			e.tools = map[int]int{}
		}
		e.tools[idx] = e.outputIndex()
		e.openTool = idx
	} else if e.open != "function_call" || e.openTool != idx {
		if tc.Function.Arguments == "" {
			return nil // an empty continuation says nothing
		}
		return ErrResponsesInterleavedToolCalls
	}
	if tc.Function.Arguments == "" {
		return nil
	}
	it := e.item()
	it.Arguments += tc.Function.Arguments
	return e.event(w, argsDeltaEvent{Type: "response.function_call_arguments.delta", SequenceNumber: e.next(),
		ItemID: it.ID, OutputIndex: e.outputIndex(), Delta: tc.Function.Arguments})
}

// itemStatus is the status of an item closed now.
func (e *ResponsesStreamEncoder) itemStatus() string {
	if s, _ := finishStatus(e.finishRsn); s == "incomplete" {
		return "incomplete"
	}
	return "completed"
}

func (e *ResponsesStreamEncoder) closeItem(w io.Writer) error {
	if e.open == "" {
		return nil
	}
	it := e.item()
	switch e.open {
	case "reasoning":
		text := e.text.String()
		e.text.Reset()
		it.Summary = []ResponsesSummaryPart{{Type: "summary_text", Text: text}}
		if err := e.event(w, summaryDoneEvent{Type: "response.reasoning_summary_text.done", SequenceNumber: e.next(),
			ItemID: it.ID, OutputIndex: e.outputIndex(), Text: text}); err != nil {
			return err
		}
		if err := e.event(w, summaryPartEvent{Type: "response.reasoning_summary_part.done", SequenceNumber: e.next(),
			ItemID: it.ID, OutputIndex: e.outputIndex(), Part: it.Summary[0]}); err != nil {
			return err
		}
	case "message":
		if err := e.closePart(w); err != nil {
			return err
		}
		it.Status = e.itemStatus()
	case "function_call":
		it.Status = e.itemStatus()
		if err := e.event(w, argsDoneEvent{Type: "response.function_call_arguments.done", SequenceNumber: e.next(),
			ItemID: it.ID, OutputIndex: e.outputIndex(), Arguments: it.Arguments}); err != nil {
			return err
		}
	}
	e.open = ""
	return e.event(w, itemEvent{Type: "response.output_item.done", SequenceNumber: e.next(), OutputIndex: e.outputIndex(), Item: *it})
}

func (e *ResponsesStreamEncoder) start(w io.Writer, id string, created int64) error {
	e.started = true
	e.resp = newResponse(responseID(id), created, e.Model).EchoRequest(e.Request)
	e.ids = itemIDs{base: itemBase(e.resp.ID)}
	if err := e.event(w, lifecycleEvent{Type: "response.created", SequenceNumber: e.next(), Response: e.resp}); err != nil {
		return err
	}
	return e.event(w, lifecycleEvent{Type: "response.in_progress", SequenceNumber: e.next(), Response: e.resp})
}

// Finish ends the stream: it closes the open item and writes
// response.completed with the full response (output and usage), or
// response.incomplete when the finish_reason was "length" or
// "content_filter", as OpenAI does. usage, when not nil, is reported (the
// gateway's priced usage); else the last chunk's. A stream without any
// message or function call gets an empty message, as a non-streaming
// response would. Finish on a stream that never received a chunk writes a
// complete empty response. Calling it again does nothing.
func (e *ResponsesStreamEncoder) Finish(w io.Writer, usage *schema.Usage) error {
	if e.finished {
		return nil
	}
	if usage != nil {
		e.usage = usage
	}
	if !e.started {
		if err := e.start(w, "", 0); err != nil {
			return err
		}
	}
	if !e.answered {
		if err := e.openItem(w, ResponsesOutputItem{Type: "message", Role: "assistant"}); err != nil {
			return err
		}
		if err := e.openPart(w, "output_text"); err != nil {
			return err
		}
	}
	if err := e.closeItem(w); err != nil {
		return err
	}
	e.finished = true
	status, details := finishStatus(e.finishRsn)
	e.resp.finish(status, details)
	e.resp.Usage = responsesUsage(e.usage)
	name := "response.completed"
	if status == "incomplete" {
		name = "response.incomplete"
	}
	return e.event(w, lifecycleEvent{Type: name, SequenceNumber: e.next(), Response: e.resp})
}

// ErrorEvent ends a stream that broke: an "error" event with the message and
// a code for the HTTP status the failure maps to (ResponsesErrorCode), then
// response.failed with the response so far (the open item, if any, marked
// incomplete) and its error. Nothing may be written after it.
func (e *ResponsesStreamEncoder) ErrorEvent(w io.Writer, status int, message string) error {
	if e.finished {
		return ErrResponsesStreamFinished
	}
	if !e.started {
		if err := e.start(w, "", 0); err != nil {
			return err
		}
	}
	e.finished = true
	if e.open != "" {
		it := e.item()
		if e.open != "reasoning" {
			it.Status = "incomplete"
		}
		switch {
		case e.open == "reasoning":
			it.Summary = []ResponsesSummaryPart{{Type: "summary_text", Text: e.text.String()}}
		case e.part == "refusal":
			it.Content[len(it.Content)-1].Refusal = e.text.String()
		case e.part != "":
			it.Content[len(it.Content)-1].Text = e.text.String()
		}
		e.open, e.part = "", ""
	}
	code := ResponsesErrorCode(status)
	if err := e.event(w, errorEvent{Type: "error", SequenceNumber: e.next(), Code: code, Message: message}); err != nil {
		return err
	}
	e.resp.Status = "failed"
	e.resp.Error = &ResponsesError{Code: code, Message: message}
	e.resp.Usage = responsesUsage(e.usage)
	return e.event(w, lifecycleEvent{Type: "response.failed", SequenceNumber: e.next(), Response: e.resp})
}

// ResponsesErrorCode is the Response error code for an HTTP status:
// rate_limit_exceeded for 429, invalid_prompt for 400, server_error for
// anything else (the codes a Response's error may carry).
func ResponsesErrorCode(status int) string {
	switch status {
	case 429:
		return "rate_limit_exceeded"
	case 400:
		return "invalid_prompt"
	}
	return "server_error"
}

func (e *ResponsesStreamEncoder) next() int {
	e.seq++
	return e.seq - 1
}

// event writes one server-sent event in one Write, so that a flushing writer
// never sends half an event. The event name is the payload's type.
func (e *ResponsesStreamEncoder) event(w io.Writer, payload interface{ eventType() string }) error {
	data, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	name := payload.eventType()
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

// The event payloads, as structs so that fields keep OpenAI's order.
type (
	lifecycleEvent struct {
		Type           string             `json:"type"`
		SequenceNumber int                `json:"sequence_number"`
		Response       *ResponsesResponse `json:"response"`
	}
	itemEvent struct {
		Type           string              `json:"type"`
		SequenceNumber int                 `json:"sequence_number"`
		OutputIndex    int                 `json:"output_index"`
		Item           ResponsesOutputItem `json:"item"`
	}
	partEvent struct {
		Type           string                 `json:"type"`
		SequenceNumber int                    `json:"sequence_number"`
		ItemID         string                 `json:"item_id"`
		OutputIndex    int                    `json:"output_index"`
		ContentIndex   int                    `json:"content_index"`
		Part           ResponsesOutputContent `json:"part"`
	}
	textDeltaEvent struct {
		Type           string     `json:"type"`
		SequenceNumber int        `json:"sequence_number"`
		ItemID         string     `json:"item_id"`
		OutputIndex    int        `json:"output_index"`
		ContentIndex   int        `json:"content_index"`
		Delta          string     `json:"delta"`
		Logprobs       []struct{} `json:"logprobs"`
	}
	textDoneEvent struct {
		Type           string     `json:"type"`
		SequenceNumber int        `json:"sequence_number"`
		ItemID         string     `json:"item_id"`
		OutputIndex    int        `json:"output_index"`
		ContentIndex   int        `json:"content_index"`
		Text           string     `json:"text"`
		Logprobs       []struct{} `json:"logprobs"`
	}
	refusalDeltaEvent struct {
		Type           string `json:"type"`
		SequenceNumber int    `json:"sequence_number"`
		ItemID         string `json:"item_id"`
		OutputIndex    int    `json:"output_index"`
		ContentIndex   int    `json:"content_index"`
		Delta          string `json:"delta"`
	}
	refusalDoneEvent struct {
		Type           string `json:"type"`
		SequenceNumber int    `json:"sequence_number"`
		ItemID         string `json:"item_id"`
		OutputIndex    int    `json:"output_index"`
		ContentIndex   int    `json:"content_index"`
		Refusal        string `json:"refusal"`
	}
	argsDeltaEvent struct {
		Type           string `json:"type"`
		SequenceNumber int    `json:"sequence_number"`
		ItemID         string `json:"item_id"`
		OutputIndex    int    `json:"output_index"`
		Delta          string `json:"delta"`
	}
	argsDoneEvent struct {
		Type           string `json:"type"`
		SequenceNumber int    `json:"sequence_number"`
		ItemID         string `json:"item_id"`
		OutputIndex    int    `json:"output_index"`
		Arguments      string `json:"arguments"`
	}
	summaryPartEvent struct {
		Type           string               `json:"type"`
		SequenceNumber int                  `json:"sequence_number"`
		ItemID         string               `json:"item_id"`
		OutputIndex    int                  `json:"output_index"`
		SummaryIndex   int                  `json:"summary_index"`
		Part           ResponsesSummaryPart `json:"part"`
	}
	summaryDeltaEvent struct {
		Type           string `json:"type"`
		SequenceNumber int    `json:"sequence_number"`
		ItemID         string `json:"item_id"`
		OutputIndex    int    `json:"output_index"`
		SummaryIndex   int    `json:"summary_index"`
		Delta          string `json:"delta"`
	}
	summaryDoneEvent struct {
		Type           string `json:"type"`
		SequenceNumber int    `json:"sequence_number"`
		ItemID         string `json:"item_id"`
		OutputIndex    int    `json:"output_index"`
		SummaryIndex   int    `json:"summary_index"`
		Text           string `json:"text"`
	}
	errorEvent struct {
		Type           string  `json:"type"`
		SequenceNumber int     `json:"sequence_number"`
		Code           string  `json:"code"`
		Message        string  `json:"message"`
		Param          *string `json:"param"`
	}
)

func (p lifecycleEvent) eventType() string    { return p.Type }
func (p itemEvent) eventType() string         { return p.Type }
func (p partEvent) eventType() string         { return p.Type }
func (p textDeltaEvent) eventType() string    { return p.Type }
func (p textDoneEvent) eventType() string     { return p.Type }
func (p refusalDeltaEvent) eventType() string { return p.Type }
func (p refusalDoneEvent) eventType() string  { return p.Type }
func (p argsDeltaEvent) eventType() string    { return p.Type }
func (p argsDoneEvent) eventType() string     { return p.Type }
func (p summaryPartEvent) eventType() string  { return p.Type }
func (p summaryDeltaEvent) eventType() string { return p.Type }
func (p summaryDoneEvent) eventType() string  { return p.Type }
func (p errorEvent) eventType() string        { return p.Type }
