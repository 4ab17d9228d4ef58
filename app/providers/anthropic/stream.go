package anthropic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/llmgw/gateway/app/providers/httpx"

	"github.com/llmgw/gateway/app/providers"
	"github.com/llmgw/gateway/app/providers/sse"
	"github.com/llmgw/gateway/app/schema"
)

// ChatStream implements providers.Provider.
func (p *Provider) ChatStream(ctx context.Context, t providers.Target, req *schema.ChatRequest) (providers.ChatStream, error) {
	body, pl, err := p.encode(t, req, true)
	if err != nil {
		return nil, err
	}
	resp, err := p.post(ctx, t, body, "text/event-stream")
	if err != nil {
		return nil, err
	}
	if isJSON(resp.Header) {
		// A JSON answer to a stream request is an error object (from a proxy)
		// or not what we asked for.
		defer drainClose(resp.Body)
		b, _, err := readCapped(resp.Body, maxErrorBody)
		if err != nil {
			return nil, transportError(ctx, t.Provider, err)
		}
		if _, ok := parseErrorBody(b); ok {
			return nil, payloadError(t.Provider, b)
		}
		return nil, badResponse(t.Provider, "expected an event stream, got a JSON body", nil)
	}
	return newStream(ctx, t.Provider, resp.Body, pl), nil
}

func isJSON(h http.Header) bool {
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	return err == nil && mt == "application/json"
}

// blockKind is what an Anthropic content block becomes in the chunks.
type blockKind int

const (
	blockOther    blockKind = iota // redacted_thinking, server tools: not shown
	blockText                      // delta.content
	blockThinking                  // delta.reasoning
	blockTool                      // delta.tool_calls[toolIndex]
	blockJSON                      // the forced json_schema tool: delta.content
)

type blockState struct {
	kind      blockKind
	toolIndex int
	detail    int  // blockThinking: the reasoning_details index
	hasInput  bool // an argument fragment was sent
}

// stream turns Anthropic's SSE events into chat.completion.chunks. Recv is
// meant for one goroutine; Close may be called from another one.
type stream struct {
	ctx      context.Context
	provider string
	body     *httpx.StreamBody
	events   *sse.Reader
	plan     *plan

	started  bool // message_start seen
	id       string
	model    string
	created  int64
	usage    Usage
	blocks   map[int]*blockState
	tools    int  // tool_use blocks so far: the next OpenAI tool index
	details  int  // thinking and redacted_thinking blocks so far: the next reasoning_details index
	finished bool // a finish_reason chunk was sent
	pending  []*schema.ChatChunk
	err      error // terminal result, repeated by later Recv calls

}

func newStream(ctx context.Context, provider string, body io.ReadCloser, pl *plan) *stream {
	if pl == nil {
		pl = &plan{}
	}
	return &stream{ctx: ctx, provider: provider, body: httpx.NewStreamBody(body), events: sse.NewReader(body, 0),
		plan: pl, blocks: map[int]*blockState{}}
}

// streamEvent is the union of Anthropic's stream event payloads.
type streamEvent struct {
	Type         string            `json:"type"`
	Message      *MessagesResponse `json:"message"`
	Index        int               `json:"index"`
	ContentBlock *ContentBlock     `json:"content_block"`
	Delta        *eventDelta       `json:"delta"`
	Usage        *deltaUsage       `json:"usage"`
}

type eventDelta struct {
	Type        string  `json:"type"`
	Text        string  `json:"text"`
	Thinking    string  `json:"thinking"`
	Signature   string  `json:"signature"`
	PartialJSON string  `json:"partial_json"`
	StopReason  *string `json:"stop_reason"`
}

// deltaUsage is message_delta's usage. Its counts are cumulative; only
// output_tokens is always there, the input counts only in newer API versions,
// hence the pointers: an absent count must not erase message_start's.
type deltaUsage struct {
	InputTokens              *int                 `json:"input_tokens"`
	CacheCreationInputTokens *int                 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     *int                 `json:"cache_read_input_tokens"`
	OutputTokens             *int                 `json:"output_tokens"`
	OutputTokensDetails      *OutputTokensDetails `json:"output_tokens_details"`
}

var errStreamClosed = errors.New("stream closed")

// Recv implements providers.ChatStream.
func (s *stream) Recv() (*schema.ChatChunk, error) {
	if len(s.pending) > 0 {
		c := s.pending[0]
		s.pending = s.pending[1:]
		return c, nil
	}
	if s.err != nil {
		return nil, s.err
	}
	if s.body.Closed() {
		return nil, s.end(&providers.Error{Kind: providers.KindConnection, Provider: s.provider, Message: "stream closed", Err: errStreamClosed})
	}
	for {
		ev, err := s.events.Next()
		if err != nil {
			return nil, s.end(s.readError(err))
		}
		data := bytes.TrimSpace(ev.Data)
		if ev.Name == "error" {
			return nil, s.end(payloadError(s.provider, data))
		}
		if len(data) == 0 {
			continue
		}
		if data[0] != '{' {
			return nil, s.end(badResponse(s.provider, "invalid stream event", nil))
		}
		var e streamEvent
		if err := json.Unmarshal(data, &e); err != nil {
			return nil, s.end(badResponse(s.provider, "invalid stream event", err))
		}
		c, err := s.handle(&e, data)
		if err != nil {
			return nil, s.end(err)
		}
		if c != nil {
			return c, nil
		}
		if s.err != nil { // message_stop without anything left to send
			return nil, s.err
		}
	}
}

// handle processes one event; it returns the chunk to send, if any.
func (s *stream) handle(e *streamEvent, data []byte) (*schema.ChatChunk, error) {
	switch e.Type {
	case "ping":
		return nil, nil
	case "error":
		return nil, payloadError(s.provider, data)
	case "message_start":
		if s.started || e.Message == nil {
			return nil, badResponse(s.provider, "unexpected message_start", nil)
		}
		s.started = true
		s.id, s.model, s.usage = e.Message.ID, e.Message.Model, e.Message.Usage
		s.created = time.Now().Unix()
		empty := ""
		return s.chunk(schema.Delta{Role: "assistant", Content: &empty}, nil), nil
	}
	if !s.started {
		if isKnownEvent(e.Type) {
			return nil, badResponse(s.provider, e.Type+" before message_start", nil)
		}
		return nil, nil
	}
	switch e.Type {
	case "content_block_start":
		return s.blockStart(e)
	case "content_block_delta":
		return s.blockDelta(e)
	case "content_block_stop":
		return s.blockStop(e), nil
	case "message_delta":
		s.addUsage(e.Usage)
		if e.Delta == nil || e.Delta.StopReason == nil || s.finished {
			return nil, nil
		}
		s.finished = true
		fr := finishReason(*e.Delta.StopReason, s.plan)
		return s.chunk(schema.Delta{}, &fr), nil
	case "message_stop":
		// The stream is complete: a finish chunk if message_delta gave none,
		// then the usage chunk (empty choices), as OpenAI ends its streams.
		s.end(io.EOF)
		if !s.finished {
			s.finished = true
			fr := "stop"
			s.pending = append(s.pending, s.chunk(schema.Delta{}, &fr))
		}
		u := &schema.ChatChunk{ID: s.id, Object: "chat.completion.chunk", Created: s.created, Model: s.model,
			Choices: []schema.ChunkChoice{}, Usage: chatUsage(&s.usage)}
		s.pending = append(s.pending, u)
		c := s.pending[0]
		s.pending = s.pending[1:]
		return c, nil
	}
	return nil, nil // event types added after this adapter was written
}

func isKnownEvent(t string) bool {
	switch t {
	case "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop":
		return true
	}
	return false
}

func (s *stream) blockStart(e *streamEvent) (*schema.ChatChunk, error) {
	cb := e.ContentBlock
	if cb == nil {
		return nil, badResponse(s.provider, "content_block_start without a block", nil)
	}
	st := &blockState{}
	s.blocks[e.Index] = st
	switch cb.Type {
	case "text":
		st.kind = blockText
		if cb.Text != "" {
			return s.chunk(schema.Delta{Content: &cb.Text}, nil), nil
		}
	case "thinking":
		st.kind, st.detail = blockThinking, s.details
		s.details++
		if (cb.Thinking != "" || cb.Signature != "") && !s.plan.excludeReasoning {
			d, _ := reasoningDetail(st.detail, cb)
			return s.chunk(thinkingDelta(d), nil), nil
		}
	case "redacted_thinking":
		d, _ := reasoningDetail(s.details, cb)
		s.details++
		if !s.plan.excludeReasoning {
			return s.chunk(schema.Delta{ReasoningDetails: []schema.ReasoningDetail{d}}, nil), nil
		}
	case "tool_use":
		if s.plan.jsonTool != "" && cb.Name == s.plan.jsonTool {
			st.kind = blockJSON
			return nil, nil
		}
		st.kind, st.toolIndex = blockTool, s.tools
		s.tools++
		idx := st.toolIndex
		return s.chunk(schema.Delta{ToolCalls: []schema.ToolCall{{
			Index: &idx, ID: cb.ID, Type: "function",
			Function: schema.ToolCallFunction{Name: cb.Name, Arguments: ""},
		}}}, nil), nil
	}
	return nil, nil
}

func (s *stream) blockDelta(e *streamEvent) (*schema.ChatChunk, error) {
	d := e.Delta
	if d == nil {
		return nil, badResponse(s.provider, "content_block_delta without a delta", nil)
	}
	st := s.blocks[e.Index]
	switch d.Type {
	case "text_delta":
		if d.Text != "" {
			return s.chunk(schema.Delta{Content: &d.Text}, nil), nil
		}
	case "thinking_delta", "signature_delta":
		if s.plan.excludeReasoning || d.Thinking == "" && d.Signature == "" {
			return nil, nil
		}
		if st == nil || st.kind != blockThinking {
			// Not inside a thinking block (never from Anthropic): the text
			// alone, as before reasoning_details.
			if d.Thinking != "" {
				return s.chunk(schema.Delta{Reasoning: &d.Thinking}, nil), nil
			}
			return nil, nil
		}
		return s.chunk(thinkingDelta(schema.ReasoningDetail{Type: schema.ReasoningText, Format: schema.ReasoningFormatAnthropic,
			Index: st.detail, Text: d.Thinking, Signature: d.Signature}), nil), nil
	case "input_json_delta":
		if st == nil {
			return nil, badResponse(s.provider, "input_json_delta for an unknown block", nil)
		}
		if d.PartialJSON == "" {
			return nil, nil
		}
		switch st.kind {
		case blockJSON:
			st.hasInput = true
			return s.chunk(schema.Delta{Content: &d.PartialJSON}, nil), nil
		case blockTool:
			st.hasInput = true
			idx := st.toolIndex
			return s.chunk(schema.Delta{ToolCalls: []schema.ToolCall{{
				Index: &idx, Function: schema.ToolCallFunction{Arguments: d.PartialJSON},
			}}}, nil), nil
		}
	}
	// citations_delta has no equivalent.
	return nil, nil
}

// thinkingDelta is the delta of a piece of a thinking block: its text as
// reasoning, and the piece (text and/or signature) as a reasoning_details
// item.
func thinkingDelta(d schema.ReasoningDetail) schema.Delta {
	out := schema.Delta{ReasoningDetails: []schema.ReasoningDetail{d}}
	if d.Text != "" {
		out.Reasoning = &d.Text
	}
	return out
}

// blockStop completes a tool call that received no argument fragments with
// "{}", so that clients always see valid JSON arguments.
func (s *stream) blockStop(e *streamEvent) *schema.ChatChunk {
	st := s.blocks[e.Index]
	delete(s.blocks, e.Index)
	if st == nil || st.hasInput {
		return nil
	}
	empty := "{}"
	switch st.kind {
	case blockTool:
		idx := st.toolIndex
		return s.chunk(schema.Delta{ToolCalls: []schema.ToolCall{{
			Index: &idx, Function: schema.ToolCallFunction{Arguments: empty},
		}}}, nil)
	case blockJSON:
		return s.chunk(schema.Delta{Content: &empty}, nil)
	}
	return nil
}

func (s *stream) addUsage(u *deltaUsage) {
	if u == nil {
		return
	}
	set := func(dst *int, v *int) {
		if v != nil {
			*dst = *v
		}
	}
	set(&s.usage.InputTokens, u.InputTokens)
	set(&s.usage.CacheCreationInputTokens, u.CacheCreationInputTokens)
	set(&s.usage.CacheReadInputTokens, u.CacheReadInputTokens)
	set(&s.usage.OutputTokens, u.OutputTokens)
	if u.OutputTokensDetails != nil {
		s.usage.OutputTokensDetails = u.OutputTokensDetails
	}
}

func (s *stream) chunk(d schema.Delta, finish *string) *schema.ChatChunk {
	return &schema.ChatChunk{
		ID: s.id, Object: "chat.completion.chunk", Created: s.created, Model: s.model,
		Choices: []schema.ChunkChoice{{Index: 0, Delta: d, FinishReason: finish}},
	}
}

func (s *stream) end(err error) error {
	s.err = err
	if err == io.EOF {
		s.body.Finish()
	}
	return err
}

// readError maps the end of the body. Anthropic always closes a stream with
// message_stop; a body that ends before it was cut short, whatever came
// before (even a stop_reason).
func (s *stream) readError(err error) error {
	switch err {
	case io.EOF, io.ErrUnexpectedEOF:
		if s.ctx.Err() != nil {
			return transportError(s.ctx, s.provider, s.ctx.Err())
		}
		return &providers.Error{Kind: providers.KindConnection, Provider: s.provider,
			Message: "stream ended before message_stop", Err: io.ErrUnexpectedEOF}
	case sse.ErrTooLarge:
		return badResponse(s.provider, "stream event too large", err)
	}
	return transportError(s.ctx, s.provider, err)
}

// Close implements providers.ChatStream.
func (s *stream) Close() error { return s.body.Close() }
