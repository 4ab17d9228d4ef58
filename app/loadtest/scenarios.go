package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// scenario is one of the load shapes.
type scenario struct {
	id, title string
	run       func(b *bench, ctx context.Context) (*result, error)
}

func scenarios() []scenario {
	return []scenario{
		{"a", "small non-streaming chat, open-loop at a fixed rate", (*bench).scenarioA},
		{"b", "closed-loop maximum throughput, zero-latency mock", (*bench).scenarioB},
		{"c", "many concurrent long streams", (*bench).scenarioC},
		{"d", "large prompts, open-loop", (*bench).scenarioD},
		{"e", "request-log table locked mid-run (database stalled for logging)", (*bench).scenarioE},
	}
}

func chatBody(content string, stream bool) []byte {
	s := ""
	if stream {
		s = `,"stream":true`
	}
	return []byte(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"` + content + `"}],"max_tokens":256` + s + `}`)
}

const smallPrompt = "Say hello in one short sentence."

// bigPrompt is n bytes of plain text (no JSON escaping needed).
func bigPrompt(n int) string {
	const line = "The quick brown fox jumps over the lazy dog while the gateway meters every token. "
	return strings.Repeat(line, n/len(line)+1)[:n]
}

// targetRun is one target's measured phase.
type targetRun struct {
	name string
	sum  summary
	use  *usage // of the hop process; nil for direct
}

// runTargets drives direct, bare proxy and gateway with the same load: a
// warm-up each, then the measured time in rounds, the targets taking turns in
// a rotating order, so that a change of background load on the machine hits
// all three alike. It returns the runs and the number of requests the gateway
// received, warm-up included.
func (b *bench) runTargets(ctx context.Context, s *stack, req request, rate, workers int) ([]targetRun, int) {
	targets := s.targets()
	clients := make([]*http.Client, len(targets))
	gwRequests := 0
	for i, t := range targets {
		clients[i] = newClient()
		defer clients[i].CloseIdleConnections()
		if b.opts.warmup > 0 {
			n := len(attack(ctx, clients[i], t.url, req, rate, workers, b.opts.warmup))
			if t.name == "gateway" {
				gwRequests += n
			}
		}
	}
	rounds := max(b.opts.rounds, 1)
	each := b.opts.duration / time.Duration(rounds)
	samples := make([][][]sample, len(targets))
	uses := make([]*usage, len(targets))
	for r := 0; r < rounds && ctx.Err() == nil; r++ {
		progress("  round %d/%d: %s per target", r+1, rounds, each)
		for k := range targets {
			i := (r + k) % len(targets)
			m := startMeter(targets[i].pid)
			ss := attack(ctx, clients[i], targets[i].url, req, rate, workers, each)
			uses[i] = uses[i].add(m.done())
			samples[i] = append(samples[i], ss)
			if targets[i].name == "gateway" {
				gwRequests += len(ss)
			}
			time.Sleep(200 * time.Millisecond) // let the previous target's backlog settle
		}
	}
	runs := make([]targetRun, len(targets))
	for i, t := range targets {
		runs[i] = targetRun{name: t.name, sum: summarizeRounds(samples[i]), use: uses[i]}
	}
	return runs, gwRequests
}

// loadTable shows runs with latencies added over the first (direct) run.
func loadTable(runs []targetRun) *table {
	t := &table{header: []string{"target", "requests", "ok %", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms",
		"added p50", "added p99", "peak RSS MB", "CPU s", "CPU µs/req"}}
	base := runs[0].sum
	for _, r := range runs {
		s := r.sum
		rss, cpu, per := "–", "–", "–"
		if r.use != nil {
			rss, cpu = mb(r.use.rssPeak), fmt.Sprintf("%.2f", r.use.cpu.Seconds())
			if s.n > 0 {
				per = fmt.Sprintf("%.0f", float64(r.use.cpu.Microseconds())/float64(s.n))
			}
		}
		added50, added99 := "–", "–"
		if r.name != runs[0].name {
			added50, added99 = plusMS(s.lat.pct(50)-base.lat.pct(50)), plusMS(s.lat.pct(99)-base.lat.pct(99))
		}
		t.add(r.name, fmt.Sprint(s.n), fmt.Sprintf("%.2f", s.successPct()), fmt.Sprintf("%.0f", s.rps()),
			ms(s.lat.pct(50)), ms(s.lat.pct(90)), ms(s.lat.pct(99)), ms(s.lat.max()), added50, added99, rss, cpu, per)
	}
	return t
}

// errorNotes names the most frequent error of targets that had failures.
func errorNotes(runs []targetRun) []string {
	var notes []string
	for _, r := range runs {
		if r.sum.ok < r.sum.n {
			notes = append(notes, fmt.Sprintf("%s: %d of %d failed, mostly: %s", r.name, r.sum.n-r.sum.ok, r.sum.n, r.sum.topError))
		}
	}
	return notes
}

func successCheck(scen, name string, s summary) check {
	return check{scenario: scen, what: name + " success", got: fmt.Sprintf("%.2f%%", s.successPct()), target: "100%", pass: s.n > 0 && s.ok == s.n}
}

// addedChecks compares the gateway's (runs[2]) added latency with the bare proxy's (runs[1]).
func addedChecks(scen string, runs []targetRun, p50Limit, p99Limit float64) []check {
	d, p, g := runs[0].sum.lat, runs[1].sum.lat, runs[2].sum.lat
	var cs []check
	if p50Limit > 0 {
		cs = append(cs, ratioAtMost(scen, "added p50, gateway / bare proxy", addedRatio(g.pct(50)-d.pct(50), p.pct(50)-d.pct(50)), p50Limit))
	}
	if p99Limit > 0 {
		cs = append(cs, ratioAtMost(scen, "added p99, gateway / bare proxy", addedRatio(g.pct(99)-d.pct(99), p.pct(99)-d.pct(99)), p99Limit))
	}
	return cs
}

// openLoop is the shape of (a) and (d): the three targets at one rate.
func (b *bench) openLoop(ctx context.Context, id, title string, mc mockConfig, body []byte, rate int, p50Limit, p99Limit float64) (*result, error) {
	s, err := b.startStack(ctx, mc, nil)
	if err != nil {
		return nil, err
	}
	runs, gwReq := b.runTargets(ctx, s, b.request(body), rate, 0)
	acc, err := s.finish(ctx, b, gwReq)
	if err != nil {
		return nil, err
	}
	r := &result{id: id, title: title, tables: []*table{loadTable(runs)}}
	r.notes = append(errorNotes(runs), logNote(acc))
	r.checks = append(r.checks, successCheck(id, "gateway", runs[2].sum))
	r.checks = append(r.checks, addedChecks(id, runs, p50Limit, p99Limit)...)
	r.checks = append(r.checks, logChecks(id, acc, true)...)
	return r, nil
}

func (b *bench) scenarioA(ctx context.Context) (*result, error) {
	o := b.opts
	title := fmt.Sprintf("%d req/s for %s, mock latency %s, %d-token answers", o.rate, o.duration, o.latency, o.tokens)
	return b.openLoop(ctx, "a", title, mockConfig{latency: o.latency, tokens: o.tokens}, chatBody(smallPrompt, false), o.rate, 1.5, 2)
}

func (b *bench) scenarioD(ctx context.Context) (*result, error) {
	o := b.opts
	title := fmt.Sprintf("%d KB prompts at %d req/s for %s, mock latency %s", o.promptKB, o.promptRate, o.duration, o.latency)
	body := chatBody(bigPrompt(o.promptKB<<10), false)
	return b.openLoop(ctx, "d", title, mockConfig{latency: o.latency, tokens: o.tokens}, body, o.promptRate, 0, 2)
}

func (b *bench) scenarioB(ctx context.Context) (*result, error) {
	o := b.opts
	s, err := b.startStack(ctx, mockConfig{tokens: o.tokens}, nil)
	if err != nil {
		return nil, err
	}
	runs, gwReq := b.runTargets(ctx, s, b.request(chatBody(smallPrompt, false)), 0, o.workers)
	acc, err := s.finish(ctx, b, gwReq)
	if err != nil {
		return nil, err
	}
	r := &result{id: "b", title: fmt.Sprintf("%d workers in a closed loop for %s, zero-latency mock", o.workers, o.duration),
		tables: []*table{loadTable(runs)}}
	ratio := runs[2].sum.rps() / max(runs[1].sum.rps(), 1)
	r.notes = append(errorNotes(runs), fmt.Sprintf("Gateway throughput: %.0f%% of the bare proxy's (%.0f vs %.0f req/s); direct: %.0f req/s.",
		100*ratio, runs[2].sum.rps(), runs[1].sum.rps(), runs[0].sum.rps()), logNote(acc))
	r.checks = []check{successCheck("b", "gateway", runs[2].sum), ratioAtLeast("b", "throughput, gateway / bare proxy", ratio, 0.6)}
	r.checks = append(r.checks, logChecks("b", acc, true)...)
	return r, nil
}
