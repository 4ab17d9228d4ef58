package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestChaosShort runs a few-second version of the benchmark against a real
// in-process gateway: every phase's faults are injected, and with a healthy
// provider per model at every moment no client may see an error (mid-stream
// cuts after the first byte excepted, which must end with an SSE error event).
func TestChaosShort(t *testing.T) {
	o := options{
		clients:         8,
		duration:        6 * time.Second, // phases of 1.5s (+1.6s of grace for phase 3)
		streamRatio:     0.5,
		firstByte:       300 * time.Millisecond, // slow healthy answers start within ~150ms
		upstreamTimeout: 10 * time.Second,
		latency:         20 * time.Millisecond,
		requestTimeout:  30 * time.Second,
	}
	var log bytes.Buffer
	r, err := runChaos(context.Background(), o, defaultSchedule(false, false), &log)
	if err != nil {
		t.Fatalf("runChaos: %v\n%s", err, log.String())
	}
	var out bytes.Buffer
	r.print(&out)
	report := out.String()
	t.Log("\n" + report)

	for _, want := range []string{
		"### Client view", "| Phase | Requests | Client errors | Error rate | Mid-stream cuts | p50 | p90 | p99 | max | Stream TTFB p50",
		"| 1. all healthy |", "| 2. alpha down, bravo flaky |", "| 3. alpha back, charlie cuts+stalls |", "| 4. bravo down, charlie shaky |",
		"| **overall** |", "### Upstream view", "Target met: 0 client-visible errors",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if n := r.failures(); n > 0 {
		t.Errorf("%d client-visible errors while every model had a healthy provider (see the report above)", n)
	}
	for i, g := range r.groups()[:len(r.sched.phases)] {
		if g.n == 0 {
			t.Errorf("phase %d: no requests", i+1)
		}
	}
	// The chaos really happened: alpha failed every request of phase 2 that
	// reached it, charlie some of phase 3 (after the hand-over's grace).
	if c := r.ups[0].phaseCounts(1); c[faultNone] != 0 || sum(c[:]) == 0 {
		t.Errorf("phase 2, alpha: want only faults, got %v", c)
	}
	if c := r.ups[2].phaseCounts(2); c[faultCut]+c[faultSlowFirstByte] == 0 {
		t.Errorf("phase 3, charlie: no cut or stalled answer, got %v", c)
	}
	streams, metered := 0, 0
	for _, s := range r.samples {
		if s.stream && s.outcome == outOK {
			streams++
		}
		if s.outcome == outOK && s.attempts > 0 && s.provider != "" {
			metered++
		}
	}
	if streams == 0 || metered == 0 {
		t.Errorf("want successful streams (%d) and answers with routing metadata and a provider (%d)", streams, metered)
	}
}

func sum(c []int64) int64 {
	var n int64
	for _, v := range c {
		n += v
	}
	return n
}

// TestReadStream checks the client's judgement of an SSE answer: the
// benchmark is only as good as its detection of broken streams.
func TestReadStream(t *testing.T) {
	want := "w1 w2 "
	chunk := func(c string) string { return `data: {"choices":[{"delta":{"content":"` + c + `"}}]}` + "\n\n" }
	usage := `data: {"choices":[],"usage":{"total_tokens":3},"metadata":{"routing":[{"provider":"a"},{"provider":"b"}]}}` + "\n\n"
	errEv := "event: error\ndata: {\"error\":{\"message\":\"boom\"}}\n\n"
	for _, tc := range []struct {
		name, body, outcome string
	}{
		{"complete", chunk("w1 ") + chunk("w2 ") + usage + "data: [DONE]\n\n", outOK},
		{"cut with error event", chunk("w1 ") + errEv, outCut},
		{"error before content", errEv, outStatus},
		{"ends without DONE", chunk("w1 ") + chunk("w2 ") + usage, outSilent},
		{"DONE after a short answer", chunk("w1 ") + usage + "data: [DONE]\n\n", outSilent},
		{"no usage", chunk("w1 ") + chunk("w2 ") + "data: [DONE]\n\n", outBadBody},
		{"garbage", "data: {oops\n\n", outBadBody},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := sample{stream: true, start: time.Now()}
			(&driver{}).readStream(&s, strings.NewReader(tc.body), want)
			if s.outcome != tc.outcome {
				t.Errorf("outcome %q (%s), want %q", s.outcome, s.detail, tc.outcome)
			}
			if tc.outcome == outOK && s.attempts != 2 {
				t.Errorf("attempts %d, want 2 (metadata.routing)", s.attempts)
			}
		})
	}
}

func TestQuickFlag(t *testing.T) {
	o, err := parseFlags([]string{"-quick"}, &bytes.Buffer{})
	if err != nil || o.duration != 15*time.Second || o.clients != 20 {
		t.Fatalf("-quick: %+v, %v", o, err)
	}
	if _, err := parseFlags([]string{"-stream-ratio", "2"}, &bytes.Buffer{}); err == nil {
		t.Fatal("-stream-ratio 2 accepted")
	}
}

func TestScheduleHasHealthyProviderEachPhase(t *testing.T) {
	for _, extra := range []bool{false, true} {
		s := defaultSchedule(extra, extra)
		if err := s.validate(); err != nil {
			t.Fatal(err)
		}
		for i := range s.phases {
			if len(s.healthyIn(i)) == 0 {
				t.Errorf("phase %d: no healthy provider", i+1)
			}
		}
	}
}
