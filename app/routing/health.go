package routing

import (
	"sync"
	"time"
)

// Health keeps per-provider metrics from real traffic over a 60-minute window
// of one-minute buckets, read with the seed's time decay: the last minute
// weighs 10x, the last 5 minutes 3x, the rest 1x. In memory per instance
// (NewHealth), or shared by every instance through Redis (NewSharedHealth,
// health_redis.go) while Record and Metrics stay in-memory operations.
type Health struct {
	mu  sync.Mutex
	m   map[string]*series // this instance's own observations
	now func() time.Time   // guarded by mu (background goroutines read it too)
	sh  *shared            // nil in memory-only mode
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

// NewHealth returns an empty in-memory tracker.
func NewHealth() *Health { return &Health{m: map[string]*series{}, now: time.Now} }

// SetClock injects a clock (tests simulate time with it).
func (h *Health) SetClock(now func() time.Time) {
	h.mu.Lock()
	h.now = now
	h.mu.Unlock()
}

// Observation is the result of one upstream attempt.
type Observation struct {
	Provider string // provider id, or provider:region
	Success  bool
	Tokens   int           // completion tokens
	Duration time.Duration // whole call
	TTFT     time.Duration // streaming only; 0 otherwise
}

// Record adds an attempt to the window. It never waits on I/O: in shared mode
// the observation is also queued for the next asynchronous flush.
func (h *Health) Record(o Observation) {
	h.mu.Lock()
	defer h.mu.Unlock()
	minute := h.now().Unix() / 60
	at(h.m, o.Provider, minute).add(o)
	if h.sh != nil {
		h.sh.queue(o, minute)
	}
}

// at returns the bucket of key for minute, creating or recycling it.
func at(m map[string]*series, key string, minute int64) *bucket {
	s := m[key]
	if s == nil {
		s = &series{}
		m[key] = s
	}
	b := &s.b[minute%buckets]
	if b.minute != minute {
		*b = bucket{minute: minute}
	}
	return b
}

func (b *bucket) add(o Observation) {
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

// decayed accumulates weighted bucket sums; the decay is linear, so several
// series (shared snapshot, sent, pending) can be added one after the other.
type decayed struct{ req, errs, tok, gen, ttft, ttftN float64 }

func (d *decayed) add(s *series, minute int64) {
	if s == nil {
		return
	}
	for i := range s.b {
		b := &s.b[i]
		age := minute - b.minute
		if age < 0 || age >= buckets {
			continue
		}
		w := weight(age)
		d.req += w * b.requests
		d.errs += w * b.errors
		d.tok += w * b.tokens
		d.gen += w * b.genSeconds
		d.ttft += w * b.ttftSum
		d.ttftN += w * b.ttftCount
	}
}

func (d *decayed) metrics() Metrics {
	if d.req <= 0 {
		return Metrics{Uptime: 100}
	}
	m := Metrics{Known: true, Uptime: 100 * (d.req - d.errs) / d.req, Requests: d.req}
	if d.gen > 0 {
		m.Throughput = d.tok / d.gen
	}
	if d.ttftN > 0 {
		m.TTFT = d.ttft / d.ttftN
	}
	return m
}

// Metrics returns the decayed metrics of a provider. In shared mode: the last
// snapshot of the shared window plus this instance's observations not in it
// yet; while Redis is unreachable, this instance's own observations.
func (h *Health) Metrics(provider string) Metrics {
	h.mu.Lock()
	defer h.mu.Unlock()
	minute := h.now().Unix() / 60
	var d decayed
	if h.sh != nil && !h.sh.down {
		d.add(h.sh.snap[provider], minute)
		d.add(h.sh.sent[provider], minute)
		d.add(h.sh.pending[provider], minute)
	} else {
		d.add(h.m[provider], minute)
	}
	return d.metrics()
}
