// Package pricing is the one place a request's cost is computed. Prices are
// integer pico-USD per token (catalog.Price) and costs integer nano-USD, so sums
// are exact; floats appear only when a cost is rendered into a response.
package pricing

import (
	"github.com/llmgw/gateway/app/catalog"
	"github.com/llmgw/gateway/app/schema"
)

// Breakdown is a request's cost in nano-USD (1e-9 USD). Known is false when the
// price of the model is unknown: then no amount may be presented as 0.
type Breakdown struct {
	Known       bool
	Input       int64 // non-cached prompt tokens
	CachedInput int64 // prompt tokens read from the provider's cache
	CacheWrite  int64 // prompt tokens written to the provider's cache
	Output      int64 // completion tokens, reasoning included
	Request     int64 // flat per-request fee
	DataStorage int64 // retained payloads (data retention), 0 unless enabled
}

// Prompt is the upstream prompt cost (cache discount included).
func (b Breakdown) Prompt() int64 { return b.Input + b.CachedInput + b.CacheWrite }

// Upstream is the upstream inference cost: prompt plus completions.
func (b Breakdown) Upstream() int64 { return b.Prompt() + b.Output }

// Total is everything the request costs.
func (b Breakdown) Total() int64 { return b.Upstream() + b.Request + b.DataStorage }

// Compute prices a usage in the neutral (OpenAI) semantics: prompt_tokens includes
// cached and cache-write tokens, which are priced at their own rates. Adapters of
// providers that report cache tokens outside the input count (Anthropic) fold them
// into prompt_tokens before this is called.
func Compute(p catalog.Price, u *schema.Usage) Breakdown {
	if !p.Known {
		return Breakdown{}
	}
	if u == nil {
		u = &schema.Usage{}
	}
	var cached, written int64
	if d := u.PromptTokensDetails; d != nil {
		cached, written = int64(d.CachedTokens), int64(d.CacheWriteTokens)
	}
	fresh := int64(u.PromptTokens) - cached - written
	if fresh < 0 { // a provider reporting more cache than prompt: never bill negative
		fresh = 0
	}
	return Breakdown{
		Known:       true,
		Input:       picoToNano(fresh * p.Input),
		CachedInput: picoToNano(cached * p.CachedInput),
		CacheWrite:  picoToNano(written * p.CacheWrite),
		Output:      picoToNano(int64(u.CompletionTokens) * p.Output),
		Request:     picoToNano(p.Request),
	}
}

// picoToNano rounds half up: each component is rounded once, and totals are sums
// of the rounded components, so the parts always add up to the total.
func picoToNano(pico int64) int64 { return (pico + 500) / 1000 }

// USD converts nano-USD to dollars for display.
func USD(nano int64) float64 { return float64(nano) / 1e9 }

// FromUSD converts a display amount to nano-USD (rounded).
func FromUSD(usd float64) int64 {
	if usd < 0 {
		return -FromUSD(-usd)
	}
	return int64(usd*1e9 + 0.5)
}

// Apply writes the breakdown into the usage object of a response, together with
// the token detail objects (always present, as the seed's format has them).
func (b Breakdown) Apply(u *schema.Usage) {
	if u.PromptTokensDetails == nil {
		u.PromptTokensDetails = &schema.PromptTokensDetails{}
	}
	if u.CompletionTokensDetails == nil {
		u.CompletionTokensDetails = &schema.CompletionTokensDetails{}
	}
	if !b.Known {
		u.Cost, u.CostDetails = nil, nil
		return
	}
	f := func(n int64) *float64 { v := USD(n); return &v }
	u.Cost = f(b.Total())
	u.CostDetails = &schema.CostDetails{
		UpstreamInferenceCost:            f(b.Upstream()),
		UpstreamInferencePromptCost:      f(b.Prompt()),
		UpstreamInferenceCompletionsCost: f(b.Output),
		TotalCost:                        f(b.Total()),
		InputCost:                        f(b.Input),
		OutputCost:                       f(b.Output),
		CachedInputCost:                  f(b.CachedInput),
		CacheWriteCost:                   f(b.CacheWrite),
		RequestCost:                      f(b.Request),
		WebSearchCost:                    f(0),
		DataStorageCost:                  f(b.DataStorage),
	}
}
