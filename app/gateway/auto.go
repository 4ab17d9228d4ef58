package gateway

import (
	"encoding/json"
	"math"

	"github.com/llmgw/gateway/app/apierr"
	"github.com/llmgw/gateway/app/catalog"
	"github.com/llmgw/gateway/app/routing"
	"github.com/llmgw/gateway/app/schema"
	"github.com/llmgw/gateway/app/tokenizer"
)

// autoModel reports whether the request asks the gateway to choose the model
// (seed "Optimized Auto Routing").
func autoModel(name string) bool { return name == "auto" || name == "llmgateway/auto" }

// resolveAuto replaces model "auto" with the cheapest configured model that
// can serve the request: one whose context window holds the prompt plus the
// requested output (so larger requests move to larger models), with the tools,
// vision and reasoning support the request needs, free when free_models_only
// is set and without reasoning when no_reasoning is. Both flags are gateway
// parameters: removed before the request leaves, refused without "auto".
func (g *Gateway) resolveAuto(rc *reqCtx, req *schema.ChatRequest) error {
	freeOnly, err := takeFlag(req, "free_models_only")
	if err != nil {
		return err
	}
	noReasoning, err := takeFlag(req, "no_reasoning")
	if err != nil {
		return err
	}
	if rc.id.Key.Test {
		return nil // test keys are answered by the test provider whatever they ask
	}
	if !autoModel(req.Model) {
		if freeOnly || noReasoning {
			return apierr.BadRequest("free_models_only and no_reasoning only work with \"model\": \"auto\".", "model")
		}
		return nil
	}
	need := needsOf(req)
	if need.reasoning && noReasoning {
		return apierr.BadRequest("no_reasoning contradicts reasoning_effort: a reasoning model is required to honour it.", "no_reasoning")
	}
	tokens := tokenizer.CountMessages(req)
	rc.promptTokens = tokens
	if req.MaxCompletionTokens != nil {
		tokens += *req.MaxCompletionTokens
	} else if req.MaxTokens != nil {
		tokens += *req.MaxTokens
	}
	best := g.cheapestModel(rc, func(m *catalog.Model) bool {
		c := m.Capabilities
		return chatModel(m) && (m.ContextLength == 0 || m.ContextLength >= tokens) &&
			(!need.tools || c.Tools) && (!need.vision || c.Vision) && (!need.reasoning || c.Reasoning) && !(noReasoning && c.Reasoning)
	}, func(cand routing.Candidate) bool {
		p := cand.Offer.Price
		return !freeOnly || p.Free || p.Input == 0 && p.Output == 0
	})
	if best == "" {
		what := "model"
		if freeOnly {
			what = "free model"
		}
		return apierr.BadRequest("No configured "+what+" can serve this request (its size, tools, images or reasoning settings).", "model").WithCode("no_model_available")
	}
	req.Model, rc.autoModel = best, best
	return nil
}

// chatModel: a model that answers chat completions (not embeddings, and not
// the capability-less entries images models are declared with).
func chatModel(m *catalog.Model) bool {
	return !m.Capabilities.Embeddings && m.Capabilities != (catalog.Capabilities{})
}

// cheapestModel is the active, public catalog model accepted by okModel whose
// cheapest usable candidate (priced, not the test provider, allowed by the
// jurisdiction policies, accepted by okCand when given) has the lowest
// blended price; "" when there is none.
func (g *Gateway) cheapestModel(rc *reqCtx, okModel func(*catalog.Model) bool, okCand func(routing.Candidate) bool) string {
	best, bestPrice := "", int64(math.MaxInt64)
	cat, ups := g.Catalog.Get(), g.Upstreams()
	for _, m := range cat.Models() {
		if m.Status != catalog.StatusActive || m.Owner != "" || !okModel(m) {
			continue
		}
		res, err := cat.Resolve(m.ID)
		if err != nil {
			continue
		}
		cands, _ := ups.Candidates(res)
		for _, c := range cands {
			if !c.Offer.Price.Known || c.Offer.Provider == "test" || !g.allowedFor(rc, c) || okCand != nil && !okCand(c) {
				continue
			}
			if p := routing.BlendedPrice(c.Offer.Price); p < bestPrice {
				best, bestPrice = m.ID, p
			}
		}
	}
	return best
}

type needs struct{ tools, vision, reasoning bool }

func needsOf(req *schema.ChatRequest) needs {
	n := needs{tools: len(req.Tools) > 0, reasoning: req.ReasoningEffort != "" && req.ReasoningEffort != "none" || len(req.Reasoning) > 0}
	for _, m := range req.Messages {
		for _, p := range m.Content.Parts {
			if p.Type == "image_url" {
				n.vision = true
			}
		}
	}
	return n
}

// takeFlag removes a boolean gateway parameter from the request.
func takeFlag(req *schema.ChatRequest, name string) (bool, error) {
	raw, ok := req.Extra[name]
	if !ok {
		return false, nil
	}
	delete(req.Extra, name)
	var v bool
	if err := json.Unmarshal(raw, &v); err != nil {
		return false, apierr.BadRequest("'"+name+"' must be a boolean.", name)
	}
	return v, nil
}
