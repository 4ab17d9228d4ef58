package main

import (
	"context"
	"fmt"
	"time"
)

// streamTargetRun is one target's batch of concurrent streams.
type streamTargetRun struct {
	name string
	run  *streamRun
	use  *usage
}

func (b *bench) scenarioC(ctx context.Context) (*result, error) {
	o := b.opts
	mc := mockConfig{latency: o.latency, chunkDelay: o.chunkDelay, streamTokens: o.streamTokens}
	s, err := b.startStack(ctx, mc, nil)
	if err != nil {
		return nil, err
	}
	req := b.request(chatBody(smallPrompt, true))
	targets := s.targets()
	runs := make([]streamTargetRun, len(targets))
	gwReq := 0
	// A batch of streams is short and sensitive to a burst of background load:
	// up to three rounds, the targets taking turns in a rotating order.
	rounds := min(max(o.rounds, 1), 3)
	for r := 0; r < rounds && ctx.Err() == nil; r++ {
		for k := range targets {
			i := (r + k) % len(targets)
			t := targets[i]
			progress("  round %d/%d, %s: %d streams", r+1, rounds, t.name, o.streams)
			client := newClient()
			m := startMeter(t.pid)
			sr := streams(ctx, client, t.url, req, o.streams, o.ramp)
			runs[i].name, runs[i].use = t.name, runs[i].use.add(m.done())
			runs[i].run = runs[i].run.merge(sr)
			if t.name == "gateway" {
				gwReq += len(sr.samples)
			}
			client.CloseIdleConnections()
			time.Sleep(500 * time.Millisecond)
		}
	}
	acc, err := s.finish(ctx, b, gwReq)
	if err != nil {
		return nil, err
	}
	title := fmt.Sprintf("%d concurrent streams started over %s, %d chunks %s apart, first chunk after %s; %d rounds",
		o.streams, o.ramp, o.streamTokens, o.chunkDelay, o.latency, rounds)
	r := &result{id: "c", title: title, tables: []*table{streamTable(runs, o.streams)}}
	for _, x := range runs {
		if sum := summarize(x.run.samples); sum.ok < sum.n {
			r.notes = append(r.notes, fmt.Sprintf("%s: %d of %d streams failed, mostly: %s", x.name, sum.n-sum.ok, sum.n, sum.topError))
		}
	}
	r.notes = append(r.notes, logNote(acc))
	d, p, g := sortedOf(runs[0].run.ttfb), sortedOf(runs[1].run.ttfb), sortedOf(runs[2].run.ttfb)
	gw := runs[2]
	r.checks = []check{successCheck("c", "gateway streams", summarize(gw.run.samples))}
	if gw.use != nil {
		r.checks = append(r.checks, check{scenario: "c", what: "gateway peak RSS", got: mb(gw.use.rssPeak) + " MB", target: "≤ 256 MB",
			pass: gw.use.rssPeak <= 256<<20})
	}
	r.checks = append(r.checks, ratioAtMost("c", "added TTFB p50, gateway / bare proxy", addedRatio(g.pct(50)-d.pct(50), p.pct(50)-d.pct(50)), 1.5))
	r.checks = append(r.checks, logChecks("c", acc, true)...)
	return r, nil
}

// merge adds another batch's measurements (nil-safe on the receiver).
func (r *streamRun) merge(o *streamRun) *streamRun {
	if r == nil {
		return o
	}
	r.samples = append(r.samples, o.samples...)
	r.ttfb = append(r.ttfb, o.ttfb...)
	r.gaps = append(r.gaps, o.gaps...)
	return r
}

func streamTable(runs []streamTargetRun, n int) *table {
	t := &table{header: []string{"target", "streams", "ok %", "TTFB p50 ms", "TTFB p99 ms", "added TTFB p50", "added TTFB p99",
		"gap p50 ms", "gap p99 ms", "added gap p99", "peak RSS MB", "RSS/stream KB", "CPU s"}}
	d := runs[0].run
	dt, dg := sortedOf(d.ttfb), sortedOf(d.gaps)
	for i, r := range runs {
		sum := summarize(r.run.samples)
		tt, gg := sortedOf(r.run.ttfb), sortedOf(r.run.gaps)
		a50, a99, g99 := "–", "–", "–"
		if i > 0 {
			a50, a99, g99 = plusMS(tt.pct(50)-dt.pct(50)), plusMS(tt.pct(99)-dt.pct(99)), plusMS(gg.pct(99)-dg.pct(99))
		}
		rss, per, cpu := "–", "–", "–"
		if r.use != nil {
			rss, cpu = mb(r.use.rssPeak), fmt.Sprintf("%.2f", r.use.cpu.Seconds())
			per = fmt.Sprintf("%.0f", float64(r.use.rssPeak-r.use.rssStart)/1024/float64(max(n, 1)))
		}
		t.add(r.name, fmt.Sprint(sum.n), fmt.Sprintf("%.2f", sum.successPct()), ms(tt.pct(50)), ms(tt.pct(99)), a50, a99,
			ms(gg.pct(50)), ms(gg.pct(99)), g99, rss, per, cpu)
	}
	return t
}
