package usage

import (
	"strings"
	"testing"
	"time"

	"github.com/llmgw/gateway/models"
)

func TestAggregateUnit(t *testing.T) {
	ny := time.FixedZone("NY", -5*3600)
	a := row("a", 0, 200, cost(10))
	b := row("b", 1, 200, nil)
	b.CreatedAt = b.CreatedAt.In(ny) // same instant, other zone: same key
	c := row("c", 2, 200, cost(1))   // already written by an earlier attempt
	dup := row("a", 3, 200, cost(10))
	got := aggregate([]*models.RequestLog{a, b, c, dup}, map[string]struct{}{"a": {}, "b": {}})
	if len(got) != 1 {
		t.Fatalf("%d keys: %+v", len(got), got)
	}
	u := got[0]
	if u.Requests != 2 || u.Cost != 10 || u.UnpricedRequests != 1 || u.Hour != hour0 || u.Hour.Location() != time.UTC {
		t.Errorf("%+v", u)
	}
}

func TestCleanText(t *testing.T) {
	for in, want := range map[string]string{
		"plain":        "plain",
		"héllo":        "héllo",
		"a\x00b":       "ab",
		"cut \xe2\x82": "cut \uFFFD",
	} {
		if got := cleanText(in); got != want {
			t.Errorf("cleanText(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNewLogID(t *testing.T) {
	seen := make(map[string]bool, 100000)
	prev := ""
	for range 100000 {
		id := NewLogID()
		if len(id) != 36 || !strings.HasPrefix(id, "log_") || seen[id] {
			t.Fatalf("bad or duplicate id %q", id)
		}
		seen[id] = true
		// The millisecond prefix never goes backwards.
		if prev != "" && id[:16] < prev[:16] {
			t.Fatalf("%s sorts before %s", id, prev)
		}
		prev = id
	}
}
