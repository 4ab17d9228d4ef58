package main

import (
	"slices"
	"sort"
	"time"
)

// sample is one request as the load generator saw it.
type sample struct {
	at  time.Time     // when it was sent
	lat time.Duration // until the whole answer was read
	ok  bool          // 2xx and (for streams) a clean end
	err string        // why not ok
}

// latencies are sorted durations with nearest-rank percentiles.
type latencies []time.Duration

func sortedOf(ds []time.Duration) latencies {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s
}

// pct is the nearest-rank p-th percentile (0 < p ≤ 100); 0 for no data.
func (l latencies) pct(p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(l)) + 0.999999999)
	return l[min(max(rank, 1), len(l))-1]
}

func (l latencies) max() time.Duration { return l.pct(100) }

// summary is what the report shows of one run against one target.
type summary struct {
	n, ok    int
	elapsed  time.Duration // first send to last answer
	lat      latencies
	topError string
}

func summarize(ss []sample) summary {
	s := summary{n: len(ss)}
	if len(ss) == 0 {
		return s
	}
	ds := make([]time.Duration, len(ss))
	first, last := ss[0].at, ss[0].at
	errs := map[string]int{}
	for i, x := range ss {
		ds[i] = x.lat
		if x.ok {
			s.ok++
		} else {
			errs[x.err]++
		}
		if x.at.Before(first) {
			first = x.at
		}
		if end := x.at.Add(x.lat); end.After(last) {
			last = end
		}
	}
	s.lat = sortedOf(ds)
	s.elapsed = last.Sub(first)
	s.topError = topKey(errs)
	return s
}

// summarizeRounds summarizes the rounds of one target as one run; its
// elapsed time is the rounds' own, not the time between them.
func summarizeRounds(rounds [][]sample) summary {
	var all []sample
	var elapsed time.Duration
	for _, r := range rounds {
		all = append(all, r...)
		elapsed += summarize(r).elapsed
	}
	s := summarize(all)
	s.elapsed = elapsed
	return s
}

func topKey(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] || m[keys[i]] == m[keys[j]] && keys[i] < keys[j] })
	if len(keys) == 0 {
		return ""
	}
	return keys[0]
}

// successPct is the share of ok requests in percent.
func (s summary) successPct() float64 {
	if s.n == 0 {
		return 0
	}
	return 100 * float64(s.ok) / float64(s.n)
}

// rps is the throughput of ok requests.
func (s summary) rps() float64 {
	if s.elapsed <= 0 {
		return 0
	}
	return float64(s.ok) / s.elapsed.Seconds()
}

// within keeps the samples sent in [from, to).
func within(ss []sample, from, to time.Time) []sample {
	var out []sample
	for _, x := range ss {
		if !x.at.Before(from) && x.at.Before(to) {
			out = append(out, x)
		}
	}
	return out
}

// minAdded is the floor of an added latency used as a ratio's denominator: a
// bare proxy measured faster than direct (noise) must not yield a negative or
// infinite ratio.
const minAdded = 50 * time.Microsecond

// addedRatio is how many times the gateway's added latency is the proxy's.
func addedRatio(gateway, proxy time.Duration) float64 {
	return float64(max(gateway, 0)) / float64(max(proxy, minAdded))
}
