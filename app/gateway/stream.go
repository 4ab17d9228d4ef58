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
	sp.w = bufio.NewWriterSize(&sp.out, 1024)
	setServedHeaders(c, cand, sp.model)
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set(fiber.HeaderConnection, "keep-alive")
	c.Set("X-Accel-Buffering", "no") // tell nginx-style proxies not to buffer the stream
	g.inflight.Add(1)
	c.Context().SetBodyStream(sp, -1)
	return nil
}

// streamPump copies one upstream stream to the client. fasthttp pulls it as
// the response body (an io.ReadCloser), from the connection's own goroutine,
// after the handler returned, so it must not touch the fiber.Ctx. Each Read
// returns the next event(s); fasthttp writes them as one chunk and flushes.
// (fasthttp's SetBodyStreamWriter would push instead, from one more goroutine
// per stream behind an in-memory pipe: a goroutine, a pipe and a copy per
// chunk, which 1,000 concurrent streams pay in memory and latency.)
//
// A stream ends in one of two ways: Read reaches the end (EOF, upstream
// error, unencodable chunk) and writes the last events, or fasthttp closes it
// before that because writing to the client failed. Close settles and logs
// the request either way.
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

	w       *bufio.Writer // the encoders write here, into out
	out     pending
	started bool
	ended   bool    // the last events were produced
	result  outcome // the request's outcome, once ended
	closed  bool

	id      string
	created int64
	usage   *schema.Usage
	finish  string
	text    strings.Builder // generated text, to count tokens if the upstream reports none
	ttft    time.Duration
}

// pending holds encoded bytes until fasthttp reads them.
type pending struct {
	b   []byte
	off int
}

func (q *pending) Write(b []byte) (int, error) {
	q.b = append(q.b, b...)
	return len(b), nil
}

func (q *pending) empty() bool { return q.off == len(q.b) }

// Read implements io.Reader: it blocks until the upstream sends more.
func (p *streamPump) Read(b []byte) (int, error) {
	for p.out.empty() {
		if p.ended {
			return 0, io.EOF
		}
		p.out.b, p.out.off = p.out.b[:0], 0
		p.step()
		_ = p.w.Flush() // into memory: cannot fail
	}
	n := copy(b, p.out.b[p.out.off:])
	p.out.off += n
	return n, nil
}

// step forwards the next upstream chunk, or ends the stream.
func (p *streamPump) step() {
	var ch *schema.ChatChunk
	if !p.started {
		p.started = true
		if ch = p.first; ch == nil { // an empty but clean stream
			p.end(outcome{status: fiber.StatusOK, streamed: true})
			return
		}
	} else {
		var err error
		if ch, err = p.stream.Recv(); err != nil {
			out := outcome{status: fiber.StatusOK, streamed: true}
			if !errors.Is(err, io.EOF) {
				ae := providers.AsAPI(err)
				if errors.Is(p.g.base.Err(), context.Canceled) {
					ae = apierr.Unavailable("The gateway is shutting down.")
				}
				out.status, out.err = ae.Status, ae
				_ = p.enc.Error(p.w, ae) // a broken stream is never presented as a clean finish
			}
			p.end(out)
			return
		}
	}
	if err := p.forward(p.w, ch); err != nil {
		// The upstream sent what the client's protocol cannot express: a
		// broken stream, said so, never a silent end.
		ae := apierr.BadGateway("The upstream's stream cannot be expressed in this API: " + err.Error())
		_ = p.enc.Error(p.w, ae)
		p.end(outcome{status: ae.Status, err: ae, streamed: true})
	}
}

// end settles the request: usage and cost, and on success the priced usage
// chunk for the client and the answer for the cache.
func (p *streamPump) end(out outcome) {
	p.ended = true
	p.result = p.settle(out, p.w)
}

// settle completes out with usage, cost and the retained payload. w is nil
// when the client is gone: nothing is written then.
func (p *streamPump) settle(out outcome, w *bufio.Writer) outcome {
	usage, estimated := p.finalUsage()
	cost := p.g.price(p.rc, p.cand.Offer.Price, usage)
	cost.Apply(usage)
	if out.err == nil && w != nil {
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
	return out
}

// Close implements io.Closer; fasthttp calls it once the response is done,
// or failed. Before the end, that means the client went away: stop the
// upstream now and bill what was generated, or (drain) read the rest to bill
// its exact usage.
func (p *streamPump) Close() error {
	if p.closed {
		return nil
	}
	p.closed = true
	defer p.g.inflight.Done()
	defer p.cancel()
	defer p.stream.Close()
	if !p.ended {
		if p.g.drainOnDisconnect() {
			p.drain()
		}
		p.result = p.settle(outcome{status: 499, err: apierr.Cancelled("Client closed the connection."), streamed: true}, nil)
	}
	p.g.logRequest(p.rc, p.res, p.atts, p.result)
	return nil
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

// forward rewrites an upstream chunk into the gateway's shape and encodes it
// for the client. Usage is held back: the gateway sends its own priced usage
// chunk at the end.
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
	return p.enc.Chunk(w, ch) // into memory: an error is the encoder refusing the chunk
}

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
	_ = p.enc.Finish(w, id, created, u, routingMetadata(p.rc, p.atts))
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
