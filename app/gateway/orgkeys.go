package gateway

import (
	"fmt"

	"github.com/llmgw/gateway/app/apierr"
	"github.com/llmgw/gateway/app/catalog"
	"github.com/llmgw/gateway/app/routing"
)

// withOrgKeys applies the project's mode to the candidates: "credits" uses the
// gateway's provider keys only; "api-keys" only the organization's own keys
// (bring your own key); "hybrid" (the default) tries the organization's key of
// a provider first and the gateway's after it. An organization key pool is
// its own pool: its health, rests and rejections are the organization's.
func (g *Gateway) withOrgKeys(rc *reqCtx, res *catalog.Resolution, cands []routing.Candidate) ([]routing.Candidate, error) {
	mode := "hybrid"
	if p := rc.id.Project; p != nil && p.Mode != "" {
		mode = p.Mode
	}
	if g.OrgKeys == nil || mode == "credits" || rc.id.Key.Test {
		return cands, nil
	}
	org := rc.id.Key.OrganizationID
	ups := g.Upstreams()
	var out []routing.Candidate
	for _, o := range res.Offers {
		e, ok := g.OrgKeys.Get(org, o.Provider)
		env := candidatesOf(cands, o)
		if !ok {
			if mode == "hybrid" {
				out = append(out, env...)
			}
			continue
		}
		base, found := ups.Any(o.Provider)
		if !found || base.Info.Priority == 0 {
			continue
		}
		own := *base
		own.Pool = e.Pool
		if e.BaseURL != "" {
			own.BaseURL = e.BaseURL
		}
		out = append(out, routing.OfferCandidates(&own, o, res.Region)...)
		if mode == "hybrid" {
			out = append(out, env...)
		}
	}
	if len(out) == 0 && mode == "api-keys" {
		return nil, apierr.BadRequest(fmt.Sprintf("Model '%s' is not available: this project uses its organization's own provider keys (mode api-keys) and none is set for its providers.", rc.model), "model").WithCode("provider_not_configured")
	}
	return out, nil
}

// candidatesOf are the candidates of one offer (one per region).
func candidatesOf(cands []routing.Candidate, o *catalog.Offer) []routing.Candidate {
	var out []routing.Candidate
	for _, c := range cands {
		if c.Offer == o {
			out = append(out, c)
		}
	}
	return out
}
