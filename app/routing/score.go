package routing

import (
	"math"

	"github.com/llmgw/gateway/app/catalog"
)

// Weights are the seed's relative factor weights.
type Weights struct {
	Price, Uptime, Throughput, Latency, Cache float64
}

// DefaultWeights are the seed's defaults.
var DefaultWeights = Weights{Price: 0.6, Uptime: 0.5, Throughput: 0.05, Latency: 0.025, Cache: 0.2}

// CacheThreshold is the prompt size from which prompt-cache support counts.
const CacheThreshold = 5000

// PenaltyThreshold is the uptime (percent) below which the penalty applies.
const PenaltyThreshold = 95.0

// StrategyWeights returns the weights of a routing strategy: "auto" (default),
// "price", "throughput" or "latency" (90% on that factor, 10% uptime).
func StrategyWeights(strategy string) Weights {
	switch strategy {
	case "price":
		return Weights{Price: 0.9, Uptime: 0.1}
	case "throughput":
		return Weights{Throughput: 0.9, Uptime: 0.1}
	case "latency":
		return Weights{Latency: 0.9, Uptime: 0.1}
	}
	return DefaultWeights
}

// UptimePenalty grows quadratically below the threshold: with the default 95%
// it is 0.07 at 90%, 0.62 at 80%, 1.73 at 70% and 5.61 at 50%, as the seed lists.
func UptimePenalty(uptime, threshold float64) float64 {
	if uptime >= threshold {
		return 0
	}
	d := (threshold - uptime) / (0.2 * threshold)
	return d * d
}

// Scored is one candidate's inputs and score (lower is better).
type Scored struct {
	Offer          *catalog.Offer
	Metrics        Metrics
	Priority       float64 // default 1; 0 disables the provider
	CacheSupported bool
	Score          float64
}

// avgPrice is the mean of input and output price (pico-USD per token).
func avgPrice(p catalog.Price) float64 {
	if !p.Known {
		return math.Inf(1)
	}
	return float64(p.Input+p.Output) / 2
}

// ScoreAll computes every candidate's score: each factor as a ratio against the
// best candidate (0 for the best; twice the cheapest price scores 1), times
// its weight over the sum of the active weights, plus the uptime penalty and
// the (1 - priority) adjustment. Latency counts for streams only, cache support
// for prompts of at least CacheThreshold tokens.
func ScoreAll(cands []Scored, w Weights, streaming bool, promptTokens int) {
	if !streaming {
		w.Latency = 0
	}
	if promptTokens < CacheThreshold {
		w.Cache = 0
	}
	total := w.Price + w.Uptime + w.Throughput + w.Latency + w.Cache
	if total == 0 {
		total = 1
	}
	minPrice, maxUp, maxTP, minTTFT := math.Inf(1), 0.0, 0.0, math.Inf(1)
	for _, c := range cands {
		minPrice = math.Min(minPrice, avgPrice(c.Offer.Price))
		maxUp = math.Max(maxUp, c.Metrics.Uptime)
		if c.Metrics.Throughput > 0 {
			maxTP = math.Max(maxTP, c.Metrics.Throughput)
		}
		if c.Metrics.TTFT > 0 {
			minTTFT = math.Min(minTTFT, c.Metrics.TTFT)
		}
	}
	for i := range cands {
		c := &cands[i]
		var s float64
		s += w.Price / total * priceRatio(avgPrice(c.Offer.Price), minPrice)
		if maxUp > 0 {
			s += w.Uptime / total * (maxUp - c.Metrics.Uptime) / maxUp
		}
		if maxTP > 0 && c.Metrics.Throughput > 0 {
			s += w.Throughput / total * (maxTP/c.Metrics.Throughput - 1)
		}
		if !math.IsInf(minTTFT, 1) && c.Metrics.TTFT > 0 {
			s += w.Latency / total * (c.Metrics.TTFT/minTTFT - 1)
		}
		if !c.CacheSupported {
			s += w.Cache / total
		}
		s += UptimePenalty(c.Metrics.Uptime, PenaltyThreshold)
		s += 1 - c.Priority
		c.Score = s
	}
}

// priceRatio: how much more than the cheapest, capped so one free offer does
// not make every paid one infinitely worse (and unknown prices rank last).
func priceRatio(p, min float64) float64 {
	switch {
	case math.IsInf(p, 1):
		return 10
	case min <= 0:
		if p <= 0 {
			return 0
		}
		return 10
	}
	return math.Min(p/min-1, 10)
}
