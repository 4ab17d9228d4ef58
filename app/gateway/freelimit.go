package gateway

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/llmgw/gateway/app/apierr"
	"github.com/llmgw/gateway/app/routing"
)

// The seed's free-model limits, applied only when billing is on (the hosted
// mode): an organization that never bought credits gets 5 requests per 10
// minutes on free models, one that did gets 20 per minute. A self-hosted
// install without billing has none, and the built-in test provider never counts.
const (
	freeLimitNoCredits   = 5
	freeWindowNoCredits  = 10 * time.Minute
	freeLimitWithCredits = 20
	freeWindowCredits    = time.Minute
)

// freeOnly reports whether every candidate is a free offer of a real provider.
func freeOnly(cands []routing.Candidate) bool {
	for _, c := range cands {
		p := c.Offer.Price
		free := p.Known && (p.Free || (p.Input == 0 && p.Output == 0 && p.CachedInput == 0 && p.Request == 0))
		if !free || c.Upstream.Info.Kind == "test" {
			return false
		}
	}
	return len(cands) > 0
}

// freeModelLimit applies the free-model limit and sets the rate-limit headers.
func (g *Gateway) freeModelLimit(c *fiber.Ctx, rc *reqCtx, cands []routing.Candidate) error {
	if !g.BillingEnabled || g.Limits == nil || !freeOnly(cands) {
		return nil
	}
	limit, window := freeLimitNoCredits, freeWindowNoCredits
	if g.HasPurchasedCredits != nil {
		ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
		ok, err := g.HasPurchasedCredits(ctx, rc.id.Key.OrganizationID)
		cancel()
		if err != nil {
			return apierr.Unavailable("Rate limits cannot be checked right now; try again shortly.")
		}
		if ok {
			limit, window = freeLimitWithCredits, freeWindowCredits
		}
	}
	d, err := g.Limits.Take(c.UserContext(), "free:org:"+rc.id.Key.OrganizationID, limit, 1, window)
	if err != nil {
		return apierr.Unavailable("Rate limiting is temporarily unavailable.")
	}
	if !d.Allowed {
		return limited(d)
	}
	for k, v := range limitHeaders(d) {
		c.Set(k, v)
	}
	return nil
}
