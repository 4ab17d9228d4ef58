package pricing

import (
	"encoding/json"
	"testing"

	"github.com/llmgw/gateway/app/catalog"
	"github.com/llmgw/gateway/app/schema"
)

// perM converts a USD-per-1M-tokens price to pico-USD per token.
func perM(usd float64) int64 { return int64(usd*1e6 + 0.5) }

func TestComputeOpenAIStyleCachedTokens(t *testing.T) {
	// gpt-4o: $2.50 in, $1.25 cached, $10 out per 1M.
	p := catalog.Price{Known: true, Input: perM(2.5), CachedInput: perM(1.25), Output: perM(10)}
	u := &schema.Usage{PromptTokens: 1000, CompletionTokens: 200, TotalTokens: 1200,
		PromptTokensDetails: &schema.PromptTokensDetails{CachedTokens: 400}}
	b := Compute(p, u)
	// 600 fresh × 2.5e-6 = 0.0015 USD; 400 × 1.25e-6 = 0.0005; 200 × 1e-5 = 0.002
	if b.Input != 1_500_000 || b.CachedInput != 500_000 || b.Output != 2_000_000 {
		t.Fatalf("breakdown = %+v", b)
	}
	if b.Total() != 4_000_000 || b.Prompt() != 2_000_000 {
		t.Fatalf("total %d prompt %d", b.Total(), b.Prompt())
	}
}

func TestComputeCacheWritesPricedSeparately(t *testing.T) {
	// claude-sonnet-4-5: $3 in, $0.30 read, $3.75 write, $15 out.
	p := catalog.Price{Known: true, Input: perM(3), CachedInput: perM(0.3), CacheWrite: perM(3.75), Output: perM(15)}
	// Anthropic reported input_tokens=100, cache_read=1000, cache_creation=500:
	// the adapter folds them into prompt_tokens = 1600.
	u := &schema.Usage{PromptTokens: 1600, CompletionTokens: 10,
		PromptTokensDetails: &schema.PromptTokensDetails{CachedTokens: 1000, CacheWriteTokens: 500}}
	b := Compute(p, u)
	if b.Input != 300_000 || b.CachedInput != 300_000 || b.CacheWrite != 1_875_000 || b.Output != 150_000 {
		t.Fatalf("breakdown = %+v", b)
	}
}

func TestSmallRequestsAreNotRoundedToZero(t *testing.T) {
	// gpt-4o-mini at $0.15/1M: 7 prompt tokens cost 1.05e-6 USD = 1050 nano-USD.
	p := catalog.Price{Known: true, Input: perM(0.15), Output: perM(0.6)}
	b := Compute(p, &schema.Usage{PromptTokens: 7, CompletionTokens: 3})
	if b.Input != 1050 || b.Output != 1800 {
		t.Fatalf("breakdown = %+v", b)
	}
}

func TestUnknownPriceIsNull(t *testing.T) {
	u := &schema.Usage{PromptTokens: 10, CompletionTokens: 5}
	Compute(catalog.Price{}, u).Apply(u)
	out, _ := json.Marshal(u)
	var m map[string]any
	_ = json.Unmarshal(out, &m)
	if v, ok := m["cost"]; !ok || v != nil {
		t.Fatalf("cost must be present and null, got %s", out)
	}
	if m["prompt_tokens_details"] == nil || m["completion_tokens_details"] == nil {
		t.Fatalf("token details missing: %s", out)
	}
}

func TestApplyFieldsAddUp(t *testing.T) {
	p := catalog.Price{Known: true, Input: perM(2.5), Output: perM(10), Request: 1_000_000} // 1 µUSD per request
	u := &schema.Usage{PromptTokens: 10, CompletionTokens: 15, TotalTokens: 25}
	Compute(p, u).Apply(u)
	d := u.CostDetails
	if *d.InputCost != 0.000025 || *d.OutputCost != 0.00015 || *d.RequestCost != 0.000001 {
		t.Fatalf("details %+v", d)
	}
	if *u.Cost != *d.TotalCost || *d.UpstreamInferenceCost != *d.UpstreamInferencePromptCost+*d.UpstreamInferenceCompletionsCost {
		t.Fatalf("inconsistent: cost %v details %+v", *u.Cost, d)
	}
}

func TestFreeModelCostsZero(t *testing.T) {
	u := &schema.Usage{PromptTokens: 10, CompletionTokens: 5}
	Compute(catalog.Price{Known: true, Free: true}, u).Apply(u)
	if u.Cost == nil || *u.Cost != 0 {
		t.Fatalf("free model cost = %v", u.Cost)
	}
}

func TestUSDStrings(t *testing.T) {
	for in, want := range map[string]int64{"100": 100e9, "100.00": 100e9, "0.5": 5e8, ".25": 25e7, "12.345678901": 12_345_678_901, "0": 0} {
		got, err := ParseUSD(in)
		if err != nil || got != want {
			t.Errorf("ParseUSD(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", ".", "-1", "1e3", "1.0000000001", "abc", "1,5", "9999999999"} {
		if _, err := ParseUSD(bad); err == nil {
			t.Errorf("ParseUSD(%q) accepted", bad)
		}
	}
	for nano, want := range map[int64]string{100e9: "100.00", 125_000: "0.000125", 5e8: "0.50", 0: "0.00", -15e8: "-1.50"} {
		if got := FormatUSD(nano); got != want {
			t.Errorf("FormatUSD(%d) = %q, want %q", nano, got, want)
		}
	}
}
