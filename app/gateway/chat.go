package gateway

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/llmgw/gateway/app/apierr"
	"github.com/llmgw/gateway/app/catalog"
	"github.com/llmgw/gateway/app/pricing"
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
	ctx, cancel := context.WithTimeout(g.base, g.UpstreamTimeout)
	defer cancel()

	var atts []*attempt
	for i, cand := range cands {
		a := newAttempt(cand)
		atts = append(atts, a)
		resp, err := cand.Upstream.Adapter.Chat(ctx, cand.Target(), req)
		if err != nil {
			a.fail(err)
			if retryable(err) && i < len(cands)-1 {
				continue
			}
			g.logRequest(rc, res, atts, outcome{status: a.status, err: a.err})
			return a.err
		}
		a.succeeded, a.status = true, fiber.StatusOK
		return g.respondChat(c, rc, proto, req, res, atts, resp)
	}
	return apierr.Internal("no upstream attempted") // unreachable: route returns ≥1 candidate
}

// respondChat meters a completion, writes it to the client and logs it.
func (g *Gateway) respondChat(c *fiber.Ctx, rc *reqCtx, proto Protocol, req *schema.ChatRequest, res *catalog.Resolution, atts []*attempt, resp *schema.ChatResponse) error {
	cand := atts[len(atts)-1].cand
	usage, estimated := resp.Usage, false
	if usage == nil || (usage.PromptTokens == 0 && usage.CompletionTokens == 0) {
		usage, estimated = estimateUsage(req, completionText(resp)), true
	}
	cost := pricing.Compute(cand.Offer.Price, usage)
	cost.Apply(usage)
	resp.Usage = usage
	resp.Model = servedModelName(res, cand)
	resp.Metadata = routingMetadata(atts)
	setServedHeaders(c, cand, resp.Model)

	finish := ""
	if len(resp.Choices) > 0 {
		finish = resp.Choices[0].FinishReason
	}
	g.logRequest(rc, res, atts, outcome{status: fiber.StatusOK, finishReason: finish, usage: usage, estimated: estimated, cost: cost})
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
