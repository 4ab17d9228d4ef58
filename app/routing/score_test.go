package routing

import (
	"math"
	"testing"
	"time"

	"github.com/llmgw/gateway/app/catalog"
)

func approx(a, b float64) bool { return math.Abs(a-b) < 1e-4 }

func TestUptimePenaltyMatchesTheSeed(t *testing.T) {
	for uptime, want := range map[float64]float64{100: 0, 96: 0, 95: 0, 90: 0.07, 80: 0.62, 70: 1.73, 50: 5.61} {
		if got := UptimePenalty(uptime, 95); math.Round(got*100)/100 != want {
			t.Errorf("penalty(%v) = %.4f, want ~%v", uptime, got, want)
		}
	}
}

func offer(provider string, in, out int64, cached int64) *catalog.Offer {
	return &catalog.Offer{Provider: provider, Price: catalog.Price{Known: true, Input: in, Output: out, CachedInput: cached}}
}

func TestScoreHandComputed(t *testing.T) {
	a := Scored{Offer: offer("a", 1_000_000, 3_000_000, 0), Metrics: Metrics{Known: true, Uptime: 100, Throughput: 100, TTFT: 0.5}, Priority: 1}
	b := Scored{Offer: offer("b", 2_000_000, 6_000_000, 0), Metrics: Metrics{Known: true, Uptime: 90, Throughput: 50, TTFT: 1.0}, Priority: 1}

	// Non-streaming, small prompt: price 0.6 + uptime 0.5 + throughput 0.05 = 1.15.
	c := []Scored{a, b}
	ScoreAll(c, DefaultWeights, false, 100)
	// b: price 0.6/1.15×1 + uptime 0.5/1.15×0.1 + throughput 0.05/1.15×(100/50-1) + penalty (5/19)².
	wantB := 0.6/1.15*1 + 0.5/1.15*0.1 + 0.05/1.15*1 + math.Pow(5.0/19, 2)
	if !approx(c[0].Score, 0) || !approx(c[1].Score, wantB) {
		t.Fatalf("scores %v %v, want 0 %v", c[0].Score, c[1].Score, wantB)
	}

	// Streaming adds latency 0.025: total 1.175; b is twice as slow to first token.
	c = []Scored{a, b}
	ScoreAll(c, DefaultWeights, true, 100)
	wantB = 0.6/1.175 + 0.5/1.175*0.1 + 0.05/1.175 + 0.025/1.175 + math.Pow(5.0/19, 2)
	if !approx(c[1].Score, wantB) {
		t.Fatalf("streaming score %v, want %v", c[1].Score, wantB)
	}

	// A large prompt adds cache 0.2: the provider without a cached price pays it.
	cachedA := a
	cachedA.CacheSupported = true
	c = []Scored{cachedA, b}
	ScoreAll(c, DefaultWeights, false, 6000)
	wantB = 0.6/1.35 + 0.5/1.35*0.1 + 0.05/1.35 + 0.2/1.35 + math.Pow(5.0/19, 2)
	if !approx(c[0].Score, 0) || !approx(c[1].Score, wantB) {
		t.Fatalf("cache scores %v %v, want 0 %v", c[0].Score, c[1].Score, wantB)
	}

	// Priority: 0.5 adds 0.5.
	lowPrio := a
	lowPrio.Priority = 0.5
	c = []Scored{lowPrio, b}
	ScoreAll(c, DefaultWeights, false, 100)
	if !approx(c[0].Score, 0.5) {
		t.Fatalf("priority score %v", c[0].Score)
	}
}

func TestStrategies(t *testing.T) {
	cheapSlow := Scored{Offer: offer("cheap", 1_000_000, 1_000_000, 0), Metrics: Metrics{Uptime: 100, Throughput: 10}, Priority: 1}
	fastDear := Scored{Offer: offer("fast", 3_000_000, 3_000_000, 0), Metrics: Metrics{Uptime: 100, Throughput: 100}, Priority: 1}
	for strategy, winner := range map[string]string{"price": "cheap", "throughput": "fast", "auto": "cheap"} {
		c := []Scored{cheapSlow, fastDear}
		ScoreAll(c, StrategyWeights(strategy), false, 0)
		best := c[0]
		if c[1].Score < c[0].Score {
			best = c[1]
		}
		if best.Offer.Provider != winner {
			t.Errorf("%s: winner %s (scores %v / %v)", strategy, best.Offer.Provider, c[0].Score, c[1].Score)
		}
	}
	// price strategy still skips a provider that is effectively down.
	down := cheapSlow
	down.Metrics.Uptime = 40
	c := []Scored{down, fastDear}
	ScoreAll(c, StrategyWeights("price"), false, 0)
	if c[0].Score < c[1].Score {
		t.Fatalf("a cheap provider at 40%% uptime won on price: %v vs %v", c[0].Score, c[1].Score)
	}
}

func TestHealthDecayedWindow(t *testing.T) {
	h := NewHealth()
	now := time.Date(2026, 1, 1, 12, 0, 30, 0, time.UTC)
	h.SetClock(func() time.Time { return now })
	at := func(ago time.Duration, n int, ok bool) {
		now = now.Add(-ago)
		for i := 0; i < n; i++ {
			h.Record(Observation{Provider: "p", Success: ok, Tokens: 100, Duration: 2 * time.Second, TTFT: time.Second})
		}
		now = now.Add(ago)
	}
	if m := h.Metrics("p"); m.Known || m.Uptime != 100 {
		t.Fatalf("no traffic: %+v", m)
	}
	at(30*time.Minute, 10, true) // weight 1
	at(2*time.Minute, 10, false) // weight 3
	at(0, 1, true)               // weight 10
	m := h.Metrics("p")
	// requests 10 + 30 + 10 = 50, errors 30: uptime 40%.
	if !m.Known || !approx(m.Uptime, 40) || !approx(m.Throughput, 100) || !approx(m.TTFT, 1) {
		t.Fatalf("metrics %+v", m)
	}
	now = now.Add(61 * time.Minute) // everything left the window
	if m := h.Metrics("p"); m.Known {
		t.Fatalf("stale metrics: %+v", m)
	}
}
