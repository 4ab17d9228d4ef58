package main

import (
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	l := sortedOf(ds)
	for p, want := range map[float64]time.Duration{50: 50, 90: 90, 99: 99, 99.9: 100, 100: 100, 1: 1, 0.1: 1} {
		if got := l.pct(p); got != want*time.Millisecond {
			t.Errorf("p%v = %v, want %v", p, got, want*time.Millisecond)
		}
	}
	if got := sortedOf([]time.Duration{7}).pct(99); got != 7 {
		t.Errorf("one sample: p99 = %v", got)
	}
	if got := latencies(nil).pct(50); got != 0 {
		t.Errorf("no samples: p50 = %v", got)
	}
	if ds[0] != 100*time.Millisecond {
		t.Error("sortedOf sorted its argument in place")
	}
}

func TestSummarize(t *testing.T) {
	t0 := time.Unix(1000, 0)
	ss := []sample{
		{at: t0, lat: 10 * time.Millisecond, ok: true},
		{at: t0.Add(time.Second), lat: 30 * time.Millisecond, ok: true},
		{at: t0.Add(500 * time.Millisecond), lat: 20 * time.Millisecond, err: "HTTP 502"},
		{at: t0.Add(600 * time.Millisecond), lat: 20 * time.Millisecond, err: "HTTP 502"},
		{at: t0.Add(700 * time.Millisecond), lat: 20 * time.Millisecond, err: "timeout"},
	}
	s := summarize(ss)
	if s.n != 5 || s.ok != 2 || s.successPct() != 40 {
		t.Errorf("n=%d ok=%d success=%v", s.n, s.ok, s.successPct())
	}
	if s.elapsed != 1030*time.Millisecond {
		t.Errorf("elapsed %v", s.elapsed)
	}
	if s.topError != "HTTP 502" {
		t.Errorf("top error %q", s.topError)
	}
	if got := len(within(ss, t0.Add(500*time.Millisecond), t0.Add(time.Second))); got != 3 {
		t.Errorf("within: %d samples", got)
	}
	if (summary{}).rps() != 0 || (summary{}).successPct() != 0 {
		t.Error("empty summary")
	}
}

func TestAddedRatio(t *testing.T) {
	ms := time.Millisecond
	if r := addedRatio(3*ms, 2*ms); r != 1.5 {
		t.Errorf("ratio %v", r)
	}
	// A proxy measured faster than direct (noise) gives a finite ratio.
	if r := addedRatio(ms, -ms); r != float64(ms)/float64(minAdded) {
		t.Errorf("negative denominator: %v", r)
	}
	if r := addedRatio(-ms, ms); r != 0 {
		t.Errorf("negative numerator: %v", r)
	}
}

func TestSummarizeRounds(t *testing.T) {
	t0 := time.Unix(1000, 0)
	r1 := []sample{{at: t0, lat: time.Millisecond, ok: true}, {at: t0.Add(999 * time.Millisecond), lat: time.Millisecond, ok: true}}
	r2 := []sample{{at: t0.Add(time.Hour), lat: time.Second, ok: true}}
	s := summarizeRounds([][]sample{r1, r2})
	if s.n != 3 || s.elapsed != 2*time.Second || s.rps() != 1.5 {
		t.Errorf("n=%d elapsed=%v rps=%v", s.n, s.elapsed, s.rps())
	}
}
