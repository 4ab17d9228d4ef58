package gateway

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/llmgw/gateway/app/apierr"
	"github.com/llmgw/gateway/app/catalog"
	"github.com/llmgw/gateway/app/routing"
	"github.com/llmgw/gateway/app/schema"
	"github.com/llmgw/gateway/app/tokenizer"
)

// ChatCompletions serves POST /v1/chat/completions.
func (g *Gateway) ChatCompletions(c *fiber.Ctx) error {
	rc, err := g.begin(c, "chat.completions")
	if err != nil {
		return err
	}
	req, err := decodeChat(c.Body())
	if err != nil {
		return g.reject(rc, nil, err)
	}
	if rc.sessionID == "" {
		rc.sessionID = truncate(firstNonEmpty(rawString(req.Extra["prompt_cache_key"]), req.User), 255)
	}
	return g.runChat(c, rc, OpenAI, req)
}

// runChat is the pipeline after decoding, shared by every inbound protocol:
// route, limit, call (with fallback), meter, answer in proto, log. Errors are
// returned (and logged); the caller writes them in its protocol.
func (g *Gateway) runChat(c *fiber.Ctx, rc *reqCtx, proto Protocol, req *schema.ChatRequest) error {
	rc.model = req.Model
	rc.streaming = req.Stream
	if err := takeStrategy(rc, req); err != nil {
		return g.reject(rc, nil, err)
	}
	if err := g.resolveAuto(rc, req); err != nil {
		return g.reject(rc, nil, err)
	}
	if err := g.guard(rc, req); err != nil {
		return g.reject(rc, nil, err)
	}
	res, cands, err := g.route(rc, req.Model, false, func(exact bool) (int, int) {
		out := 0
		if req.MaxCompletionTokens != nil {
			out = *req.MaxCompletionTokens
		} else if req.MaxTokens != nil {
			out = *req.MaxTokens
		}
		if req.N != nil && *req.N > 1 {
			out *= *req.N
		}
		if !exact {
			return promptBound(rc, req), out
		}
		rc.promptTokens = tokenizer.CountMessages(req)
		return rc.promptTokens, out
	})
	if err != nil {
		return g.reject(rc, res, err)
	}
	if err := g.freeModelLimit(c, rc, cands); err != nil {
		return g.reject(rc, res, err)
	}
	if req.Stream {
		return g.streamChat(c, rc, proto, req, res, cands)
	}
	return g.completeChat(c, rc, proto, req, res, cands)
}

// reject answers a request that failed before any upstream call, and logs it.
func (g *Gateway) reject(rc *reqCtx, res *catalog.Resolution, err error) error {
	ae := apierr.From(err)
	g.logRequest(rc, res, nil, outcome{status: ae.Status, err: ae})
	return ae
}

// completeChat calls the candidates in order until one answers (non-streaming).
func (g *Gateway) completeChat(c *fiber.Ctx, rc *reqCtx, proto Protocol, req *schema.ChatRequest, res *catalog.Resolution, cands []routing.Candidate) error {
	if ct := g.cacheFor(rc, req); ct != nil {
		return g.completeCached(c, rc, proto, req, res, cands, ct)
	}
	ctx, cancel := context.WithCancel(g.base)
	defer cancel()
	var gone atomic.Bool
	stop := watchClient(c, func() {
		gone.Store(true)
		if !g.drainOnDisconnect() {
			cancel() // stop the upstream now; the prompt is still billed
		}
	})
	resp, atts, err := g.callChat(ctx, req, cands)
	stop()
	if gone.Load() {
		return g.clientGone(rc, req, res, atts, resp)
	}
	if err != nil {
		return g.giveUp(rc, res, atts, false)
	}
	return g.respondChat(c, rc, proto, req, res, atts, resp)
}

// drainOnDisconnect: GATEWAY_ON_CLIENT_DISCONNECT=drain lets the upstream call
// finish (bounded by its timeout) and bills its exact usage.
func (g *Gateway) drainOnDisconnect() bool { return g.OnClientDisconnect == "drain" }

// clientGone logs a non-streaming request whose client disconnected: 499
// request_cancelled, billed for the upstream's reported usage when the call
// was drained, else for the prompt (nothing generated reached anyone).
func (g *Gateway) clientGone(rc *reqCtx, req *schema.ChatRequest, res *catalog.Resolution, atts []*attempt, resp *schema.ChatResponse) error {
	ae := apierr.Cancelled("Client closed the connection.")
	out := outcome{status: 499, err: ae}
	if len(atts) > 0 {
		cand := atts[len(atts)-1].cand
		usage := (*schema.Usage)(nil)
		if resp != nil && resp.Usage != nil && (resp.Usage.PromptTokens > 0 || resp.Usage.CompletionTokens > 0) {
			usage = resp.Usage
		} else {
			usage, out.estimated = estimateUsage(req, completionText(resp)), true
		}
		out.cost = g.price(rc, cand.Offer.Price, usage)
		out.cost.Apply(usage)
		out.usage = usage
		last := atts[len(atts)-1]
		if !last.succeeded {
			last.status, last.errType = 499, "cancelled"
		}
	}
	g.logRequest(rc, res, atts, out)
	return ae
}

// callChat runs the attempt plan of a non-streaming request: the answer and
// every attempt made, or the last failure.
// Each attempt has its own deadline (GATEWAY_UPSTREAM_TIMEOUT): a provider
// that hangs uses up its attempt, not the next provider's. When ctx itself
// ends (client gone, shutdown) no further attempt is made and the failure is
// not held against the provider or its key.
func (g *Gateway) callChat(ctx context.Context, req *schema.ChatRequest, cands []routing.Candidate) (*schema.ChatResponse, []*attempt, error) {
	var atts []*attempt
	var prev error
	for p := newPlan(cands, g.MaxAttempts); ctx.Err() == nil; {
		cand, key, ok := p.next(prev)
		if !ok {
			break
		}
		a := newAttempt(cand)
		atts = append(atts, a)
		actx, cancel := context.WithTimeout(ctx, g.UpstreamTimeout)
		resp, err := cand.Upstream.Adapter.Chat(actx, cand.Target(key), req)
		cancel()
		if err != nil && ctx.Err() != nil {
			a.fail(err)
			a.errType = "cancelled" // the request ended, not the provider
			prev = err
			break
		}
		reportKey(cand, key, err)
		if err != nil {
			a.fail(err)
			prev = err
			continue
		}
		a.ok()
		return resp, atts, nil
	}
	if prev == nil {
		prev = errNoAttempt
	}
	return nil, atts, prev
}

// errNoAttempt: every key of every candidate was rejected before a call.
var errNoAttempt = errors.New("no upstream attempt could be made")

// giveUp answers a request none of whose attempts succeeded with the last
// attempt's error (or, when no attempt could be made, why).
func (g *Gateway) giveUp(rc *reqCtx, res *catalog.Resolution, atts []*attempt, streamed bool) error {
	if len(atts) == 0 {
		err := noAttempt(rc)
		g.logRequest(rc, res, nil, outcome{status: err.Status, err: err, streamed: streamed})
		return err
	}
	a := atts[len(atts)-1]
	g.logRequest(rc, res, atts, outcome{status: a.status, err: a.err, streamed: streamed})
	return a.err
}

// noAttempt explains why no candidate could be called: its providers asked us
// to wait after rate limiting every key (429, Devora's "upstream provider is in
// cooldown"), or rejected every key (503).
func noAttempt(rc *reqCtx) *apierr.Error {
	var wait time.Time
	for _, c := range rc.cands {
		until, ok := c.Upstream.Pool.CoolingUntil()
		if !ok {
			continue
		}
		if wait.IsZero() || until.Before(wait) {
			wait = until
		}
	}
	if !wait.IsZero() {
		secs := int(time.Until(wait).Seconds()) + 1
		e := apierr.New(fiber.StatusTooManyRequests, fmt.Sprintf("The upstream provider of '%s' is cooling down after rate limiting the gateway; retry in %d s.", rc.model, secs)).WithCode("upstream_rate_limited")
		e.Header = map[string]string{"Retry-After": strconv.Itoa(secs)}
		return e
	}
	return apierr.Unavailable(fmt.Sprintf("Model '%s' is not available: every API key of its providers was rejected by the provider (401/403); fix the keys and restart.", rc.model))
}

// respondChat meters a completion, writes it to the client and logs it.
func (g *Gateway) respondChat(c *fiber.Ctx, rc *reqCtx, proto Protocol, req *schema.ChatRequest, res *catalog.Resolution, atts []*attempt, resp *schema.ChatResponse) error {
	cand := atts[len(atts)-1].cand
	usage, estimated := resp.Usage, false
	if usage == nil || (usage.PromptTokens == 0 && usage.CompletionTokens == 0) {
		usage, estimated = estimateUsage(req, completionText(resp)), true
	}
	cost := g.price(rc, cand.Offer.Price, usage)
	cost.Apply(usage)
	resp.Usage = usage
	resp.Model = servedModelName(res, cand)
	resp.Metadata = routingMetadata(rc, atts)
	setServedHeaders(c, cand, resp.Model)

	finish := ""
	if len(resp.Choices) > 0 {
		finish = resp.Choices[0].FinishReason
	}
	g.logRequest(rc, res, atts, outcome{status: fiber.StatusOK, finishReason: finish, usage: usage, estimated: estimated, cost: cost,
		payload: payloadOf(rc, resp)})
	return proto.WriteResponse(c, resp)
}

// setServedHeaders names the provider and model that answered.
func setServedHeaders(c *fiber.Ctx, cand routing.Candidate, model string) {
	c.Set("X-LLMGateway-Used-Provider", cand.Offer.Provider)
	c.Set("X-LLMGateway-Used-Model", model)
}

// estimateUsage counts tokens with the tokenizer when the upstream reported none.
func estimateUsage(req *schema.ChatRequest, completion string) *schema.Usage {
	p, c := tokenizer.CountMessages(req), tokenizer.Count(completion)
	return &schema.Usage{PromptTokens: p, CompletionTokens: c, TotalTokens: p + c}
}

// completionText is everything the model generated, for token estimation.
func completionText(resp *schema.ChatResponse) string {
	if resp == nil {
		return ""
	}
	var s string
	for _, ch := range resp.Choices {
		s += ch.Message.Content.String() + ch.Message.Reasoning
		for _, tc := range ch.Message.ToolCalls {
			s += tc.Function.Name + tc.Function.Arguments
		}
	}
	return s
}

// rawString decodes a JSON string value kept raw in Extra ("" if absent or not a string).
func rawString(v []byte) string {
	if len(v) < 2 || v[0] != '"' {
		return ""
	}
	var s string
	if err := jsonUnmarshal(v, &s); err != nil {
		return ""
	}
	return s
}

// unixNow is overridable in tests.
var unixNow = func() int64 { return time.Now().Unix() }

// takeStrategy reads (and removes: upstreams do not know it) the gateway's
// "routing" field: auto | price | throughput | latency.
func takeStrategy(rc *reqCtx, req *schema.ChatRequest) error {
	raw, ok := req.Extra["routing"]
	if !ok {
		return nil
	}
	delete(req.Extra, "routing")
	s := rawString(raw)
	switch s {
	case "auto", "price", "throughput", "latency":
		rc.strategy = s
		return nil
	}
	return apierr.BadRequest("'routing' must be one of: auto, price, throughput, latency.", "routing")
}

// promptBound is an upper bound of the prompt tokens that costs nothing to
// compute: a token is at least one byte of the request body, plus what the
// tokenizer charges for each image.
func promptBound(rc *reqCtx, req *schema.ChatRequest) int {
	n := rc.bodyLen
	for i := range req.Messages {
		for _, p := range req.Messages[i].Content.Parts {
			if p.Type == "image_url" {
				n += 85
			}
		}
	}
	return n
}
