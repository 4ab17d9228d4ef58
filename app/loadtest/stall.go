package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// queueSample is the gateway's log queue at one moment.
type queueSample struct {
	at time.Time
	q  logQueue
}

// pollQueue samples the gateway's /health every interval until ctx ends.
func pollQueue(ctx context.Context, base string, every time.Duration) func() []queueSample {
	var (
		mu  sync.Mutex
		out []queueSample
		wg  sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if q, err := gatewayLogQueue(base); err == nil {
					mu.Lock()
					out = append(out, queueSample{time.Now(), q})
					mu.Unlock()
				}
			}
		}
	}()
	return func() []queueSample { wg.Wait(); return out }
}

func (b *bench) scenarioE(ctx context.Context) (*result, error) {
	o := b.opts
	mc := mockConfig{latency: o.latency, tokens: o.tokens}
	s, err := b.startStack(ctx, mc, map[string]string{"GATEWAY_LOG_QUEUE_SIZE": strconv.Itoa(o.stallQueue)})
	if err != nil {
		return nil, err
	}
	req := b.request(chatBody(smallPrompt, false))
	client := newClient()
	gwReq := 0
	if o.warmup > 0 {
		gwReq += len(attack(ctx, client, s.gw.url, req, o.stallRate, 0, o.warmup))
	}
	pre := o.duration / 2
	total := pre + o.stall + pre
	progress("  gateway: %s at %d req/s, request_logs locked from %s to %s", total, o.stallRate, pre, pre+o.stall)

	pollCtx, stopPoll := context.WithCancel(ctx)
	samplesOf := pollQueue(pollCtx, s.gw.url, 200*time.Millisecond)
	var stallFrom, stallTo time.Time
	var stallErr error
	stalled := make(chan struct{})
	go func() {
		defer close(stalled)
		select {
		case <-time.After(pre):
		case <-ctx.Done():
			return
		}
		done, err := b.db.stallLogs(ctx, o.stall)
		if err != nil {
			stallErr = err
			return
		}
		stallFrom = time.Now()
		stallErr = <-done
		stallTo = time.Now()
	}()
	start := time.Now()
	ss := attack(ctx, client, s.gw.url, req, o.stallRate, 0, total)
	gwReq += len(ss)
	<-stalled
	time.Sleep(time.Second) // see the backlog being written
	stopPoll()
	qs := samplesOf()
	acc, err := s.finish(ctx, b, gwReq)
	if err != nil {
		return nil, err
	}
	if stallErr != nil || stallFrom.IsZero() {
		return nil, fmt.Errorf("could not lock request_logs: %v", stallErr)
	}

	phases := &table{header: []string{"phase", "requests", "ok %", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms"}}
	addPhase := func(name string, x []sample) summary {
		sum := summarize(x)
		phases.add(name, fmt.Sprint(sum.n), fmt.Sprintf("%.2f", sum.successPct()), fmt.Sprintf("%.0f", sum.rps()),
			ms(sum.lat.pct(50)), ms(sum.lat.pct(90)), ms(sum.lat.pct(99)), ms(sum.lat.max()))
		return sum
	}
	before := addPhase("before the lock", within(ss, start, stallFrom))
	during := addPhase("request_logs locked", within(ss, stallFrom, stallTo))
	addPhase("after the lock", within(ss, stallTo, start.Add(total+time.Minute)))
	all := addPhase("whole run", ss)

	var maxPending int64
	for _, x := range qs {
		maxPending = max(maxPending, x.q.Pending)
	}
	title := fmt.Sprintf("%d req/s for %s; request_logs held under ACCESS EXCLUSIVE lock for %s; GATEWAY_LOG_QUEUE_SIZE=%d",
		o.stallRate, total, stallTo.Sub(stallFrom).Round(100*time.Millisecond), o.stallQueue)
	r := &result{id: "e", title: title, tables: []*table{phases, timeline(ss, qs, start, stallFrom, stallTo)}}
	r.notes = []string{logNote(acc), fmt.Sprintf("Highest log queue seen on /health: %d pending rows.", maxPending)}
	if all.ok < all.n {
		r.notes = append(r.notes, fmt.Sprintf("%d of %d failed, mostly: %s", all.n-all.ok, all.n, all.topError))
	}
	r.checks = []check{
		successCheck("e", "gateway while locked", during),
		ratioAtMost("e", "p99 while locked / p99 before", float64(during.lat.pct(99))/float64(max(before.lat.pct(99), 1)), 2),
		{scenario: "e", what: "log queue stays bounded", got: fmt.Sprintf("%d pending", maxPending),
			target: fmt.Sprintf("≤ %d (2x queue)", 2*o.stallQueue), pass: maxPending <= int64(2*o.stallQueue)},
	}
	r.checks = append(r.checks, logChecks("e", acc, false)...)
	return r, nil
}

// timeline shows, per second of the run, what clients saw and the log queue.
func timeline(ss []sample, qs []queueSample, start, from, to time.Time) *table {
	t := &table{header: []string{"second", "log table", "requests", "ok %", "p99 ms", "log pending", "log dropped"}}
	var end time.Time
	for _, x := range ss {
		end = maxTime(end, x.at)
	}
	for sec := 0; start.Add(time.Duration(sec)*time.Second).Before(end) || sec == 0; sec++ {
		lo, hi := start.Add(time.Duration(sec)*time.Second), start.Add(time.Duration(sec+1)*time.Second)
		sum := summarize(within(ss, lo, hi))
		state := "free"
		if hi.After(from) && lo.Before(to) {
			state = "locked"
		}
		pending, dropped := "–", "–"
		for _, q := range qs { // the last sample of the second
			if !q.at.Before(lo) && q.at.Before(hi) {
				pending, dropped = fmt.Sprint(q.q.Pending), fmt.Sprint(q.q.Dropped)
			}
		}
		t.add(fmt.Sprint(sec), state, fmt.Sprint(sum.n), fmt.Sprintf("%.2f", sum.successPct()), ms(sum.lat.pct(99)), pending, dropped)
	}
	return t
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
