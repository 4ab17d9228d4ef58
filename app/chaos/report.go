package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// group is the statistics of a set of samples (a phase, or the whole run).
type group struct {
	name      string
	n         int
	streams   int
	errors    map[string]int // client-visible errors by status / kind
	errCount  int
	cuts      int
	lat, ttfb []time.Duration
	attempts  map[int]int // attempts per request -> requests
	attSum    int
	attKnown  int
	providers map[string]int
}

func newGroup(name string, ss []sample) *group {
	g := &group{name: name, errors: map[string]int{}, attempts: map[int]int{}, providers: map[string]int{}}
	for i := range ss {
		s := &ss[i]
		g.n++
		if s.stream {
			g.streams++
		}
		switch {
		case s.outcome == outCut:
			g.cuts++
		case s.clientError():
			g.errCount++
			g.errors[s.errKey()]++
		}
		g.lat = append(g.lat, s.latency)
		if s.stream && s.ttfb > 0 {
			g.ttfb = append(g.ttfb, s.ttfb)
		}
		if s.attempts > 0 {
			g.attempts[s.attempts]++
			g.attSum += s.attempts
			g.attKnown++
		}
		if s.provider != "" && s.outcome == outOK {
			g.providers[s.provider]++
		}
	}
	sort.Slice(g.lat, func(i, j int) bool { return g.lat[i] < g.lat[j] })
	sort.Slice(g.ttfb, func(i, j int) bool { return g.ttfb[i] < g.ttfb[j] })
	return g
}

func pct(d []time.Duration, p float64) string {
	if len(d) == 0 {
		return "–"
	}
	i := int(float64(len(d)-1) * p / 100)
	return ms(d[i])
}

func maxOf(d []time.Duration) string {
	if len(d) == 0 {
		return "–"
	}
	return ms(d[len(d)-1])
}

func ms(d time.Duration) string {
	if d >= 10*time.Second {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return fmt.Sprintf("%dms", d.Milliseconds())
}

func (g *group) errorText() string {
	if g.errCount == 0 {
		return "0"
	}
	var keys []string
	for k := range g.errors {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s×%d", k, g.errors[k]))
	}
	return fmt.Sprintf("%d (%s)", g.errCount, strings.Join(parts, ", "))
}

func (g *group) errorRate() string {
	if g.n == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f%%", 100*float64(g.errCount)/float64(g.n))
}

func (g *group) attemptsText() string {
	if g.attKnown == 0 {
		return "–"
	}
	var keys []int
	for k := range g.attempts {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d:%d", k, g.attempts[k]))
	}
	return fmt.Sprintf("%.2f (%s)", float64(g.attSum)/float64(g.attKnown), strings.Join(parts, " "))
}

func (g *group) providersText() string {
	total := 0
	for _, n := range g.providers {
		total += n
	}
	if total == 0 {
		return "–"
	}
	var parts []string
	for _, id := range providerIDs {
		if n := g.providers[id]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %.0f%%", id, 100*float64(n)/float64(total)))
		}
	}
	return strings.Join(parts, ", ")
}

// report is what a run produced.
type report struct {
	opts     options
	sched    *schedule
	samples  []sample
	ups      []*upstream
	elapsed  time.Duration
	logNote  string // when the request log could not be read
	examples []sample
}

func (r *report) groups() []*group {
	by := make([][]sample, len(r.sched.phases))
	for _, s := range r.samples {
		i := min(max(s.phase, 0), len(by)-1)
		by[i] = append(by[i], s)
	}
	var out []*group
	for i, p := range r.sched.phases {
		out = append(out, newGroup(fmt.Sprintf("%d. %s", i+1, p.name), by[i]))
	}
	return append(out, newGroup("**overall**", r.samples))
}

// failures counts client-visible errors (mid-stream cuts excluded).
func (r *report) failures() int {
	n := 0
	for i := range r.samples {
		if r.samples[i].clientError() {
			n++
		}
	}
	return n
}

func (r *report) print(w io.Writer) {
	o := r.opts
	fmt.Fprintf(w, "## Gateway chaos benchmark: %d clients, %s (ran %s), %.0f%% streams, first-byte timeout %s\n\n",
		o.clients, o.duration, r.elapsed.Round(100*time.Millisecond), 100*o.streamRatio, o.firstByte)
	fmt.Fprintf(w, "Models %s, each served by %s (custom OpenAI-compatible providers on loopback).\n\n",
		strings.Join(modelIDs, ", "), strings.Join(providerIDs, ", "))
	fmt.Fprintln(w, "### Phases (upstream chaos profiles)")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "| Phase | %s | Healthy |\n|---|%s---|\n", strings.Join(providerIDs, " | "), strings.Repeat("---|", len(providerIDs)))
	for i, p := range r.sched.phases {
		var cells []string
		for _, id := range providerIDs {
			cells = append(cells, p.profiles[id].describe())
		}
		fmt.Fprintf(w, "| %d. %s | %s | %s |\n", i+1, p.name, strings.Join(cells, " | "), strings.Join(r.sched.healthyIn(i), ", "))
	}

	for i := range r.sched.phases {
		if r.sched.handover(i) {
			fmt.Fprintf(w, "\nPhase %d hands over: the providers turning faulty keep their healthy profile for its first %s (two first-byte timeouts + 1s), so every request's fallback chain finds a provider healthy throughout.\n", i+1, r.sched.grace)
		}
	}
	fmt.Fprintln(w, "\n### Client view")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| Phase | Requests | Client errors | Error rate | Mid-stream cuts | p50 | p90 | p99 | max | Stream TTFB p50 | p90 | p99 | max | Attempts/request (n:requests) | Served by |")
	fmt.Fprintln(w, "|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|---|")
	for _, g := range r.groups() {
		fmt.Fprintf(w, "| %s | %d | %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			g.name, g.n, g.errorText(), g.errorRate(), g.cuts,
			pct(g.lat, 50), pct(g.lat, 90), pct(g.lat, 99), maxOf(g.lat),
			pct(g.ttfb, 50), pct(g.ttfb, 90), pct(g.ttfb, 99), maxOf(g.ttfb),
			g.attemptsText(), g.providersText())
	}

	fmt.Fprintln(w, "\n### Upstream view (requests received, by injected fault)")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "| Phase | Provider | Requests | %s |\n|---|---|--:|%s\n", strings.Join(faultNames[:], " | "), strings.Repeat("--:|", int(numFaults)))
	for i, p := range r.sched.phases {
		for _, u := range r.ups {
			c := u.phaseCounts(i)
			var total int64
			cells := make([]string, numFaults)
			for f := range c {
				total += c[f]
				cells[f] = fmt.Sprint(c[f])
			}
			fmt.Fprintf(w, "| %d. %s | %s | %d | %s |\n", i+1, p.name, u.id, total, strings.Join(cells, " | "))
		}
	}
	if r.logNote != "" {
		fmt.Fprintf(w, "\nAttempts: %s\n", r.logNote)
	}

	n := r.failures()
	if len(r.examples) > 0 {
		fmt.Fprintln(w, "\n### Client-visible errors (first of each kind)")
		fmt.Fprintln(w)
		for _, s := range r.examples {
			kind := "non-stream"
			if s.stream {
				kind = "stream"
			}
			fmt.Fprintf(w, "- phase %d, %s %s, request %s: **%s** after %s: %s\n  - upstreams received: %s; gateway's routing log: %s\n",
				s.phase+1, kind, s.model, s.id, s.errKey(), ms(s.latency), trim(s.detail, 300),
				orNone(strings.Join(s.upstream, ", ")), orNone(s.gwRoute))
		}
	}
	fmt.Fprintln(w)
	if n == 0 {
		fmt.Fprintf(w, "Target met: 0 client-visible errors in %d requests (mid-stream cuts after the first byte, which no gateway can hide, excluded: %d, each ended by an SSE error event).\n", len(r.samples), newGroup("", r.samples).cuts)
	} else {
		fmt.Fprintf(w, "TARGET MISSED: %d client-visible errors in %d requests while every model had a healthy provider.\n", n, len(r.samples))
	}
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func trim(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// pickExamples keeps the first failing sample of each kind (per phase).
func pickExamples(ss []sample) []sample {
	seen := map[string]bool{}
	var out []sample
	for _, s := range ss {
		if !s.clientError() {
			continue
		}
		k := fmt.Sprintf("%d/%s/%v", s.phase, s.errKey(), s.stream)
		if !seen[k] && len(out) < 12 {
			seen[k] = true
			out = append(out, s)
		}
	}
	return out
}
