package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// The two tests below reproduce gateway bugs the chaos benchmark found
// (go run ./app/chaos -edge, -hangs). Each runs one provider with the fault
// next to two healthy ones, so the target is zero client-visible errors.
// They fail until the gateway is fixed; they are deliberately not skipped.

// runBugScenario runs a single-phase schedule and returns its report text.
func runBugScenario(t *testing.T, o options, alpha Profile) (*report, string) {
	t.Helper()
	ok := faults(nil, 0)
	sched := &schedule{phases: []phase{{name: "alpha faulty, bravo and charlie healthy", weight: 1,
		profiles: map[string]Profile{"alpha": alpha, "bravo": ok, "charlie": ok}}}}
	var log bytes.Buffer
	r, err := runChaos(context.Background(), o, sched, &log)
	if err != nil {
		t.Fatalf("runChaos: %v\n%s", err, log.String())
	}
	var out bytes.Buffer
	r.print(&out)
	return r, out.String()
}

// TestBugStreamFirstChunkAtDeadline: a healthy stream whose first chunk
// arrives just before GATEWAY_UPSTREAM_FIRST_BYTE_TIMEOUT is broken by the
// gateway after that chunk.
//
// app/gateway/stream.go, Gateway.openStream: the first-byte timer
// (time.AfterFunc → cancel(errFirstByte)) is only stopped by the deferred
// t.Stop() when openStream returns. When the first chunk was already read
// (s.Recv() returned it) and the timer fires before that return, openStream
// returns success with attemptCtx already cancelled; streamPump forwards the
// first chunk, the next Recv fails with context.Canceled, and the client gets
// `event: error` "Request cancelled by the client." (request_cancelled, logged
// as status 499, so the provider's health is not even charged). A fix: after a
// successful first Recv, if !t.Stop() (the timer fired), close the stream and
// treat the attempt as a first-byte timeout — no byte has reached the client
// yet, so the next candidate can still serve it.
func TestBugStreamFirstChunkAtDeadline(t *testing.T) {
	o := options{clients: 20, duration: 4 * time.Second, streamRatio: 1, firstByte: 200 * time.Millisecond,
		upstreamTimeout: 10 * time.Second, latency: 5 * time.Millisecond, requestTimeout: 30 * time.Second,
		env: []string{"EXPLORATION_RATE=1"}} // keep sending a third of the requests to alpha first
	r, report := runBugScenario(t, o, faults(map[fault]float64{faultEdgeFirstByte: 1}, 0))
	if n := r.failures(); n > 0 {
		t.Errorf("%d client-visible errors with two healthy providers: healthy streams broken after their first chunk "+
			"because it arrived within ms of the first-byte deadline (gateway bug, see the test's comment)\n%s", n, report)
	}
}

// TestBugNonStreamHungUpstream: a non-streaming call to an upstream that never
// answers uses up the whole request's deadline, the remaining attempts fail at
// once on the expired context (blamed on healthy providers that never saw the
// request), and the client gets 504.
//
// app/gateway/chat.go, Gateway.completeChat: one context.WithTimeout(g.base,
// g.UpstreamTimeout) covers every attempt, and no first-byte limit applies to
// non-streaming calls. A hung first candidate times out at the deadline;
// plan.next retries (timeouts are retryable), Adapter.Chat fails immediately
// with the expired context (httpx.TransportError → KindTimeout), and
// reportKey/recordHealth charge those "timeouts" to the healthy providers'
// keys and health window. A fix: a per-attempt deadline (e.g. the first-byte
// limit for the response headers, or UpstreamTimeout split across attempts),
// and no attempt, nor health/key report, once the request's own deadline has
// passed.
func TestBugNonStreamHungUpstream(t *testing.T) {
	o := options{clients: 4, duration: 3 * time.Second, streamRatio: 0, firstByte: 500 * time.Millisecond,
		upstreamTimeout: time.Second, latency: 5 * time.Millisecond, requestTimeout: 30 * time.Second,
		env: []string{"EXPLORATION_RATE=1"}}
	r, report := runBugScenario(t, o, faults(map[fault]float64{faultHang: 1}, 0))
	if n := r.failures(); n > 0 {
		t.Errorf("%d client-visible errors with two healthy providers: non-streaming requests whose first attempt hung "+
			"got 504 without a real fallback (gateway bug, see the test's comment)\n%s", n, report)
	}
	for _, s := range r.examples {
		if strings.Contains(s.gwRoute, "bravo 504") || strings.Contains(s.gwRoute, "charlie 504") {
			t.Errorf("request %s: the gateway logged a healthy provider as timed out (%s) though the upstreams received only %v",
				s.id, s.gwRoute, s.upstream)
			break
		}
	}
}
