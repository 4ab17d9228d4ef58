// Package routing decides which upstream serves a request: which providers can
// serve the resolved model, in what order, with which key.
package routing

import (
	"fmt"
	"sort"
	"sync"

	"github.com/llmgw/gateway/app/catalog"
	"github.com/llmgw/gateway/app/config"
	"github.com/llmgw/gateway/app/providers"
)

// Upstream is a configured provider: its adapter, where it lives and its key pool.
type Upstream struct {
	Info    *catalog.ProviderInfo
	Adapter providers.Provider
	BaseURL string
	// Pool holds the provider's credentials (empty for keyless servers).
	Pool *KeyPool
}

// Adapters maps an adapter kind ("openai", "test", ...) to its implementation.
type Adapters map[string]providers.Provider

// Upstreams is the set of configured providers, rebuilt when the catalog reloads.
type Upstreams struct {
	mu     sync.RWMutex
	byID   map[string]*Upstream
	absent map[string]string // provider id -> why it is not usable
	// keyless are providers without a gateway key: usable only with an
	// organization's own keys.
	keyless map[string]*Upstream
}

// Build configures every catalog provider for which we have an adapter and, for
// providers that need one, credentials. A provider is usable when it is the
// built-in test provider, has keys (LLM_<P>_API_KEY or the models file), or has
// an explicitly configured base URL (a local OpenAI-compatible server without auth).
//
// prev, the set being replaced on a reload, hands its key pools over so a
// key's health and a rejected key's exclusion survive the reload.
func Build(cat *catalog.Catalog, cfg *config.Config, adapters Adapters, prev *Upstreams) *Upstreams {
	u := &Upstreams{byID: map[string]*Upstream{}, absent: map[string]string{}, keyless: map[string]*Upstream{}}
	for _, p := range cat.Providers() {
		ad, ok := adapters[p.Kind]
		if !ok {
			u.absent[p.ID] = fmt.Sprintf("provider %s (%s API) is not supported yet", p.ID, p.Kind)
			continue
		}
		base := cfg.ProviderBaseURL(p.ID)
		explicitBase := base != ""
		if base == "" {
			base = p.BaseURL
		}
		keys := cfg.ProviderKeys(p.ID)
		if len(keys) == 0 && p.APIKey != "" {
			keys = []string{p.APIKey}
		}
		if p.Kind != "test" && len(keys) == 0 && !explicitBase && !p.Custom {
			u.absent[p.ID] = fmt.Sprintf("provider %s has no API key: set %s_API_KEY", p.ID, config.ProviderEnv(p.ID))
			if base != "" {
				u.keyless[p.ID] = &Upstream{Info: p, Adapter: ad, BaseURL: base, Pool: NewKeyPool(nil, nil)}
			}
			continue
		}
		if p.Kind != "test" && base == "" {
			u.absent[p.ID] = fmt.Sprintf("provider %s has no URL: set %s_BASE_URL", p.ID, config.ProviderEnv(p.ID))
			continue
		}
		var old *KeyPool
		if prev != nil && prev.byID[p.ID] != nil {
			old = prev.byID[p.ID].Pool
		}
		u.byID[p.ID] = &Upstream{Info: p, Adapter: ad, BaseURL: base, Pool: NewKeyPool(keys, old)}
	}
	return u
}

// Get returns a configured upstream.
func (u *Upstreams) Get(id string) (*Upstream, bool) {
	up, ok := u.byID[id]
	return up, ok
}

// Any returns a provider's upstream whether or not the gateway has a key for
// it (organizations may bring their own).
func (u *Upstreams) Any(id string) (*Upstream, bool) {
	if up, ok := u.byID[id]; ok {
		return up, true
	}
	up, ok := u.keyless[id]
	return up, ok
}

// Why explains why a provider is not configured.
func (u *Upstreams) Why(id string) string {
	if s, ok := u.absent[id]; ok {
		return s
	}
	return fmt.Sprintf("provider %s is not configured", id)
}

// Candidate is one way to serve a request: a provider's offer, in one of its
// regions when the provider has regions.
type Candidate struct {
	Offer    *catalog.Offer
	Upstream *Upstream
	Region   *catalog.Region // nil: the provider's default endpoint
}

// Key names the candidate for health and preferences: "provider" or
// "provider:region".
func (c Candidate) Key() string {
	if c.Region == nil {
		return c.Offer.Provider
	}
	return c.Offer.Provider + ":" + c.Region.ID
}

// Hosting is the jurisdiction the candidate's endpoint is hosted in ("" unknown).
func (c Candidate) Hosting() string {
	if c.Region != nil {
		return c.Region.Jurisdiction
	}
	return c.Upstream.Info.Jurisdiction
}

// Target is the upstream call target for this candidate with the given key
// (nil for a keyless provider).
func (c Candidate) Target(k *PoolKey) providers.Target {
	t := providers.Target{Provider: c.Upstream.Info.ID, Model: c.Offer.Model, BaseURL: c.Upstream.BaseURL}
	if c.Region != nil && c.Region.BaseURL != "" {
		t.BaseURL = c.Region.BaseURL
	}
	if k != nil {
		t.APIKey = k.Secret
	}
	return t
}

// Candidates lists the configured offers of a resolved model, one per region
// of providers that have regions, cheapest first (the selector reorders them
// from live health). Providers with priority 0 are left out. An empty result
// comes with the reason the first offer is unusable.
func (u *Upstreams) Candidates(res *catalog.Resolution) ([]Candidate, string) {
	var out []Candidate
	reason := ""
	for _, o := range res.Offers {
		up, ok := u.byID[o.Provider]
		if !ok || up.Info.Priority == 0 {
			if reason == "" {
				reason = u.Why(o.Provider)
				if ok {
					reason = fmt.Sprintf("provider %s is disabled (priority 0)", o.Provider)
				}
			}
			continue
		}
		out = append(out, OfferCandidates(up, o, res.Region)...)
	}
	sort.SliceStable(out, func(i, j int) bool { return BlendedPrice(out[i].Offer.Price) < BlendedPrice(out[j].Offer.Price) })
	return out, reason
}

// OfferCandidates lists an offer's candidates on an upstream: one, or one per
// region the offer is served in (only the pinned one when pinned is set).
func OfferCandidates(up *Upstream, o *catalog.Offer, pinned string) []Candidate {
	if len(up.Info.Regions) == 0 {
		return []Candidate{{Offer: o, Upstream: up}}
	}
	var out []Candidate
	for _, r := range up.Info.Regions {
		if o.InRegion(r.ID) && (pinned == "" || pinned == r.ID) {
			out = append(out, Candidate{Offer: o, Upstream: up, Region: r})
		}
	}
	return out
}

// BlendedPrice is the one figure offers are compared by when no live metrics
// decide (candidate order, the auto model, tier-3 jurisdiction requests);
// unknown prices go last.
func BlendedPrice(p catalog.Price) int64 {
	if !p.Known {
		return 1 << 62
	}
	return p.Input*3 + p.Output // typical chat traffic reads ~3x what it writes
}
