package main

import (
	"fmt"
	"sync/atomic"
	"time"
)

// Providers and models of the benchmark: every model is served by every
// provider, under a different upstream model name and price (so the router's
// price preference differs per model).
var (
	providerIDs = []string{"alpha", "bravo", "charlie"}
	modelIDs    = []string{"chaos-large", "chaos-small"}
)

// phase is a stretch of the run with one chaos profile per provider.
type phase struct {
	name     string
	weight   float64 // share of the run
	profiles map[string]Profile
}

// schedule is the run's phases and which one is current.
//
// A hand-over (a phase change after which no provider healthy before is still
// healthy, as from phase 2 to 3) is staggered: the provider that turns healthy
// does so at once, the one that turns faulty keeps its healthy profile for
// grace more, added to the phase's duration. A request's fallback chain (up to
// three attempts, the slow ones cut by the first-byte timeout, plus a 429's
// one-second cool-down of the recovering provider's key) lasts less than
// grace, so whenever a request runs, some provider of its model stays healthy
// from its first attempt to its last: "at every moment at least one provider
// per model is healthy" holds for every request, not just for every instant.
type schedule struct {
	phases []phase
	grace  time.Duration
	cur    atomic.Int32
	since  atomic.Int64 // unix nanoseconds when the current phase began
}

func (s *schedule) current() int { return int(s.cur.Load()) }

func (s *schedule) set(i int) {
	s.since.Store(time.Now().UnixNano())
	s.cur.Store(int32(i))
}

// profileNow is the current phase and provider's profile in it.
func (s *schedule) profileNow(provider string) (int, Profile) {
	i := s.current()
	p := s.phases[i].profiles[provider]
	if s.handover(i) && !p.healthy() && time.Since(time.Unix(0, s.since.Load())) < s.grace {
		if prev := s.phases[i-1].profiles[provider]; prev.healthy() {
			return i, prev
		}
	}
	return i, p
}

// handover: no provider healthy in the previous phase is healthy in phase i.
func (s *schedule) handover(i int) bool {
	if i == 0 {
		return false
	}
	for _, id := range providerIDs {
		if s.phases[i-1].profiles[id].healthy() && s.phases[i].profiles[id].healthy() {
			return false
		}
	}
	return true
}

// durations splits the run's duration between the phases by weight; a
// hand-over phase gets its grace on top.
func (s *schedule) durations(total time.Duration) []time.Duration {
	sum := 0.0
	for _, p := range s.phases {
		sum += p.weight
	}
	out := make([]time.Duration, len(s.phases))
	for i, p := range s.phases {
		out[i] = time.Duration(float64(total) * p.weight / sum)
		if s.handover(i) {
			out[i] += s.grace
		}
	}
	return out
}

// validate checks the benchmark's premise: in every phase, every model has at
// least one healthy provider (every provider serves every model here).
func (s *schedule) validate() error {
	for i, p := range s.phases {
		ok := false
		for _, id := range providerIDs {
			if p.profiles[id].healthy() {
				ok = true
			}
		}
		if !ok {
			return fmt.Errorf("phase %d (%s) has no healthy provider", i+1, p.name)
		}
	}
	return nil
}

// healthyIn names the healthy providers of phase i.
func (s *schedule) healthyIn(i int) []string {
	var out []string
	for _, id := range providerIDs {
		if s.phases[i].profiles[id].healthy() {
			out = append(out, id)
		}
	}
	return out
}

func faults(kv map[fault]float64, slow float64) Profile {
	var p Profile
	for f, v := range kv {
		p.Faults[f] = v
	}
	p.Slow = slow
	return p
}

// defaultSchedule is the scenario:
//
//  1. every provider healthy;
//  2. alpha fails every request (status errors, resets, garbage, cut
//     bodies), bravo fails 30% at random and is often slow; charlie healthy;
//  3. alpha recovers; charlie cuts 25% of its streams midway and stalls 25%
//     of its first bytes past the gateway's limit; bravo still 30% faulty;
//  4. bravo goes down hard (resets, 502, garbage); charlie flaky (503, 429,
//     cuts, stalls); alpha healthy but often slow.
//
// Two opt-in faults go beyond the list; each exposes a gateway bug
// (see the package documentation):
//   - hangs: bravo's and charlie's flaky profiles leave 5% of requests
//     unanswered until the gateway gives up (a hung upstream);
//   - edge: charlie's phase-3 profile sends 20% of its first stream chunks
//     within 2ms before the gateway's first-byte deadline.
func defaultSchedule(hangs, edge bool) *schedule {
	healthy := faults(nil, 0.05)
	down := faults(map[fault]float64{fault500: 0.25, fault502: 0.15, fault503: 0.15, fault429: 0.1,
		faultReset: 0.15, faultGarbage: 0.1, faultCut: 0.1}, 0)
	flaky := faults(map[fault]float64{fault500: 0.07, fault503: 0.05, fault429: 0.05, faultReset: 0.04,
		faultGarbage: 0.03, faultSlowFirstByte: 0.03, faultCut: 0.03}, 0.4)
	cutter := faults(map[fault]float64{faultCut: 0.25, faultSlowFirstByte: 0.25}, 0.2)
	crashed := faults(map[fault]float64{faultReset: 0.6, fault502: 0.2, faultGarbage: 0.2}, 0)
	shaky := faults(map[fault]float64{fault503: 0.15, fault429: 0.1, faultCut: 0.15, faultSlowFirstByte: 0.1}, 0.2)
	slowOK := faults(nil, 0.5)
	if hangs {
		flaky.Faults[faultHang] = 0.05
		shaky.Faults[faultHang] = 0.05
	}
	if edge {
		cutter.Faults[faultCut], cutter.Faults[faultSlowFirstByte], cutter.Faults[faultEdgeFirstByte] = 0.15, 0.15, 0.2
	}
	return &schedule{phases: []phase{
		{name: "all healthy", weight: 1, profiles: map[string]Profile{"alpha": healthy, "bravo": healthy, "charlie": healthy}},
		{name: "alpha down, bravo flaky", weight: 1, profiles: map[string]Profile{"alpha": down, "bravo": flaky, "charlie": healthy}},
		{name: "alpha back, charlie cuts+stalls", weight: 1, profiles: map[string]Profile{"alpha": healthy, "bravo": flaky, "charlie": cutter}},
		{name: "bravo down, charlie shaky", weight: 1, profiles: map[string]Profile{"alpha": slowOK, "bravo": crashed, "charlie": shaky}},
	}}
}
