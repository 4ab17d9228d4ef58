package routing

import (
	"math/rand/v2"
	"sort"
	"sync"
	"time"
)

// Selector orders the candidates of a root-id request, as the seed's "Smart
// Routing Algorithm" describes: weighted scores from live health, a stable
// preferred provider per model, ε-greedy exploration, and sticky sessions.
type Selector struct {
	Health *Health
	// Exploration is the share of requests sent to a random candidate (EXPLORATION_RATE).
	Exploration float64
	// PreferredTTL, PreferredUptime and ScoreMargin tune the stable preference
	// (PREFERRED_PROVIDER_TTL, _UPTIME_THRESHOLD, _SCORE_MARGIN).
	PreferredTTL    time.Duration
	PreferredUptime float64
	ScoreMargin     float64

	mu        sync.Mutex
	preferred map[string]pin // model -> preferred provider
	sessions  map[string]pin // session+model -> pinned provider
	rand      func() float64
	now       func() time.Time
}

type pin struct {
	provider string
	at       time.Time
}

// NewSelector returns a selector with the seed's defaults.
func NewSelector(h *Health) *Selector {
	return &Selector{Health: h, Exploration: 0.01, PreferredTTL: time.Hour, PreferredUptime: 85, ScoreMargin: 0.15,
		preferred: map[string]pin{}, sessions: map[string]pin{}, rand: rand.Float64, now: time.Now}
}

// SetClock and SetRand make decisions reproducible in tests.
func (s *Selector) SetClock(now func() time.Time) { s.now = now }
func (s *Selector) SetRand(r func() float64)      { s.rand = r }

// Request describes what is being routed.
type Request struct {
	Model        string // catalog root id
	Streaming    bool
	PromptTokens int
	Strategy     string // auto | price | throughput | latency
	Session      string // session id; "" none
}

// Reasons a candidate was put first.
const (
	ReasonScored        = "scored"
	ReasonStable        = "stable-preferred"
	ReasonExploration   = "exploration"
	ReasonSessionSticky = "session-sticky"
)

// Order returns the candidates best first (the rest as fallbacks, by score) and
// why the first one was chosen. Providers with priority 0 are removed.
func (s *Selector) Order(req Request, cands []Candidate) ([]Candidate, string) {
	if len(cands) < 2 {
		return cands, ReasonScored
	}
	scored := make([]Scored, len(cands))
	for i, c := range cands {
		prio := 1.0
		if c.Upstream != nil {
			prio = c.Upstream.Info.Priority
		}
		scored[i] = Scored{Offer: c.Offer, Metrics: s.Health.Metrics(c.Key()), Priority: prio,
			CacheSupported: c.Offer.Price.CachedInput > 0 || c.Offer.Price.CacheWrite > 0}
	}
	ScoreAll(scored, StrategyWeights(req.Strategy), req.Streaming, req.PromptTokens)
	idx := make([]int, len(cands))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return scored[idx[a]].Score < scored[idx[b]].Score })
	ranked := make([]Candidate, len(cands))
	byProvider := map[string]int{}
	for i, j := range idx {
		ranked[i] = cands[j]
		byProvider[cands[j].Key()] = j
	}
	best := ranked[0].Key()
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()

	healthy := func(p string) bool {
		j, ok := byProvider[p]
		return ok && scored[j].Metrics.Uptime >= s.PreferredUptime
	}
	if req.Session != "" {
		key := req.Session + "\x00" + req.Model
		if p, ok := s.sessions[key]; ok && healthy(p.provider) {
			s.sessions[key] = pin{p.provider, now}
			return front(ranked, p.provider), ReasonSessionSticky
		}
		s.sessions[key] = pin{best, now} // first request, or re-pinned after its provider faltered
		s.gc(now)
		return ranked, ReasonSessionSticky
	}
	if s.Exploration > 0 && s.rand() < s.Exploration {
		pick := ranked[int(s.rand()*float64(len(ranked)))%len(ranked)].Key()
		return front(ranked, pick), ReasonExploration
	}
	if p, ok := s.preferred[req.Model]; ok && now.Sub(p.at) < s.PreferredTTL && healthy(p.provider) {
		if j := byProvider[p.provider]; scored[idx[0]].Score+s.ScoreMargin >= scored[j].Score {
			return front(ranked, p.provider), ReasonStable
		}
	}
	s.preferred[req.Model] = pin{best, now}
	return ranked, ReasonScored
}

// front moves the candidate of that key to the front, keeping the others' order.
func front(ranked []Candidate, key string) []Candidate {
	out := make([]Candidate, 0, len(ranked))
	for _, c := range ranked {
		if c.Key() == key {
			out = append(out, c)
		}
	}
	for _, c := range ranked {
		if c.Key() != key {
			out = append(out, c)
		}
	}
	return out
}

// gc bounds the session table: pins idle for a day are forgotten.
func (s *Selector) gc(now time.Time) {
	if len(s.sessions) < 100_000 {
		return
	}
	for k, p := range s.sessions {
		if now.Sub(p.at) > 24*time.Hour {
			delete(s.sessions, k)
		}
	}
}
