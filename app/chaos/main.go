// Command chaos is the gateway's chaos benchmark. It starts three chaos
// upstreams on loopback (OpenAI chat completions, JSON and SSE), a real gateway
// in this process (embedded SQLite in a temp DATA_DIR) that declares them as
// custom providers of two models, and N concurrent clients for a fixed
// duration while the upstreams fail (500/502/503/429, connection resets,
// garbage bodies), stall their first byte past the gateway's first-byte
// timeout, slow down and cut streams, phase after phase:
//
//  1. all healthy
//  2. alpha fails 100%, bravo 30% at random and slow; charlie healthy
//  3. alpha recovers; charlie cuts streams and stalls first bytes; bravo flaky
//  4. bravo down hard; charlie flaky; alpha healthy but slow
//
// At every moment each model has a healthy provider (the hand-over into phase
// 3 is staggered so that this holds for every request's whole fallback chain,
// see schedule), so the target is zero client-visible errors. A stream cut by its upstream after its first byte
// reached the client cannot be hidden by any gateway: it is counted apart
// ("mid-stream cuts", excluded from the target), and must end with an SSE
// error event (a stream ending otherwise counts as an error).
//
//	go run ./app/chaos                        # 50 clients, 30s, half streams
//	go run ./app/chaos -quick                 # ~20s
//	go run ./app/chaos -clients 100 -duration 1m -stream-ratio 0.8
//
// It prints Markdown tables per phase and overall, and exits with status 1
// when the target is missed.
//
// Two opt-in faults expose gateway bugs (reproduced by bugs_test.go, which
// fails until they are fixed):
//
//	go run ./app/chaos -quick -edge    # first stream chunks just before the first-byte deadline
//	go run ./app/chaos -quick -hangs -upstream-timeout 5s  # non-streaming upstreams that never answer
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

type options struct {
	clients         int
	duration        time.Duration
	streamRatio     float64
	quick           bool
	firstByte       time.Duration
	upstreamTimeout time.Duration
	latency         time.Duration
	requestTimeout  time.Duration
	gatewayLog      string
	keep            bool
	hangs           bool
	edge            bool
	env             []string // extra gateway settings, KEY=VALUE
}

type envFlag struct{ list *[]string }

func (e envFlag) String() string { return "" }
func (e envFlag) Set(v string) error {
	if !strings.Contains(v, "=") {
		return fmt.Errorf("want KEY=VALUE")
	}
	*e.list = append(*e.list, v)
	return nil
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.clients, "clients", 50, "concurrent clients (closed loop)")
	fs.DurationVar(&o.duration, "duration", 30*time.Second, "length of the run, split evenly between the four phases (plus, for phase 3, a hand-over grace of 2 first-byte timeouts + 1s)")
	fs.Float64Var(&o.streamRatio, "stream-ratio", 0.5, "share of streaming requests (0 to 1)")
	fs.BoolVar(&o.quick, "quick", false, "a ~20s run (-duration 15s, at most 20 clients)")
	fs.DurationVar(&o.firstByte, "first-byte-timeout", 2*time.Second, "the gateway's GATEWAY_UPSTREAM_FIRST_BYTE_TIMEOUT; stalled upstreams wait half as long again (at least 500ms) more")
	fs.DurationVar(&o.upstreamTimeout, "upstream-timeout", 30*time.Second, "the gateway's GATEWAY_UPSTREAM_TIMEOUT (non-streaming calls)")
	fs.DurationVar(&o.latency, "latency", 40*time.Millisecond, "healthy upstream latency (JSON answer, first chunk of a stream), ±50%")
	fs.DurationVar(&o.requestTimeout, "request-timeout", 60*time.Second, "client-side timeout of one request")
	fs.StringVar(&o.gatewayLog, "gateway-log", "", "write the gateway's own log (warn and above) to this file")
	fs.BoolVar(&o.hangs, "hangs", false, "also let flaky upstreams hang (never answer) on 5% of requests (exposes a gateway bug)")
	fs.BoolVar(&o.edge, "edge", false, "also let charlie send 20% of its first stream chunks just before the first-byte deadline in phase 3 (exposes a gateway bug)")
	fs.BoolVar(&o.keep, "keep", false, "keep the temp dir (models file, SQLite database with the request log)")
	fs.Var(envFlag{&o.env}, "env", "extra gateway setting KEY=VALUE (repeatable), e.g. -env EXPLORATION_RATE=0.1")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.quick {
		o.duration = 15 * time.Second
		o.clients = min(o.clients, 20)
	}
	if o.clients < 1 || o.duration <= 0 || o.streamRatio < 0 || o.streamRatio > 1 {
		return o, fmt.Errorf("want -clients >= 1, -duration > 0, 0 <= -stream-ratio <= 1")
	}
	return o, nil
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	r, err := runChaos(ctx, o, defaultSchedule(o.hangs, o.edge), stderr)
	if r != nil {
		r.print(stdout) // also after an interrupt: what ran so far
	}
	if err != nil {
		fmt.Fprintln(stderr, "chaos:", err)
		return 1
	}
	if r.failures() > 0 || len(r.samples) == 0 {
		return 1
	}
	return 0
}

func progress(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, "[%s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// runChaos starts the upstreams and the gateway, drives the load through the
// schedule's phases and returns what happened.
func runChaos(ctx context.Context, o options, sched *schedule, stderr io.Writer) (*report, error) {
	if err := sched.validate(); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "gw-chaos-")
	if err != nil {
		return nil, err
	}
	if o.keep {
		progress(stderr, "temp dir kept: %s", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	t := timing{
		latency:       o.latency,
		chunkGap:      5 * time.Millisecond,
		slowExtra:     o.firstByte / 4, // ±50%: a slow answer still starts well within the first-byte limit
		slowChunkGap:  40 * time.Millisecond,
		slowFirstByte: o.firstByte + max(o.firstByte/2, 500*time.Millisecond),
		firstByte:     o.firstByte,
	}
	// Two attempts cut by the first-byte timeout, then the last one (and a
	// 429's Retry-After of 1s) fit in the grace of a phase change.
	sched.grace = 2*o.firstByte + time.Second
	var ups []*upstream
	jr := newJournal()
	defer func() {
		for _, u := range ups {
			u.close()
		}
	}()
	for _, id := range providerIDs {
		u, err := startUpstream(id, sched, t, jr)
		if err != nil {
			return nil, err
		}
		ups = append(ups, u)
	}
	var logTo io.Writer
	if o.gatewayLog != "" {
		f, err := os.Create(o.gatewayLog)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		logTo = f
	}
	g, err := startGateway(ctx, dir, ups, o, logTo)
	if err != nil {
		return nil, fmt.Errorf("start gateway: %w", err)
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = g.stop()
		}
	}()

	d := &driver{base: g.base, apiKey: g.apiKey, streamRatio: o.streamRatio, timeout: o.requestTimeout,
		sched: sched, http: newHTTPClient(), run: fmt.Sprintf("chaos%d", time.Now().UnixNano()%1e9)}
	durs := sched.durations(o.duration)
	sched.set(0)
	progress(stderr, "gateway %s; %d clients for %s; phase 1: %s", g.base, o.clients, o.duration, sched.phases[0].name)
	stopLoad := make(chan struct{})
	loaded := make(chan struct{})
	start := time.Now()
	go func() { d.load(ctx, o.clients, stopLoad); close(loaded) }()
	for i := range sched.phases {
		if i > 0 {
			sched.set(i)
			progress(stderr, "phase %d: %s", i+1, sched.phases[i].name)
		}
		select {
		case <-time.After(durs[i]):
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(stopLoad)
	progress(stderr, "load stopped; waiting for requests in flight")
	<-loaded
	r := &report{opts: o, sched: sched, samples: d.samples, ups: ups, elapsed: time.Since(start)}

	// Attempts per request that carried no metadata.routing (errors, cut
	// streams) come from the request log: one row per upstream attempt.
	if att, err := g.attemptsByRequest(context.Background()); err != nil {
		r.logNote = "request log unreadable: " + err.Error()
	} else {
		for i := range r.samples {
			if s := &r.samples[i]; s.attempts == 0 {
				s.attempts = att[s.id]
			}
		}
	}
	for i := range r.samples {
		s := &r.samples[i]
		s.upstream = jr.get(s.id)
		if s.outcome == outCut && !jr.cut(s.id) {
			s.outcome = outFakeCut
		}
	}
	r.examples = pickExamples(r.samples)
	var ids []string
	for _, s := range r.examples {
		ids = append(ids, s.id)
	}
	routes := g.routesOf(context.Background(), ids)
	for i := range r.examples {
		r.examples[i].gwRoute = routes[r.examples[i].id]
	}
	stopped = true
	if err := g.stop(); err != nil {
		progress(stderr, "gateway shutdown: %v", err)
	}
	return r, ctx.Err()
}
