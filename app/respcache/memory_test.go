package respcache

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// clock is a settable time source for the TTL tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// memKey and memVal make entries of exactly 256 accounted bytes.
func memKey(i int) string { return fmt.Sprintf("key-%04d", i) }

var memVal = make([]byte, 256-8-memEntryOverhead)

func has(m *Memory, key string) bool {
	_, ok, _ := m.Get(context.Background(), key)
	return ok
}

func TestMemoryLRUByBytes(t *testing.T) {
	ctx := context.Background()
	m := NewMemory(32 * 256) // entries up to 1 KiB
	for i := 0; i < 32; i++ {
		if err := m.Set(ctx, memKey(i), memVal, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if m.Len() != 32 || m.Bytes() != 32*256 {
		t.Fatalf("len %d bytes %d", m.Len(), m.Bytes())
	}
	has(m, memKey(0)) // 0 is now the most recently used; 1 the least
	m.Set(ctx, memKey(32), memVal, time.Hour)
	if !has(m, memKey(0)) || has(m, memKey(1)) || !has(m, memKey(32)) || m.Len() != 32 {
		t.Fatalf("want 1 evicted, 0 and 32 kept (len %d)", m.Len())
	}
	// A bigger entry evicts as many as needed.
	big := make([]byte, 3*256-8-memEntryOverhead)
	if err := m.Set(ctx, memKey(33), big, time.Hour); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{2, 3, 4} {
		if has(m, memKey(i)) {
			t.Errorf("%d not evicted", i)
		}
	}
	if m.Bytes() != 32*256 {
		t.Fatalf("over the bound: %d", m.Bytes())
	}
	// Replacing a key re-accounts it.
	before := m.Bytes()
	m.Set(ctx, memKey(33), memVal, time.Hour)
	if m.Bytes() != before-2*256 {
		t.Fatalf("replace: %d -> %d", before, m.Bytes())
	}
	// Values are copied in.
	v := []byte("abc")
	m.Set(ctx, "copy", v, time.Hour)
	v[0] = 'X'
	if got, _, _ := m.Get(ctx, "copy"); string(got) != "abc" {
		t.Fatalf("aliased: %q", got)
	}
}

func TestMemoryTooLarge(t *testing.T) {
	ctx := context.Background()
	m := NewMemory(8 * 1024) // entries up to 1 KiB
	m.Set(ctx, "k", []byte("old"), time.Hour)
	if err := m.Set(ctx, "k", make([]byte, 1024), time.Hour); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err %v", err)
	}
	if has(m, "k") || m.Bytes() != 0 {
		t.Fatal("an oversized value must not leave the old one behind")
	}
	if err := m.Set(ctx, "k", make([]byte, 512), time.Hour); err != nil {
		t.Fatal(err)
	}
	if NewMemory(0).max != DefaultMemoryBytes {
		t.Fatal("default bound")
	}
}

func TestMemoryTTL(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	m := NewMemory(1 << 20)
	m.now = clk.Now
	m.Set(ctx, "a", []byte("1"), 10*time.Second)
	clk.Add(9*time.Second + 999*time.Millisecond)
	if !has(m, "a") {
		t.Fatal("expired early")
	}
	clk.Add(time.Millisecond)
	if has(m, "a") {
		t.Fatal("expired entry returned")
	}
	if m.Len() != 0 || m.Bytes() != 0 {
		t.Fatal("expired entry not dropped on read")
	}
	// Expired entries at the LRU end go on the next write, pressure or not.
	m.Set(ctx, "short", []byte("1"), time.Second)
	m.Set(ctx, "long", []byte("2"), time.Hour)
	clk.Add(2 * time.Second)
	m.Set(ctx, "new", []byte("3"), time.Hour)
	if m.Len() != 2 {
		t.Fatalf("len %d: the expired tail was not dropped", m.Len())
	}
	// ttl <= 0 deletes; a huge ttl does not overflow into the past.
	m.Set(ctx, "long", []byte("2"), 0)
	if has(m, "long") {
		t.Fatal("ttl 0 kept the entry")
	}
	m.Set(ctx, "forever", []byte("x"), time.Duration(1<<63-1))
	if !has(m, "forever") {
		t.Fatal("overflowing ttl")
	}
}

func TestMemoryConcurrent(t *testing.T) {
	ctx := context.Background()
	m := NewMemory(64 * 256)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, seed))
			for i := 0; i < 2000; i++ {
				k := memKey(r.IntN(200))
				if r.IntN(2) == 0 {
					m.Set(ctx, k, memVal, time.Duration(r.IntN(3))*time.Hour)
				} else if v, ok, _ := m.Get(ctx, k); ok && len(v) != len(memVal) {
					t.Error("wrong value")
				}
			}
		}(uint64(g))
	}
	wg.Wait()
	// Invariants: the list, the map and the byte count agree, within the bound.
	m.mu.Lock()
	defer m.mu.Unlock()
	n, size := 0, int64(0)
	for e := m.root.next; e != &m.root; e = e.next {
		if m.items[e.key] != e {
			t.Fatal("list and map disagree")
		}
		n, size = n+1, size+e.size
	}
	if n != len(m.items) || size != m.size || m.size > m.max {
		t.Fatalf("n %d/%d size %d/%d max %d", n, len(m.items), size, m.size, m.max)
	}
}
