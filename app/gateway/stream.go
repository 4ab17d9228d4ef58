package gateway

import (
	"bufio"
	"context"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/llmgw/gateway/app/apierr"
	"github.com/llmgw/gateway/app/catalog"
	"github.com/llmgw/gateway/app/pricing"
	"github.com/llmgw/gateway/app/providers"
	"github.com/llmgw/gateway/app/routing"
	"github.com/llmgw/gateway/app/schema"
)

// streamChat opens the upstream stream and waits for its first chunk before
// answering: until a byte reaches the client, a failing provider can still be
// replaced by the next candidate, and an error can still be a plain JSON error
// with its real status.
func (g *Gateway) streamChat(c *fiber.Ctx, rc *reqCtx, proto Protocol, req *schema.ChatRequest, res *catalog.Resolution, cands []routing.Candidate) error {
	ctx, cancel := context.WithTimeout(g.base, g.UpstreamStreamTimeout)
	var atts []*attempt
	var stream providers.ChatStream
	var first *schema.ChatChunk
	for i, cand := range cands {
		a := newAttempt(cand)
		atts = append(atts, a)
		s, f, err := g.openStream(ctx, cand, req)
		first = f
		if err != nil {
			a.fail(err)
			if retryable(err) && i < len(cands)-1 {
				continue
			}
			cancel()
			g.logRequest(rc, res, atts, outcome{status: a.status, err: a.err, streamed: true})
			return a.err
		}
		a.succeeded, a.status = true, fiber.StatusOK
		stream = s
		break
	}

	cand := atts[len(atts)-1].cand
	sp := &streamPump{g: g, rc: rc, req: req, res: res, atts: atts, cand: cand,
		model: servedModelName(res, cand), stream: stream, first: first, cancel: cancel}
	sp.enc = proto.NewStream(sp.model, rc.promptTokens)
	setServedHeaders(c, cand, sp.model)
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set(fiber.HeaderConnection, "keep-alive")
	c.Set("X-Accel-Buffering", "no") // tell nginx-style proxies not to buffer the stream
	g.inflight.Add(1)
	c.Context().SetBodyStreamWriter(sp.run)
	return nil
}

// streamPump copies one upstream stream to the client. It runs after the handler
// returned (fasthttp's stream writer), so it must not touch the fiber.Ctx.
type streamPump struct {
	g      *Gateway
	rc     *reqCtx
	req    *schema.ChatRequest
	res    *catalog.Resolution
	atts   []*attempt
	cand   routing.Candidate
	model  string
	stream providers.ChatStream
	first  *schema.ChatChunk
	cancel context.CancelFunc
	enc    StreamEncoder

	id      string
	created int64
	usage   *schema.Usage
	finish  string
	text    strings.Builder // generated text, to count tokens if the upstream reports none
	ttft    time.Duration
}

func (p *streamPump) run(w *bufio.Writer) {
	defer p.g.inflight.Done()
	defer p.cancel()
	defer p.stream.Close()

	out := outcome{status: fiber.StatusOK, streamed: true}
	chunk, err := p.first, error(nil)
	for chunk != nil {
		if werr := p.forward(w, chunk); werr != nil {
			var ee encodeError
			if errors.As(werr, &ee) {
				// The upstream sent what the client's protocol cannot express: a
				// broken stream, said so, never a silent end.
				ae := apierr.BadGateway("The upstream's stream cannot be expressed in this API: " + ee.err.Error())
				out.status, out.err = ae.Status, ae
				_ = p.enc.Error(w, ae)
				_ = w.Flush()
				break
			}
			// The client went away: stop the upstream now, bill what was generated.
			out.status, out.err = 499, apierr.Cancelled("Client closed the connection.")
			break
		}
		chunk, err = p.stream.Recv()
		if err != nil {
			break
		}
	}
	if err != nil && !errors.Is(err, io.EOF) {
		ae := providers.AsAPI(err)
		if errors.Is(p.g.base.Err(), context.Canceled) {
			ae = apierr.Unavailable("The gateway is shutting down.")
		}
		out.status, out.err = ae.Status, ae
		_ = p.enc.Error(w, ae) // a broken stream is never presented as a clean finish
		_ = w.Flush()
	}
	usage, estimated := p.finalUsage()
	cost := pricing.Compute(p.cand.Offer.Price, usage)
	cost.Apply(usage)
	if out.err == nil {
		p.writeUsage(w, usage)
	}
	out.usage, out.estimated, out.cost, out.finishReason, out.ttft = usage, estimated, cost, p.finish, p.ttft
	p.g.logRequest(p.rc, p.res, p.atts, out)
}

// forward rewrites an upstream chunk into the gateway's shape and sends it.
// Usage is held back: the gateway sends its own priced usage chunk at the end.
func (p *streamPump) forward(w *bufio.Writer, ch *schema.ChatChunk) error {
	if ch.Usage != nil {
		p.usage = ch.Usage
		ch.Usage = nil
	}
	if p.id == "" {
		p.id, p.created = ch.ID, ch.Created
	}
	for _, c := range ch.Choices {
		if c.FinishReason != nil && *c.FinishReason != "" {
			p.finish = *c.FinishReason
		}
		d := c.Delta
		if d.Content != nil {
			p.text.WriteString(*d.Content)
		}
		if d.Reasoning != nil {
			p.text.WriteString(*d.Reasoning)
		}
		for _, tc := range d.ToolCalls {
			p.text.WriteString(tc.Function.Name)
			p.text.WriteString(tc.Function.Arguments)
		}
	}
	if len(ch.Choices) == 0 {
		return nil // a usage-only chunk
	}
	if p.ttft == 0 {
		p.ttft = time.Since(p.rc.start)
	}
	if err := p.enc.Chunk(w, ch); err != nil {
		if w.Flush() != nil {
			return err // the connection is gone, whatever the encoder said
		}
		return encodeError{err}
	}
	return w.Flush()
}

// encodeError: the protocol's encoder refused a chunk (not a write failure).
type encodeError struct{ err error }

func (e encodeError) Error() string { return e.err.Error() }

func (p *streamPump) finalUsage() (*schema.Usage, bool) {
	if u := p.usage; u != nil && (u.PromptTokens > 0 || u.CompletionTokens > 0) {
		return u, false
	}
	return estimateUsage(p.req, p.text.String()), true
}

// writeUsage ends the stream with the priced usage (the same fields as a
// non-streaming response's usage).
func (p *streamPump) writeUsage(w *bufio.Writer, u *schema.Usage) {
	id, created := p.id, p.created
	if id == "" {
		id, created = "chatcmpl-"+p.rc.requestID, unixNow()
	}
	if p.enc.Finish(w, id, created, u, routingMetadata(p.atts)) == nil {
		_ = w.Flush()
	}
}

// errFirstByte is the cancel cause when a stream's first chunk is too slow.
var errFirstByte = errors.New("first byte timeout")

// openStream starts an upstream stream and reads its first chunk, within the
// first-byte limit. The stream's own context lives on (ctx) once it has begun.
func (g *Gateway) openStream(ctx context.Context, cand routing.Candidate, req *schema.ChatRequest) (providers.ChatStream, *schema.ChatChunk, error) {
	attemptCtx, cancel := context.WithCancelCause(ctx)
	if g.UpstreamFirstByte > 0 {
		t := time.AfterFunc(g.UpstreamFirstByte, func() { cancel(errFirstByte) })
		defer t.Stop()
	}
	s, err := cand.Upstream.Adapter.ChatStream(attemptCtx, cand.Target(), req)
	var first *schema.ChatChunk
	if err == nil {
		first, err = s.Recv()
		if errors.Is(err, io.EOF) { // an empty but clean stream
			err = nil
		}
		if err != nil {
			s.Close()
		}
	}
	if err != nil {
		if errors.Is(context.Cause(attemptCtx), errFirstByte) {
			err = &providers.Error{Kind: providers.KindTimeout, Provider: cand.Offer.Provider, Err: errFirstByte}
		}
		cancel(nil)
		return nil, nil, err
	}
	// The stream keeps reading with attemptCtx, released when the stream closes.
	return &cancelOnClose{ChatStream: s, cancel: cancel}, first, nil
}

// cancelOnClose releases a stream's context when the stream is closed.
type cancelOnClose struct {
	providers.ChatStream
	cancel context.CancelCauseFunc
}

func (s *cancelOnClose) Close() error {
	err := s.ChatStream.Close()
	s.cancel(nil)
	return err
}
