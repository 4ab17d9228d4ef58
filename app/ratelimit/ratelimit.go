// Package ratelimit enforces requests-per-minute and tokens-per-minute limits
// with a sliding window (the current minute's count plus the previous minute's,
// weighted by how much of it still overlaps the window). The in-memory store
// serves one instance; the Redis store shares the counts between instances.
package ratelimit

import (
	"context"
	"sync"
	"time"
)

// Minute is the window of RPM and TPM limits.
const Minute = time.Minute

// Decision is the state of one limit after a check.
type Decision struct {
	Allowed    bool
	Limit      int
	Remaining  int
	Reset      time.Time     // end of the current fixed window
	RetryAfter time.Duration // when refused: how long until a request fits
}

// Store counts events per key.
type Store interface {
	// Take admits n events under limit per window, counting them if admitted.
	Take(ctx context.Context, key string, limit, n int, window time.Duration) (Decision, error)
	// Peek reports the state without counting (TPM: admit while below the limit).
	Peek(ctx context.Context, key string, limit int, window time.Duration) (Decision, error)
	// Add counts n events unconditionally (TPM: tokens known after the call).
	Add(ctx context.Context, key string, n int, window time.Duration) error
}

// Memory is the in-process store.
type Memory struct {
	mu  sync.Mutex
	m   map[string]*counter
	now func() time.Time
	ops int
}

type counter struct {
	start     time.Time // start of the current fixed window
	cur, prev int
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory { return &Memory{m: map[string]*counter{}, now: time.Now} }

// state advances the counter to now and returns the sliding count.
func (s *Memory) state(key string, window time.Duration) (*counter, float64, time.Time) {
	now := s.now()
	start := now.Truncate(window)
	c := s.m[key]
	if c == nil {
		c = &counter{start: start}
		s.m[key] = c
	}
	switch elapsed := start.Sub(c.start); {
	case elapsed == window:
		c.prev, c.cur, c.start = c.cur, 0, start
	case elapsed > window:
		c.prev, c.cur, c.start = 0, 0, start
	}
	overlap := 1 - float64(now.Sub(start))/float64(window)
	s.ops++
	if s.ops%10000 == 0 {
		s.sweep(now)
	}
	return c, float64(c.prev)*overlap + float64(c.cur), now
}

// sweep forgets counters idle for an hour (longer than any window), bounding memory.
func (s *Memory) sweep(now time.Time) {
	for k, c := range s.m {
		if now.Sub(c.start) > time.Hour {
			delete(s.m, k)
		}
	}
}

func decide(limit, n int, used float64, now time.Time, prev int, window time.Duration) Decision {
	start := now.Truncate(window)
	d := Decision{Limit: limit, Reset: start.Add(window)}
	if used+float64(n) <= float64(limit) {
		d.Allowed = true
		d.Remaining = max(0, int(float64(limit)-used-float64(n)))
		return d
	}
	// The previous window's weight decays linearly: find when enough has decayed.
	need := used + float64(n) - float64(limit)
	if prev > 0 {
		d.RetryAfter = time.Duration(need / float64(prev) * float64(window))
	}
	if d.RetryAfter <= 0 || now.Add(d.RetryAfter).After(d.Reset) {
		d.RetryAfter = d.Reset.Sub(now)
	}
	return d
}

func (s *Memory) Take(_ context.Context, key string, limit, n int, window time.Duration) (Decision, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, used, now := s.state(key, window)
	d := decide(limit, n, used, now, c.prev, window)
	if d.Allowed {
		c.cur += n
	}
	return d, nil
}

func (s *Memory) Peek(_ context.Context, key string, limit int, window time.Duration) (Decision, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, used, now := s.state(key, window)
	d := decide(limit, 0, used, now, c.prev, window)
	d.Allowed = used < float64(limit)
	return d, nil
}

func (s *Memory) Add(_ context.Context, key string, n int, window time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, _, _ := s.state(key, window)
	c.cur += n
	return nil
}
