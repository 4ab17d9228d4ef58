package gateway

import (
	"errors"
	"fmt"

	"github.com/llmgw/gateway/app/apierr"
	"github.com/llmgw/gateway/app/catalog"
	"github.com/llmgw/gateway/app/iam"
	"github.com/llmgw/gateway/app/pricing"
	"github.com/llmgw/gateway/app/routing"
	"github.com/llmgw/gateway/app/schema"
	"github.com/llmgw/gateway/app/spend"
)

// route resolves the requested model name and lists the configured candidates
// the key's IAM rules allow.
func (g *Gateway) route(rc *reqCtx, model string, needEmbeddings bool, size sizer) (*catalog.Resolution, []routing.Candidate, error) {
	if rc.id.Key.Test {
		// A test key (CI pipelines) is always answered by the built-in test
		// provider, whatever model it names, and is never billed.
		model = "test/echo"
		if needEmbeddings {
			model = "test/embed"
		}
	}
	if t, ok := parseTier(model); ok && !rc.id.Key.Test {
		if t.strategy != "" && rc.strategy != "" && rc.strategy != t.strategy {
			return nil, nil, apierr.BadRequest(fmt.Sprintf("The model tier '%s' names a strategy that contradicts the 'routing' field.", model), "routing")
		}
		if t.strategy != "" {
			rc.strategy = t.strategy
		}
		rc.jurisdiction, model = t.policy, t.model
		if model == "" {
			var err error
			if model, err = g.chooseModel(rc, t, needEmbeddings); err != nil {
				return nil, nil, err
			}
		}
	}
	res, err := g.Catalog.Get().Resolve(model)
	if err != nil {
		if errors.Is(err, catalog.ErrNotFound) {
			return nil, nil, apierr.ModelNotFound(model)
		}
		return nil, nil, apierr.BadRequest(err.Error(), "model")
	}
	if err := checkAccess(rc.id, rc.model, res.Model); err != nil {
		return res, nil, err
	}
	if needEmbeddings != res.Model.Capabilities.Embeddings {
		what := "a chat"
		if needEmbeddings {
			what = "an embeddings"
		}
		return nil, nil, apierr.BadRequest(fmt.Sprintf("Model '%s' is not %s model.", model, what), "model").WithCode("invalid_model")
	}
	cands, why := g.Upstreams().Candidates(res)
	if cands, err = g.withOrgKeys(rc, res, cands); err != nil {
		return res, nil, err
	}
	if g.BillingEnabled {
		cands = pricedOnly(cands)
	}
	cands, err = allowed(rc.id.Rules, model, res, cands)
	if err != nil {
		return res, nil, err
	}
	if org := rc.id.Org.Jurisdiction(); (org != "global" || rc.jurisdiction != "") && !rc.id.Key.Test {
		if rc.jurisdiction == "" {
			rc.jurisdiction = org // recorded on the log row
		}
		if cands = g.inJurisdictions(rc, cands); len(cands) == 0 {
			policy := rc.jurisdiction
			if org != "global" && org != policy {
				policy += "' and the organization's policy '" + org
			}
			return res, nil, apierr.Forbidden(fmt.Sprintf("Model '%s' has no provider allowed under the jurisdiction policy '%s'.", res.Model.ID, policy)).WithCode("jurisdiction_violation")
		}
	}
	if rc.strategy != "" && res.Pinned {
		return res, nil, apierr.BadRequest("The 'routing' strategy cannot be combined with a pinned provider: remove the provider prefix from the model to use it.", "routing")
	}
	cands = g.order(rc, res, cands)
	if res.Pinned && !rc.noFallback {
		cands = g.lowUptimeReroute(rc, res, cands)
	}
	if rc.noFallback && len(cands) > 1 {
		cands = cands[:1] // other keys of the same provider may still be tried
	}
	if len(cands) == 0 {
		if why == "" {
			why = "no provider with a known price serves it"
		}
		return nil, nil, apierr.BadRequest(fmt.Sprintf("Model '%s' is not available: %s.", model, why), "model").WithCode("provider_not_configured")
	}
	if len(cands) > g.MaxAttempts {
		cands = cands[:g.MaxAttempts]
	}
	if err := g.reserve(rc, res, cands, size); err != nil {
		return res, nil, err
	}
	rc.cands = cands
	return res, cands, nil
}

// order ranks the candidates from live health (several providers of a root id,
// or several regions of a pinned provider) and notes why the first was chosen.
func (g *Gateway) order(rc *reqCtx, res *catalog.Resolution, cands []routing.Candidate) []routing.Candidate {
	if g.Selector == nil || len(cands) < 2 {
		if res.Pinned {
			rc.selection = "provider-pinned"
		}
		return cands
	}
	prompt := rc.promptTokens
	if prompt == 0 {
		prompt = rc.bodyLen / 4 // ~4 bytes a token: enough to tell a 5,000-token prompt
	}
	cands, rc.selection = g.Selector.Order(routing.Request{Model: res.Model.ID, Streaming: rc.streaming, PromptTokens: prompt,
		Strategy: rc.strategy, Session: rc.sessionID}, cands)
	return cands
}

// lowUptimeReroute puts the model's other providers in front of a pinned
// provider whose every candidate is below g.LowUptimeFallback. With no
// alternative the pinned provider is still tried.
func (g *Gateway) lowUptimeReroute(rc *reqCtx, res *catalog.Resolution, pinned []routing.Candidate) []routing.Candidate {
	if g.Selector == nil || g.Selector.Health == nil || len(pinned) == 0 || rc.id.Key.Test || g.LowUptimeFallback <= 0 {
		return pinned
	}
	for _, c := range pinned {
		if g.Selector.Health.Metrics(c.Key()).Uptime >= g.LowUptimeFallback {
			return pinned
		}
	}
	root, err := g.Catalog.Get().Resolve(res.Model.ID)
	if err != nil {
		return pinned
	}
	all, _ := g.Upstreams().Candidates(root)
	var alts []routing.Candidate
	for _, c := range all {
		if c.Offer.Provider != pinned[0].Offer.Provider && (!g.BillingEnabled || c.Offer.Price.Known) && g.allowedFor(rc, c) {
			alts = append(alts, c)
		}
	}
	if alts, err = allowed(rc.id.Rules, res.Model.ID, root, alts); err != nil || len(alts) == 0 {
		return pinned
	}
	alts = g.order(rc, root, alts)
	rc.selection = "low-uptime-fallback"
	return append(alts, pinned...)
}

// sizer tells the prompt tokens of a request and the most it may generate (0:
// the model's limit). With exact false it returns a cheap upper bound instead
// of tokenizing the prompt. It is only called for keys with a spend limit.
type sizer func(exact bool) (prompt, maxOutput int)

// reserve holds the request's highest possible cost against the key's spend
// limits before any upstream call, so concurrent requests cannot overshoot.
// It first reserves from an upper bound of the prompt (free to compute); only
// when that does not fit is the prompt tokenized for a tight estimate, so the
// tokenizer stays off the hot path except near a limit.
func (g *Gateway) reserve(rc *reqCtx, res *catalog.Resolution, cands []routing.Candidate, size sizer) error {
	k := rc.id.Key
	if g.Spend == nil || (k.UsageLimit == nil && k.PeriodUsageLimit == nil) {
		return nil
	}
	hold, err := g.Spend.Reserve(k, worstCost(res, cands, size, false))
	var le *spend.LimitError
	if errors.As(err, &le) && !le.Reached {
		hold, err = g.Spend.Reserve(k, worstCost(res, cands, size, true))
	}
	if errors.As(err, &le) {
		return apierr.New(402, le.Msg)
	}
	if err != nil { // the shared store is down: refuse rather than enforce limits wrongly
		return apierr.Unavailable("Spend limits cannot be checked right now; try again shortly.")
	}
	rc.hold = hold
	return nil
}

// worstCost is the highest cost any candidate could charge for the request.
func worstCost(res *catalog.Resolution, cands []routing.Candidate, size sizer, exact bool) int64 {
	prompt, maxOut := size(exact)
	var worst int64
	for _, c := range cands {
		out := maxOut
		if out <= 0 {
			out = c.Offer.MaxOutput
		}
		if out <= 0 {
			out = res.Model.MaxOutput
		}
		if out <= 0 {
			out = 4096
		}
		u := &schema.Usage{PromptTokens: prompt, CompletionTokens: out}
		worst = max(worst, pricing.Compute(c.Offer.Price, u).Total())
	}
	return worst
}

// allowed keeps the candidates the key's IAM rules allow: a root-id request is
// routed only among the providers the rules permit.
func allowed(rules iam.Set, model string, res *catalog.Resolution, cands []routing.Candidate) ([]routing.Candidate, error) {
	if len(rules) == 0 {
		return cands, nil
	}
	ic := make([]iam.Candidate, len(cands))
	for i, c := range cands {
		ic[i] = iam.Candidate{ModelID: res.Model.ID, Offer: c.Offer}
	}
	kept, err := rules.Filter(model, ic)
	if err != nil {
		return nil, apierr.Forbidden(err.Error())
	}
	out := cands[:0:0]
	for _, k := range kept {
		for _, c := range cands {
			if c.Offer == k.Offer {
				out = append(out, c)
			}
		}
	}
	return out, nil
}

// pricedOnly drops offers with an unknown price: with billing on, a model is never
// served without a price.
func pricedOnly(in []routing.Candidate) []routing.Candidate {
	out := in[:0:0]
	for _, c := range in {
		if c.Offer.Price.Known {
			out = append(out, c)
		}
	}
	return out
}

// servedModelName is the model name shown to the client: provider/model, as the
// seed's responses do ("openai/gpt-4o").
func servedModelName(res *catalog.Resolution, c routing.Candidate) string {
	id := res.Model.ID
	if c.Upstream.Info.Custom && res.Model.ID == c.Offer.Provider+"/"+c.Offer.Model {
		return id // synthesised custom model: already provider/model
	}
	return c.Offer.Provider + "/" + id
}
