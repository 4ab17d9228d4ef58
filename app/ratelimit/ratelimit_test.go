package ratelimit

import (
	"context"
	"testing"
	"time"
)

func TestMemorySlidingWindow(t *testing.T) {
	s := NewMemory()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		d, _ := s.Take(ctx, "k", 3, 1, Minute)
		if !d.Allowed || d.Remaining != 2-i || d.Limit != 3 {
			t.Fatalf("take %d: %+v", i, d)
		}
	}
	d, _ := s.Take(ctx, "k", 3, 1, Minute)
	if d.Allowed || d.RetryAfter <= 0 || d.RetryAfter > time.Minute || !d.Reset.Equal(now.Add(time.Minute)) {
		t.Fatalf("4th: %+v", d)
	}
	// Half-way through the next minute, half of the previous minute still counts.
	now = now.Add(90 * time.Second)
	d, _ = s.Take(ctx, "k", 3, 1, Minute) // 1.5 + 1 <= 3
	if !d.Allowed {
		t.Fatalf("after 90s: %+v", d)
	}
	d, _ = s.Take(ctx, "k", 3, 1, Minute) // 1.5 + 2 > 3
	if d.Allowed || d.RetryAfter > 30*time.Second {
		t.Fatalf("sliding: %+v", d)
	}
	// Keys are independent; long idle resets.
	if d, _ := s.Take(ctx, "other", 1, 1, Minute); !d.Allowed {
		t.Fatal("independent key")
	}
	now = now.Add(5 * time.Minute)
	if d, _ := s.Take(ctx, "k", 3, 3, Minute); !d.Allowed {
		t.Fatal("idle reset")
	}
}

func TestMemoryTokens(t *testing.T) {
	s := NewMemory()
	ctx := context.Background()
	if d, _ := s.Peek(ctx, "t", 100, Minute); !d.Allowed || d.Remaining != 100 {
		t.Fatalf("peek empty: %+v", d)
	}
	_ = s.Add(ctx, "t", 150, Minute) // a request may overshoot: tokens are known only afterwards
	if d, _ := s.Peek(ctx, "t", 100, Minute); d.Allowed || d.Remaining != 0 {
		t.Fatalf("peek over: %+v", d)
	}
}
