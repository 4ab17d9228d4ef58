package openai

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"net/http"

	"github.com/llmgw/gateway/app/providers/httpx"

	"github.com/llmgw/gateway/app/providers"
	"github.com/llmgw/gateway/app/providers/sse"
	"github.com/llmgw/gateway/app/schema"
)

// ChatStream implements providers.Provider.
func (p *Provider) ChatStream(ctx context.Context, t providers.Target, req *schema.ChatRequest) (providers.ChatStream, error) {
	body, err := p.chatBody(t, req, true)
	if err != nil {
		return nil, err
	}
	resp, err := p.post(ctx, t, chatPath, body, "text/event-stream")
	if err != nil {
		return nil, err
	}
	if isJSON(resp.Header) {
		// Not a stream: compatible servers answer some failures with a JSON
		// error and status 200. Anything else in JSON is not what we asked for.
		b, err := readAll(ctx, t, resp)
		if err != nil {
			return nil, err
		}
		if f, ok := parseErrorBody(b); ok {
			return nil, payloadError(t.Provider, f)
		}
		return nil, badResponse(t.Provider, "expected an event stream, got a JSON body", nil)
	}
	return newStream(ctx, t.Provider, resp.Body), nil
}

func isJSON(h http.Header) bool {
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	return err == nil && mt == "application/json"
}

// stream decodes chat.completion.chunk events. Recv is meant for one goroutine;
// Close may be called from another one, e.g. when the client goes away.
type stream struct {
	ctx      context.Context
	provider string
	body     *httpx.StreamBody
	events   *sse.Reader

	sawFinish bool  // a choice reported a finish_reason: the answer is complete
	err       error // terminal result, repeated by later Recv calls

}

func newStream(ctx context.Context, provider string, body io.ReadCloser) *stream {
	return &stream{ctx: ctx, provider: provider, body: httpx.NewStreamBody(body), events: sse.NewReader(body, 0)}
}

var (
	doneMarker      = []byte("[DONE]")
	errStreamClosed = errors.New("stream closed")
)

// Recv implements providers.ChatStream.
func (s *stream) Recv() (*schema.ChatChunk, error) {
	if s.err != nil {
		return nil, s.err
	}
	if s.body.Closed() {
		// Events may still sit in the read buffer; a closed stream yields none.
		return nil, s.end(&providers.Error{Kind: providers.KindConnection, Provider: s.provider, Message: "stream closed", Err: errStreamClosed})
	}
	for {
		ev, err := s.events.Next()
		if err != nil {
			return nil, s.end(s.readError(err))
		}
		switch ev.Name {
		case "", "message":
		case "error":
			return nil, s.end(s.eventError(ev.Data))
		default:
			// The chat completions protocol names no events; an unknown named
			// event (a proxy's ping, say) is not a chunk.
			continue
		}
		data := bytes.TrimSpace(ev.Data)
		if len(data) == 0 {
			continue // an empty data line used as a keep-alive
		}
		if bytes.Equal(data, doneMarker) {
			return nil, s.end(io.EOF)
		}
		if data[0] != '{' {
			// Unmarshal would accept "null" as an empty chunk.
			return nil, s.end(badResponse(s.provider, "invalid stream chunk", nil))
		}
		c, errObj, err := schema.DecodeChunk(data)
		if err != nil {
			return nil, s.end(badResponse(s.provider, "invalid stream chunk", err))
		}
		if errObj != nil || c.Object == "error" {
			return nil, s.end(s.eventError(data))
		}
		for i := range c.Choices {
			if fr := c.Choices[i].FinishReason; fr != nil && *fr != "" {
				s.sawFinish = true
			}
		}
		return c, nil
	}
}

func (s *stream) end(err error) error {
	s.err = err
	if err == io.EOF {
		s.body.Finish()
	}
	return err
}

// readError maps the end of the body. A body that ends without [DONE] is
// complete only if the answer had finished: some compatible servers omit the
// marker, while a proxy cutting the stream short must not look like success.
// io.ErrUnexpectedEOF (a chunked body cut off) is judged the same way.
func (s *stream) readError(err error) error {
	switch err {
	case io.EOF, io.ErrUnexpectedEOF:
		if s.sawFinish {
			return io.EOF
		}
		if s.ctx.Err() != nil {
			return transportError(s.ctx, s.provider, s.ctx.Err())
		}
		return &providers.Error{Kind: providers.KindConnection, Provider: s.provider,
			Message: "stream ended unexpectedly", Err: io.ErrUnexpectedEOF}
	case sse.ErrTooLarge:
		return badResponse(s.provider, "stream event too large", err)
	}
	return transportError(s.ctx, s.provider, err)
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
