package google

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

// ChatStream implements providers.Provider. Gemini reports usageMetadata in
// its stream events unasked; the last one seen becomes the final usage chunk.
func (p *Provider) ChatStream(ctx context.Context, t providers.Target, req *schema.ChatRequest) (providers.ChatStream, error) {
	g, err := buildRequest(t.Provider, t.Model, req)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(g)
	if err != nil {
		return nil, invalidRequest(t.Provider, "", "The request could not be encoded: "+err.Error())
	}
	resp, err := p.post(ctx, t, "streamGenerateContent?alt=sse", body, "text/event-stream")
	if err != nil {
		return nil, err
	}
	if isJSON(resp.Header) {
		// Not a stream: an error answered with status 200 (or a proxy that
		// dropped alt=sse). Anything else in JSON is not what we asked for.
		b, err := readAll(ctx, t, resp)
		if err != nil {
			return nil, err
		}
		if f, ok := parseErrorBody(b); ok {
			return nil, payloadError(t.Provider, f)
		}
		return nil, badResponse(t.Provider, "expected an event stream, got a JSON body", nil)
	}
	return newStream(ctx, t.Provider, t.Model, resp.Body), nil
}

func isJSON(h http.Header) bool {
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	return err == nil && mt == "application/json"
}

// stream turns GenerateContentResponse events into chat.completion.chunks.
// Recv is meant for one goroutine; Close may be called from another one.
type stream struct {
	ctx      context.Context
	provider string
	model    string
	body     *httpx.StreamBody
	stray    *strayCapture
	events   *sse.Reader

	ids       *idGen // set by the first event
	created   int64
	modelName string
	roleSent  map[int]bool // per candidate
	toolIndex map[int]int  // next tool_calls index, per candidate
	sawFinish bool         // a finishReason (or a blocked prompt) ended the answer
	usage     *UsageMetadata

	pending []*schema.ChatChunk // translated, not yet returned
	err     error               // terminal result, returned once pending is empty

}

func newStream(ctx context.Context, provider, model string, body io.ReadCloser) *stream {
	stray := &strayCapture{r: body, lineStart: true}
	return &stream{
		ctx: ctx, provider: provider, model: model, body: httpx.NewStreamBody(body), stray: stray,
		events:   sse.NewReader(stray, 0),
		roleSent: map[int]bool{}, toolIndex: map[int]int{},
	}
}

var errStreamClosed = errors.New("stream closed")

// Recv implements providers.ChatStream.
func (s *stream) Recv() (*schema.ChatChunk, error) {
	if s.body.Closed() && (s.err == nil || len(s.pending) > 0) {
		// Chunks may still be queued or buffered; a closed stream yields none.
		s.pending = nil
		s.err = &providers.Error{Kind: providers.KindConnection, Provider: s.provider, Message: "stream closed", Err: errStreamClosed}
		return nil, s.err
	}
	if len(s.pending) > 0 {
		c := s.pending[0]
		s.pending = s.pending[1:]
		return c, nil
	}
	if s.err != nil {
		if s.err == io.EOF {
			s.body.Finish()
		}
		return nil, s.err
	}
	for {
		ev, err := s.events.Next()
		if err != nil {
			s.end(err)
			return s.Recv()
		}
		switch ev.Name {
		case "", "message":
		case "error":
			s.err = s.eventError(ev.Data)
			return nil, s.err
		default:
			continue // Gemini names no events; a proxy's ping is not a chunk
		}
		data := bytes.TrimSpace(ev.Data)
		if len(data) == 0 {
			continue // an empty data line used as a keep-alive
		}
		if data[0] != '{' {
			if f, ok := parseErrorBody(data); ok {
				s.err = payloadError(s.provider, f)
			} else {
				// Unmarshal would take "null" for an empty event.
				s.err = badResponse(s.provider, "invalid stream event", nil)
			}
			return nil, s.err
		}
		var env responseEnvelope
		if err := json.Unmarshal(data, &env); err != nil {
			s.err = badResponse(s.provider, "invalid stream event", err)
			return nil, s.err
		}
		if !isNull(env.Error) {
			s.err = s.eventError(data)
			return nil, s.err
		}
		s.translate(&env.GenerateResponse)
		if len(s.pending) > 0 {
			return s.Recv()
		}
	}
}

// translate queues the chunks of one event: one with the deltas of its
// candidates, then one with the finish reasons it reports.
func (s *stream) translate(g *GenerateResponse) {
	if s.ids == nil {
		s.ids = newIDs(g.ResponseID)
		s.created = time.Now().Unix()
		s.modelName = orDefault(g.ModelVersion, s.model)
	}
	if g.UsageMetadata != nil {
		s.usage = g.UsageMetadata
	}
	if len(g.Candidates) == 0 {
		if g.PromptFeedback != nil && g.PromptFeedback.BlockReason != "" {
			empty, fr := "", "content_filter"
			s.roleSent[0] = true
			s.sawFinish = true
			s.queue([]schema.ChunkChoice{{Delta: schema.Delta{Role: "assistant", Content: &empty}, FinishReason: &fr}})
		}
		return
	}
	var deltas, finishes []schema.ChunkChoice
	for _, c := range g.Candidates {
		var parts []Part
		if c.Content != nil {
			parts = c.Content.Parts
		}
		text, reasoning, calls := translateParts(parts, s.ids)
		var d schema.Delta
		if text != "" {
			d.Content = &text
		}
		if reasoning != "" {
			d.Reasoning = &reasoning
		}
		for i := range calls {
			n := s.toolIndex[c.Index]
			s.toolIndex[c.Index]++
			calls[i].Index = &n
		}
		d.ToolCalls = calls
		if d.Content != nil || d.Reasoning != nil || len(d.ToolCalls) > 0 {
			if !s.roleSent[c.Index] {
				d.Role, s.roleSent[c.Index] = "assistant", true
			}
			deltas = append(deltas, schema.ChunkChoice{Index: c.Index, Delta: d})
		}
		if c.FinishReason != "" {
			fr := finishReason(c.FinishReason, s.toolIndex[c.Index] > 0)
			var fd schema.Delta
			if !s.roleSent[c.Index] {
				fd.Role, s.roleSent[c.Index] = "assistant", true
			}
			finishes = append(finishes, schema.ChunkChoice{Index: c.Index, Delta: fd, FinishReason: &fr})
			s.sawFinish = true
		}
	}
	s.queue(deltas)
	s.queue(finishes)
}

func (s *stream) queue(choices []schema.ChunkChoice) {
	if len(choices) == 0 {
		return
	}
	s.pending = append(s.pending, s.chunk(choices))
}

func (s *stream) chunk(choices []schema.ChunkChoice) *schema.ChatChunk {
	return &schema.ChatChunk{
		ID: s.ids.responseID, Object: "chat.completion.chunk", Created: s.created,
		Model: s.modelName, Choices: choices,
	}
}

// end maps the end of the body. It is a clean end only after a finishReason:
// Gemini marks no end of stream otherwise, and a proxy cutting the stream
// short must not look like success. The usage chunk (choices: []) goes last.
func (s *stream) end(err error) {
	switch err {
	case io.EOF, io.ErrUnexpectedEOF:
		if s.sawFinish {
			if u := usageFrom(s.usage); u != nil {
				c := s.chunk([]schema.ChunkChoice{})
				c.Usage = u
				s.pending = append(s.pending, c)
			}
			s.err = io.EOF
			return
		}
		if f, ok := parseErrorBody(s.stray.text()); ok {
			// An error written as a bare JSON line rather than an event.
			s.err = payloadError(s.provider, f)
			return
		}
		if s.ctx.Err() != nil {
			s.err = transportError(s.ctx, s.provider, s.ctx.Err())
			return
		}
		s.err = &providers.Error{Kind: providers.KindConnection, Provider: s.provider,
			Message: "stream ended unexpectedly", Err: io.ErrUnexpectedEOF}
	case sse.ErrTooLarge:
		s.err = badResponse(s.provider, "stream event too large", err)
	default:
		s.err = transportError(s.ctx, s.provider, err)
	}
}

// eventError maps an error payload found in the stream.
func (s *stream) eventError(data []byte) error {
	f, ok := parseErrorBody(data)
	if !ok {
		f = errorFields{Message: truncateText(data)}
	}
	return payloadError(s.provider, f)
}

// Close implements providers.ChatStream.
func (s *stream) Close() error { return s.body.Close() }

// maxStray bounds what strayCapture keeps.
const maxStray = 64 << 10

// strayCapture passes the body through while keeping the lines that are not
// SSE fields. Such a line is ignored by the SSE syntax, yet it is how an
// upstream writes a JSON error into an event stream without "data:" framing
// (the official Go SDK reads those lines as errors); the stream consults
// them when the body ends without a finished answer.
type strayCapture struct {
	r         io.Reader
	lineStart bool
	inStray   bool
	buf       []byte
}

func (c *strayCapture) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	for _, b := range p[:n] {
		if c.lineStart {
			// SSE field lines start with a letter (data, event, id, retry)
			// or ':' (a comment); blank lines end events.
			c.inStray = !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b == ':' || b == '\r' || b == '\n')
		}
		c.lineStart = b == '\n' || b == '\r'
		if c.inStray && len(c.buf) < maxStray {
			c.buf = append(c.buf, b)
		}
	}
	return n, err
}

func (c *strayCapture) text() []byte { return c.buf }
