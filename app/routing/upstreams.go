// Package routing decides which upstream serves a request: which providers can
// serve the resolved model, in what order, with which key.
package routing

import (
	"fmt"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/llmgw/gateway/app/catalog"
	"github.com/llmgw/gateway/app/config"
	"github.com/llmgw/gateway/app/providers"
)

// Upstream is a configured provider: its adapter, where it lives and its key pool.
type Upstream struct {
	Info    *catalog.ProviderInfo
	Adapter providers.Provider
	BaseURL string
	Keys    []string
	next    atomic.Uint64
}

// Key picks the next key of the pool, round-robin.
func (u *Upstream) Key() string {
	if len(u.Keys) == 0 {
		return ""
	}
	return u.Keys[(u.next.Add(1)-1)%uint64(len(u.Keys))]
}

// Adapters maps an adapter kind ("openai", "test", ...) to its implementation.
type Adapters map[string]providers.Provider

// Upstreams is the set of configured providers, rebuilt when the catalog reloads.
type Upstreams struct {
	mu     sync.RWMutex
	byID   map[string]*Upstream
	absent map[string]string // provider id -> why it is not usable
}

// Build configures every catalog provider for which we have an adapter and, for
// providers that need one, credentials. A provider is usable when it is the
// built-in test provider, has keys (LLM_<P>_API_KEY or the models file), or has
// an explicitly configured base URL (a local OpenAI-compatible server without auth).
func Build(cat *catalog.Catalog, cfg *config.Config, adapters Adapters) *Upstreams {
	u := &Upstreams{byID: map[string]*Upstream{}, absent: map[string]string{}}
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
			continue
		}
		if p.Kind != "test" && base == "" {
			u.absent[p.ID] = fmt.Sprintf("provider %s has no URL: set %s_BASE_URL", p.ID, config.ProviderEnv(p.ID))
			continue
		}
		u.byID[p.ID] = &Upstream{Info: p, Adapter: ad, BaseURL: base, Keys: keys}
	}
	return u
}

// Get returns a configured upstream.
func (u *Upstreams) Get(id string) (*Upstream, bool) {
	up, ok := u.byID[id]
	return up, ok
}

// Why explains why a provider is not configured.
func (u *Upstreams) Why(id string) string {
	if s, ok := u.absent[id]; ok {
		return s
	}
	return fmt.Sprintf("provider %s is not configured", id)
}

// Candidate is one way to serve a request.
type Candidate struct {
	Offer    *catalog.Offer
	Upstream *Upstream
}

// Target is the upstream call target for this candidate (picks a key).
func (c Candidate) Target() providers.Target {
	return providers.Target{
		Provider: c.Upstream.Info.ID,
		Model:    c.Offer.Model,
		BaseURL:  c.Upstream.BaseURL,
		APIKey:   c.Upstream.Key(),
	}
}

// Candidates lists the configured offers of a resolved model, cheapest first
// (the weighted health/latency scoring replaces this ordering later). An empty
// result comes with the reason the first offer is unusable.
func (u *Upstreams) Candidates(res *catalog.Resolution) ([]Candidate, string) {
	var out []Candidate
	reason := ""
	for _, o := range res.Offers {
		up, ok := u.byID[o.Provider]
		if !ok {
			if reason == "" {
				reason = u.Why(o.Provider)
			}
			continue
		}
		out = append(out, Candidate{Offer: o, Upstream: up})
	}
	sort.SliceStable(out, func(i, j int) bool { return rank(out[i].Offer.Price) < rank(out[j].Offer.Price) })
	return out, reason
}

// rank orders offers by a blended price; unknown prices go last.
func rank(p catalog.Price) int64 {
	if !p.Known {
		return 1 << 62
	}
	return p.Input*3 + p.Output // typical chat traffic reads ~3x what it writes
}
