package gateway

import (
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/llmgw/gateway/app/apierr"
	"github.com/llmgw/gateway/app/keys"
	"github.com/llmgw/gateway/app/ratelimit"
)

// limitKeys names the counters of an identity's limits.
func rpmKeys(id *keys.Identity) []limitCheck {
	var out []limitCheck
	if l := id.Key.RateLimitRPM; l != nil {
		out = append(out, limitCheck{"rpm:key:" + id.Key.ID, *l})
	}
	if l := id.Project.RateLimitRPM; l != nil {
		out = append(out, limitCheck{"rpm:project:" + id.Project.ID, *l})
	}
	return out
}

func tpmKeys(id *keys.Identity) []limitCheck {
	var out []limitCheck
	if l := id.Key.RateLimitTPM; l != nil {
		out = append(out, limitCheck{"tpm:key:" + id.Key.ID, *l})
	}
	if l := id.Project.RateLimitTPM; l != nil {
		out = append(out, limitCheck{"tpm:project:" + id.Project.ID, *l})
	}
	return out
}

type limitCheck struct {
	key   string
	limit int
}

// rateLimit counts the request against the key's and project's requests-per-
// minute limits and checks their tokens-per-minute budgets. The tightest limit's
// state goes into the X-RateLimit-* headers.
func (g *Gateway) rateLimit(c *fiber.Ctx, id *keys.Identity) error {
	if g.Limits == nil {
		return nil
	}
	ctx := c.UserContext()
	var tightest *ratelimit.Decision
	note := func(d ratelimit.Decision) {
		if tightest == nil || d.Remaining < tightest.Remaining {
			tightest = &d
		}
	}
	for _, l := range rpmKeys(id) {
		d, err := g.Limits.Take(ctx, l.key, l.limit, 1, ratelimit.Minute)
		if err != nil {
			return apierr.Unavailable("Rate limiting is temporarily unavailable.")
		}
		if !d.Allowed {
			return limited(d)
		}
		note(d)
	}
	for _, l := range tpmKeys(id) {
		d, err := g.Limits.Peek(ctx, l.key, l.limit, ratelimit.Minute)
		if err != nil {
			return apierr.Unavailable("Rate limiting is temporarily unavailable.")
		}
		if !d.Allowed {
			return limited(d)
		}
		note(d)
	}
	if tightest != nil {
		for k, v := range limitHeaders(*tightest) {
			c.Set(k, v)
		}
	}
	return nil
}

func limitHeaders(d ratelimit.Decision) map[string]string {
	return map[string]string{
		"X-RateLimit-Limit":     strconv.Itoa(d.Limit),
		"X-RateLimit-Remaining": strconv.Itoa(d.Remaining),
		"X-RateLimit-Reset":     strconv.FormatInt(d.Reset.Unix(), 10),
	}
}

// limited is the seed's 429.
func limited(d ratelimit.Decision) *apierr.Error {
	e := apierr.New(429, "Rate limit exceeded. Try again later.")
	e.Header = limitHeaders(d)
	secs := int((d.RetryAfter + 999_999_999) / 1_000_000_000)
	e.Header["Retry-After"] = strconv.Itoa(max(secs, 1))
	return e
}

// countTokens books a finished request's tokens against the TPM budgets.
func (g *Gateway) countTokens(rc *reqCtx, tokens int) {
	if g.Limits == nil || tokens <= 0 {
		return
	}
	for _, l := range tpmKeys(rc.id) {
		_ = g.Limits.Add(g.base, l.key, tokens, ratelimit.Minute) // best effort: a lost count only loosens the limit
	}
}
