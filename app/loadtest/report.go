package main

import (
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// table is a Markdown table with aligned columns: readable in a terminal and
// pasteable into the README as is. The first column (the first left ones, if
// set) is text and left-aligned; the others are numbers, right-aligned.
type table struct {
	header []string
	rows   [][]string
	left   int
}

func (t *table) isLeft(i int) bool { return i < max(t.left, 1) }

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) String() string {
	width := make([]int, len(t.header))
	for _, r := range append([][]string{t.header}, t.rows...) {
		for i, c := range r {
			if i < len(width) {
				width[i] = max(width[i], utf8.RuneCountInString(c))
			}
		}
	}
	var b strings.Builder
	line := func(cells []string, pad func(i int, c string) string) {
		b.WriteString("|")
		for i := range width {
			c := ""
			if i < len(cells) {
				c = cells[i]
			}
			b.WriteString(" " + pad(i, c) + " |")
		}
		b.WriteString("\n")
	}
	line(t.header, func(i int, c string) string { return padRight(c, width[i]) })
	line(nil, func(i int, _ string) string {
		if t.isLeft(i) {
			return strings.Repeat("-", width[i])
		}
		return strings.Repeat("-", width[i]-1) + ":"
	})
	for _, r := range t.rows {
		line(r, func(i int, c string) string {
			if t.isLeft(i) {
				return padRight(c, width[i])
			}
			return padLeft(c, width[i])
		})
	}
	return b.String()
}

func padRight(s string, w int) string { return s + strings.Repeat(" ", w-utf8.RuneCountInString(s)) }
func padLeft(s string, w int) string  { return strings.Repeat(" ", w-utf8.RuneCountInString(s)) + s }

// ms formats a duration in milliseconds.
func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }

// plusMS formats an added latency with its sign.
func plusMS(d time.Duration) string {
	return fmt.Sprintf("%+.2f", float64(d)/float64(time.Millisecond))
}

func mb(bytes int64) string { return fmt.Sprintf("%.1f", float64(bytes)/(1<<20)) }

// check is one line of the verdict: a target of the issue (timing: reported,
// never fatal) or an accounting invariant (must: a miss fails the run).
type check struct {
	scenario string
	what     string
	got      string
	target   string
	pass     bool
	must     bool
}

func ratioAtMost(scen, what string, got, limit float64) check {
	return check{scenario: scen, what: what, got: ratio(got), target: fmt.Sprintf("≤ %.2gx", limit), pass: got <= limit}
}

// ratio formats x; beyond 100x the digits are noise.
func ratio(x float64) string {
	if x > 100 {
		return "> 100x"
	}
	return fmt.Sprintf("%.2fx", x)
}

func ratioAtLeast(scen, what string, got, limit float64) check {
	return check{scenario: scen, what: what, got: fmt.Sprintf("%.0f%%", 100*got), target: fmt.Sprintf("≥ %.0f%%", 100*limit), pass: got >= limit}
}

func (c check) verdict() string {
	switch {
	case c.pass:
		return "PASS"
	case c.must:
		return "FAIL"
	default:
		return "MISS"
	}
}

func checksTable(cs []check) *table {
	t := &table{header: []string{"scenario", "check", "measured", "target", "verdict"}, left: 2}
	for _, c := range cs {
		t.add(c.scenario, c.what, c.got, c.target, c.verdict())
	}
	return t
}

// result is the report of one scenario.
type result struct {
	id, title string
	tables    []*table
	notes     []string
	checks    []check
}

func (r *result) print(w io.Writer) {
	fmt.Fprintf(w, "\n### (%s) %s\n\n", r.id, r.title)
	for _, t := range r.tables {
		fmt.Fprintln(w, t.String())
	}
	for _, n := range r.notes {
		fmt.Fprintln(w, n)
	}
	if len(r.notes) > 0 {
		fmt.Fprintln(w)
	}
}
