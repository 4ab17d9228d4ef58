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
	"github.com/llmgw/gateway/app/providers"
	"github.com/llmgw/gateway/app/respcache"
	"github.com/llmgw/gateway/app/routing"
	"github.com/llmgw/gateway/app/schema"
)

// streamChat opens the upstream stream and waits for its first chunk before
// answering: until a byte reaches the client, a failing provider can still be
// replaced by the next candidate, and an error can still be a plain JSON error
// with its real status.
func (g *Gateway) streamChat(c *fiber.Ctx, rc *reqCtx, proto Protocol, req *schema.ChatRequest, res *catalog.Resolution, cands []routing.Candidate) error {
	ct := g.cacheFor(rc, req)
	if ct != nil {
		if resp, ok := g.Cache.Lookup(g.base, ct.key); ok {
			return g.streamCached(c, rc, proto, res, resp)
		}
		c.Set(CacheHeader, "MISS")
		g.Metrics.CacheLookup(false)
	}
	ctx, cancel := context.WithTimeout(g.base, g.UpstreamStreamTimeout)
	var atts []*attempt
	var stream providers.ChatStream
	var first *schema.ChatChunk
	var prev error
	for p := newPlan(cands, g.MaxAttempts); ; {
		cand, key, ok := p.next(prev)
		if !ok {
			break
		}
		a := newAttempt(cand)
		atts = append(atts, a)
		s, f, err := g.openStream(ctx, cand, key, req)
		reportKey(cand, key, err)
		if err != nil {
			a.fail(err)
			prev = err
			continue
		}
		a.ok()
		stream, first = s, f
		break
	}
	if stream == nil {
		cancel()
		return g.giveUp(rc, res, atts, true)
	}

	cand := atts[len(atts)-1].cand
	sp := &streamPump{g: g, rc: rc, req: req, res: res, atts: atts, cand: cand,
		model: servedModelName(res, cand), stream: stream, first: first, cancel: cancel, cache: ct}
	if ct != nil || rc.retainBody != nil {
		sp.acc = &respcache.Accumulator{}
	}
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
	cache  *cacheTarget           // where a complete answer is stored (nil: not cached)
	acc    *respcache.Accumulator // rebuilds the answer for the cache

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
			// The client went away: stop the upstream now and bill what was
			// generated, or (drain) read the rest to bill its exact usage.
			out.status, out.err = 499, apierr.Cancelled("Client closed the connection.")
			if p.g.drainOnDisconnect() {
				p.drain()
			}
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
	cost := p.g.price(p.rc, p.cand.Offer.Price, usage)
	cost.Apply(usage)
	if out.err == nil {
		p.writeUsage(w, usage)
		if p.cache != nil {
			resp := p.acc.Response()
			resp.Model = p.model
			p.g.Cache.Put(p.g.base, p.cache.key, resp, p.cache.ttl)
		}
	}
	out.usage, out.estimated, out.cost, out.finishReason, out.ttft = usage, estimated, cost, p.finish, p.ttft
	if p.acc != nil && p.rc.retainBody != nil {
		resp := p.acc.Response()
		resp.Model, resp.Usage = p.model, usage
		out.payload = payloadOf(p.rc, resp)
	}
	p.g.logRequest(p.rc, p.res, p.atts, out)
}

// drain reads the rest of the upstream stream after the client left, keeping
// only what metering needs (bounded by the stream's own timeout).
func (p *streamPump) drain() {
	p.cache = nil // an answer nobody saw completely is not cached
	for {
		ch, err := p.stream.Recv()
		if err != nil {
			return
		}
		_ = p.forward(nil, ch)
	}
}

// forward rewrites an upstream chunk into the gateway's shape and sends it.
// Usage is held back: the gateway sends its own priced usage chunk at the end.
func (p *streamPump) forward(w *bufio.Writer, ch *schema.ChatChunk) error {
	if p.acc != nil {
		p.acc.Add(ch)
	}
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
	if len(ch.Choices) == 0 || w == nil {
		return nil // a usage-only chunk, or draining for a client that left
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
	if p.enc.Finish(w, id, created, u, routingMetadata(p.rc, p.atts)) == nil {
		_ = w.Flush()
	}
}

// errFirstByte is the cancel cause when a stream's first chunk is too slow.
var errFirstByte = errors.New("first byte timeout")

// openStream starts an upstream stream and reads its first chunk, within the
// first-byte limit. The stream's own context lives on (ctx) once it has begun.
func (g *Gateway) openStream(ctx context.Context, cand routing.Candidate, key *routing.PoolKey, req *schema.ChatRequest) (providers.ChatStream, *schema.ChatChunk, error) {
	attemptCtx, cancel := context.WithCancelCause(ctx)
	var timer *time.Timer
	if g.UpstreamFirstByte > 0 {
		timer = time.AfterFunc(g.UpstreamFirstByte, func() { cancel(errFirstByte) })
		defer timer.Stop()
	}
	s, err := cand.Upstream.Adapter.ChatStream(attemptCtx, cand.Target(key), req)
	var first *schema.ChatChunk
	if err == nil {
		first, err = s.Recv()
		if errors.Is(err, io.EOF) { // an empty but clean stream
			err = nil
		}
		// The deadline may have fired just as the first chunk arrived: the
		// stream's context is then cancelled and would break after one chunk.
		// Nothing reached the client yet, so it counts as a first-byte timeout
		// and the next provider can still take over.
		if err == nil && timer != nil && !timer.Stop() {
			err = errFirstByte // the timer's func may not have cancelled yet
		}
		if err != nil {
			s.Close()
		}
	}
	if err != nil {
		if errors.Is(err, errFirstByte) || errors.Is(context.Cause(attemptCtx), errFirstByte) {
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
