package gateway

import (
	"errors"
	"time"

	"github.com/llmgw/gateway/app/providers"
	"github.com/llmgw/gateway/app/routing"
)

// plan walks a request's candidates, attempt by attempt: after a provider's
// failure the next provider; after a failure of the key itself (401/403, or a
// 429 asking to spread load) another key of the same provider when its pool
// has one, else the next provider. Attempts are bounded by max.
type plan struct {
	cands []routing.Candidate
	max   int
	i     int                // current candidate
	n     int                // attempts made
	tried []*routing.PoolKey // keys already used on the current candidate
}

func newPlan(cands []routing.Candidate, max int) *plan { return &plan{cands: cands, max: max} }

// next returns the next attempt's candidate and key (nil for a keyless
// provider) after the previous attempt failed with prev (nil: first attempt).
func (p *plan) next(prev error) (routing.Candidate, *routing.PoolKey, bool) {
	if p.n >= p.max {
		return routing.Candidate{}, nil, false
	}
	if prev != nil {
		switch {
		case keyScoped(prev) && p.cands[p.i].Upstream.Pool.HasOther(p.tried...):
			// stay on this provider, with another key
		case retryable(prev) || keyScoped(prev):
			p.i, p.tried = p.i+1, nil
		default:
			return routing.Candidate{}, nil, false
		}
	}
	for ; p.i < len(p.cands); p.i, p.tried = p.i+1, nil {
		c := p.cands[p.i]
		k := c.Upstream.Pool.Pick(p.tried...)
		if k == nil && c.Upstream.Pool.Len() > 0 {
			continue // every key of this provider was rejected, or cools down after a 429
		}
		p.tried = append(p.tried, k)
		p.n++
		return c, k, true
	}
	return routing.Candidate{}, nil, false
}

// keyScoped: the upstream refused the credential (401/403) or rate limited it
// (429). Another key — or, failing that, another provider — may well succeed:
// the client's request is not at fault.
func keyScoped(err error) bool {
	var pe *providers.Error
	if !errors.As(err, &pe) || pe.Kind != providers.KindStatus {
		return false
	}
	return pe.Status == 401 || pe.Status == 403 || pe.Status == 429
}

// reportKey tells the key's pool how the call it made went.
func reportKey(c routing.Candidate, k *routing.PoolKey, err error) {
	if k == nil {
		return
	}
	o := routing.KeyOK
	var after time.Duration
	var pe *providers.Error
	if errors.As(err, &pe) {
		switch {
		case pe.Kind == providers.KindCancelled:
			return // the client went away: says nothing about the key
		case pe.Kind == providers.KindStatus && (pe.Status == 401 || pe.Status == 403):
			o = routing.KeyRejected
		case pe.Kind == providers.KindStatus && pe.Status == 429:
			o, after = routing.KeyThrottled, pe.RetryAfter
		case pe.Retryable():
			o = routing.KeyFailed
		}
	}
	c.Upstream.Pool.Report(k, o, after)
}
