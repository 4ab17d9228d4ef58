package routing

import (
	"sync"
	"time"
)

// Health keeps per-provider metrics from real traffic over a 60-minute window
// of one-minute buckets, read with the seed's time decay: the last minute
// weighs 10x, the last 5 minutes 3x, the rest 1x. In memory per instance.
type Health struct {
	mu  sync.Mutex
	m   map[string]*series
	now func() time.Time
}

const buckets = 60

type bucket struct {
	minute     int64 // unix minute this bucket holds; stale when older than the window
	requests   float64
	errors     float64
	tokens     float64 // completion tokens of successful calls
	genSeconds float64 // time spent generating them
	ttftSum    float64 // seconds, streaming calls
	ttftCount  float64
}

type series struct{ b [buckets]bucket }

// NewHealth returns an empty tracker.
func NewHealth() *Health { return &Health{m: map[string]*series{}, now: time.Now} }

// SetClock injects a clock (tests simulate time with it).
func (h *Health) SetClock(now func() time.Time) { h.now = now }

// Observation is the result of one upstream attempt.
type Observation struct {
	Provider string // provider id, or provider:region
	Success  bool
	Tokens   int           // completion tokens
	Duration time.Duration // whole call
	TTFT     time.Duration // streaming only; 0 otherwise
}

// Record adds an attempt to the window.
func (h *Health) Record(o Observation) {
	minute := h.now().Unix() / 60
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.m[o.Provider]
	if s == nil {
		s = &series{}
		h.m[o.Provider] = s
	}
	b := &s.b[minute%buckets]
	if b.minute != minute {
		*b = bucket{minute: minute}
	}
	b.requests++
	if !o.Success {
		b.errors++
		return
	}
	if o.Tokens > 0 && o.Duration > o.TTFT {
		b.tokens += float64(o.Tokens)
		b.genSeconds += (o.Duration - o.TTFT).Seconds()
	}
	if o.TTFT > 0 {
		b.ttftSum += o.TTFT.Seconds()
		b.ttftCount++
	}
}

// Metrics are a provider's decayed figures; Known is false without traffic.
type Metrics struct {
	Known      bool
	Uptime     float64 // percent
	Throughput float64 // tokens per second; 0 unknown
	TTFT       float64 // seconds; 0 unknown
	Requests   float64 // decayed request count
}

func weight(age int64) float64 {
	switch {
	case age < 1:
		return 10
	case age < 5:
		return 3
	}
	return 1
}

// Metrics returns the decayed metrics of a provider.
func (h *Health) Metrics(provider string) Metrics {
	minute := h.now().Unix() / 60
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.m[provider]
	if s == nil {
		return Metrics{Uptime: 100}
	}
	var req, errs, tok, gen, ttft, ttftN float64
	for i := range s.b {
		b := &s.b[i]
		age := minute - b.minute
		if b.requests == 0 || age < 0 || age >= buckets {
			continue
		}
		w := weight(age)
		req += w * b.requests
		errs += w * b.errors
		tok += w * b.tokens
		gen += w * b.genSeconds
		ttft += w * b.ttftSum
		ttftN += w * b.ttftCount
	}
	if req == 0 {
		return Metrics{Uptime: 100}
	}
	m := Metrics{Known: true, Uptime: 100 * (req - errs) / req, Requests: req}
	if gen > 0 {
		m.Throughput = tok / gen
	}
	if ttftN > 0 {
		m.TTFT = ttft / ttftN
	}
	return m
}
