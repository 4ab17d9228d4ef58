package gateway

import (
	"context"

	"github.com/gofiber/fiber/v2"

	"github.com/llmgw/gateway/app/schema"
	"github.com/llmgw/gateway/app/tokenizer"
)

// Embeddings serves POST /v1/embeddings.
func (g *Gateway) Embeddings(c *fiber.Ctx) error {
	rc, err := g.begin(c, "embeddings")
	if err != nil {
		return err
	}
	req, err := decodeEmbeddings(c.Body())
	if err != nil {
		return g.reject(rc, nil, err)
	}
	rc.model = req.Model
	if err := g.guardEmbeddings(rc, req); err != nil {
		return g.reject(rc, nil, err)
	}
	res, cands, err := g.route(rc, req.Model, true, func(exact bool) (int, int) {
		if !exact {
			return len(req.Input), 1 // a token is at least one byte of the input
		}
		n := 0
		for _, s := range req.InputTexts() {
			n += tokenizer.Count(s)
		}
		if n == 0 {
			n = len(req.Input) // token-id arrays: at most one token per byte
		}
		return n, 1 // embeddings produce no completion tokens
	})
	if err != nil {
		return g.reject(rc, res, err)
	}
	if err := g.freeModelLimit(c, rc, cands); err != nil {
		return g.reject(rc, res, err)
	}
	ctx, cancel := context.WithTimeout(g.base, g.UpstreamTimeout)
	defer cancel()

	var atts []*attempt
	var prev error
	for p := newPlan(cands, g.MaxAttempts); ; {
		cand, key, ok := p.next(prev)
		if !ok {
			break
		}
		a := newAttempt(cand)
		atts = append(atts, a)
		resp, err := cand.Upstream.Adapter.Embed(ctx, cand.Target(key), req)
		reportKey(cand, key, err)
		if err != nil {
			a.fail(err)
			prev = err
			continue
		}
		a.ok()
		usage, estimated := resp.Usage, false
		if usage == nil || usage.PromptTokens == 0 {
			n := 0
			for _, s := range req.InputTexts() {
				n += tokenizer.Count(s)
			}
			usage, estimated = &schema.Usage{PromptTokens: n, TotalTokens: n}, true
		}
		cost := g.price(rc, cand.Offer.Price, usage)
		cost.Apply(usage)
		resp.Usage = usage
		resp.Model = servedModelName(res, cand)
		setServedHeaders(c, cand, resp.Model)
		g.logRequest(rc, res, atts, outcome{status: fiber.StatusOK, usage: usage, estimated: estimated, cost: cost, payload: payloadOf(rc, resp)})
		return c.JSON(resp)
	}
	return g.giveUp(rc, res, atts, false)
}
