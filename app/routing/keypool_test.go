package routing

import (
	"testing"
	"time"
)

func TestKeyPoolRoundRobinSkipsRestingAndRejected(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	p := NewKeyPool([]string{"k1", "k2", "k3"}, nil)
	p.SetClock(func() time.Time { return now })
	seen := map[string]int{}
	for range 6 {
		seen[p.Pick().Secret]++
	}
	if seen["k1"] != 2 || seen["k2"] != 2 || seen["k3"] != 2 {
		t.Fatalf("round robin = %v", seen)
	}

	k2 := p.keys[1]
	p.Report(k2, KeyRejected, 0)
	// k3 fails 3 of its last 5 calls: it rests.
	k3 := p.keys[2]
	p.Report(k3, KeyFailed, 0)
	p.Report(k3, KeyOK, 0)
	p.Report(k3, KeyFailed, 0)
	if free, _, _ := k3.state(now); !free {
		t.Fatal("2 failures of 5 already rest the key")
	}
	p.Report(k3, KeyFailed, 0)
	for range 10 {
		if k := p.Pick(); k.Secret != "k1" {
			t.Fatalf("picked %s while k2 is rejected and k3 rests", k.Secret)
		}
	}
	// With k1 already tried, a resting key beats nothing; a rejected one never.
	if k := p.Pick(p.keys[0]); k != k3 {
		t.Fatalf("fallback = %v", k)
	}
	if p.Pick(p.keys[0], k3) != nil || p.HasOther(p.keys[0], k3) {
		t.Fatal("a rejected key was offered")
	}
	// The rest ends after keyRestMin; a new rest doubles.
	now = now.Add(keyRestMin)
	if free, _, _ := k3.state(now); !free {
		t.Fatal("k3 still resting after its back-off")
	}
	for range keyFailN {
		p.Report(k3, KeyFailed, 0)
	}
	if _, at, _ := k3.state(now); at.Sub(now) != 2*keyRestMin {
		t.Fatalf("second rest = %v, want %v", at.Sub(now), 2*keyRestMin)
	}
	// A success after the rest resets the back-off.
	now = now.Add(2 * keyRestMin)
	p.Report(k3, KeyOK, 0)
	for range keyFailN {
		p.Report(k3, KeyFailed, 0)
	}
	if _, at, _ := k3.state(now); at.Sub(now) != keyRestMin {
		t.Fatalf("rest after success = %v", at.Sub(now))
	}
}

func TestKeyPoolThrottleSpreadsLoadWithoutCountingAFailure(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	p := NewKeyPool([]string{"k1", "k2"}, nil)
	p.SetClock(func() time.Time { return now })
	k1 := p.keys[0]
	p.Report(k1, KeyThrottled, 10*time.Second)
	for range 4 {
		if p.Pick() == k1 {
			t.Fatal("a cooling key was picked while another is free")
		}
	}
	if k1.failures() != 0 {
		t.Fatal("a 429 counted as a failure of the key")
	}
	// Every key cooling: nothing to pick, and how long to wait.
	p.Report(p.keys[1], KeyThrottled, 5*time.Second)
	if k := p.Pick(); k != nil {
		t.Fatalf("picked %s while every key cools down", k.Secret)
	}
	if until, ok := p.CoolingUntil(); !ok || until.Sub(now) != 5*time.Second {
		t.Fatalf("cooling until %v %v", until, ok)
	}
	now = now.Add(10 * time.Second)
	got := map[*PoolKey]bool{p.Pick(): true, p.Pick(): true}
	if !got[k1] {
		t.Fatal("k1 not used after its Retry-After")
	}
}

func TestKeyPoolReloadKeepsState(t *testing.T) {
	p := NewKeyPool([]string{"k1", "k2"}, nil)
	p.Report(p.keys[0], KeyRejected, 0)
	q := NewKeyPool([]string{"k2", "k1", "k3"}, p)
	if st := q.Status(); !st[1].Rejected || st[0].Rejected || st[2].Rejected {
		t.Fatalf("status after reload = %+v", st)
	}
}
