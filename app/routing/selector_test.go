package routing

import (
	"testing"
	"time"
)

func candidates(offers ...string) []Candidate {
	prices := map[string]int64{"cheap": 1_000_000, "mid": 1_100_000, "dear": 3_000_000}
	var out []Candidate
	for _, p := range offers {
		out = append(out, Candidate{Offer: offer(p, prices[p], prices[p], 0)})
	}
	return out
}

func fail(h *Health, provider string, n int) {
	for i := 0; i < n; i++ {
		h.Record(Observation{Provider: provider})
	}
}

func succeed(h *Health, provider string, n int) {
	for i := 0; i < n; i++ {
		h.Record(Observation{Provider: provider, Success: true})
	}
}

func newTestSelector() (*Selector, *Health, *time.Time) {
	h := NewHealth()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	h.SetClock(clock)
	s := NewSelector(h)
	s.SetClock(clock)
	s.SetRand(func() float64 { return 0.5 }) // never explores at 1%
	return s, h, &now
}

func TestSelectorStablePreference(t *testing.T) {
	s, h, now := newTestSelector()
	req := Request{Model: "m"}
	if got, why := s.Order(req, candidates("mid", "cheap")); got[0].Offer.Provider != "cheap" || why != ReasonScored {
		t.Fatalf("first pick %s (%s)", got[0].Offer.Provider, why)
	}
	// mid becomes slightly better than cheap (cheap had a few errors): within the margin, stay.
	succeed(h, "cheap", 97)
	fail(h, "cheap", 3)
	if got, why := s.Order(req, candidates("mid", "cheap")); got[0].Offer.Provider != "cheap" || why != ReasonStable {
		t.Fatalf("within margin: %s (%s)", got[0].Offer.Provider, why)
	}
	// cheap drops below 85%: hard switch.
	fail(h, "cheap", 30)
	if got, why := s.Order(req, candidates("mid", "cheap")); got[0].Offer.Provider != "mid" || why != ReasonScored {
		t.Fatalf("hard switch: %s (%s)", got[0].Offer.Provider, why)
	}
	// The preference expires after the TTL; metrics age out of the window too.
	*now = now.Add(2 * time.Hour)
	if got, _ := s.Order(req, candidates("mid", "cheap")); got[0].Offer.Provider != "cheap" {
		t.Fatalf("after TTL: %s", got[0].Offer.Provider)
	}
}

func TestSelectorExploration(t *testing.T) {
	s, _, _ := newTestSelector()
	rolls := []float64{0.001, 0.99} // explore, then pick index int(0.99*3)=2
	s.SetRand(func() float64 { r := rolls[0]; rolls = rolls[1:]; return r })
	got, why := s.Order(Request{Model: "m"}, candidates("cheap", "mid", "dear"))
	if why != ReasonExploration || got[0].Offer.Provider != "dear" || len(got) != 3 {
		t.Fatalf("exploration: %s (%s)", got[0].Offer.Provider, why)
	}
}

func TestSelectorSessionSticky(t *testing.T) {
	s, h, _ := newTestSelector()
	req := Request{Model: "m", Session: "conv-1"}
	if got, why := s.Order(req, candidates("mid", "cheap")); got[0].Offer.Provider != "cheap" || why != ReasonSessionSticky {
		t.Fatalf("first: %s (%s)", got[0].Offer.Provider, why)
	}
	// mid gets cheaper-looking relative to a slightly erroring cheap: the session stays.
	succeed(h, "cheap", 88)
	fail(h, "cheap", 12)
	if got, _ := s.Order(req, candidates("mid", "cheap")); got[0].Offer.Provider != "cheap" {
		t.Fatalf("session moved: %s", got[0].Offer.Provider)
	}
	// Below the session threshold: re-pinned to the best.
	fail(h, "cheap", 40)
	if got, _ := s.Order(req, candidates("mid", "cheap")); got[0].Offer.Provider != "mid" {
		t.Fatalf("not re-pinned: %s", got[0].Offer.Provider)
	}
	if got, _ := s.Order(req, candidates("mid", "cheap")); got[0].Offer.Provider != "mid" {
		t.Fatalf("re-pin not kept: %s", got[0].Offer.Provider)
	}
}
