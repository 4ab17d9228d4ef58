package main

import (
	"strings"
	"testing"
	"time"
)

func TestTable(t *testing.T) {
	tb := &table{header: []string{"target", "p50 ms"}}
	tb.add("direct", "20.10")
	tb.add("gateway", "+0.5")
	want := "" +
		"| target  | p50 ms |\n" +
		"| ------- | -----: |\n" +
		"| direct  |  20.10 |\n" +
		"| gateway |   +0.5 |\n"
	if got := tb.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestTableLeftColumns(t *testing.T) {
	tb := &table{header: []string{"s", "check", "n"}, left: 2}
	tb.add("a", "ok", "1")
	tb.add("b", "longer", "22")
	want := "" +
		"| s | check  | n  |\n" +
		"| - | ------ | -: |\n" +
		"| a | ok     |  1 |\n" +
		"| b | longer | 22 |\n"
	if got := tb.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestTableMissingCellsAndUnicode(t *testing.T) {
	tb := &table{header: []string{"a", "b"}}
	tb.add("≤ x")
	got := tb.String()
	if !strings.Contains(got, "| ≤ x |   |") {
		t.Errorf("got\n%s", got)
	}
}

func TestFormats(t *testing.T) {
	if got := ms(1500 * time.Microsecond); got != "1.50" {
		t.Errorf("ms: %s", got)
	}
	if got := plusMS(-250 * time.Microsecond); got != "-0.25" {
		t.Errorf("plusMS: %s", got)
	}
	if got := plusMS(time.Millisecond); got != "+1.00" {
		t.Errorf("plusMS: %s", got)
	}
	if got := mb(3 << 20); got != "3.0" {
		t.Errorf("mb: %s", got)
	}
}

func TestChecks(t *testing.T) {
	c := ratioAtMost("a", "added p50", 1.2, 1.5)
	if c.verdict() != "PASS" || c.got != "1.20x" || c.target != "≤ 1.5x" {
		t.Errorf("%+v %s", c, c.verdict())
	}
	if c := ratioAtMost("a", "x", 5000, 2); c.got != "> 100x" {
		t.Errorf("huge ratio: %s", c.got)
	}
	if c := ratioAtMost("a", "x", 2.5, 2); c.verdict() != "MISS" {
		t.Errorf("timing miss: %s", c.verdict())
	}
	if c := ratioAtLeast("b", "x", 0.55, 0.6); c.verdict() != "MISS" || c.got != "55%" || c.target != "≥ 60%" {
		t.Errorf("%+v", c)
	}
	acc := logAccount{requests: 10, rows: 7, dropped: 3}
	cs := logChecks("e", acc, true)
	if cs[0].verdict() != "PASS" || cs[1].verdict() != "MISS" {
		t.Errorf("log checks: %s %s", cs[0].verdict(), cs[1].verdict())
	}
	if cs := logChecks("e", logAccount{requests: 10, rows: 7}, false); len(cs) != 1 || cs[0].verdict() != "FAIL" {
		t.Errorf("lost rows must fail: %+v", cs)
	}
}

func TestPick(t *testing.T) {
	s, err := pick("a, c")
	if err != nil || len(s) != 2 || s[0].id != "a" || s[1].id != "c" {
		t.Errorf("pick: %v %v", s, err)
	}
	if _, err := pick("z"); err == nil {
		t.Error("unknown scenario accepted")
	}
	if s, _ := pick("all"); len(s) != 5 {
		t.Errorf("all: %d", len(s))
	}
}

func TestBigPrompt(t *testing.T) {
	if got := len(bigPrompt(100 << 10)); got != 100<<10 {
		t.Errorf("len %d", got)
	}
}
