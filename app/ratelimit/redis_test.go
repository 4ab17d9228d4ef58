package ratelimit

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/llmgw/gateway/app/ids"
)

// redisClient connects to the test Redis (127.0.0.1:6379 unless TEST_REDIS_URL);
// an unreachable server fails the test: CI must not go green by skipping.
func redisClient(t *testing.T) redis.UniversalClient {
	t.Helper()
	url := "redis://127.0.0.1:6379/0"
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("Redis is unreachable at %s: %v (start it; Redis tests never skip)", url, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestRedisSlidingWindow(t *testing.T) {
	c := redisClient(t)
	// Two stores on one Redis act as two gateway instances.
	a, b := NewRedis(c, "test:"+ids.Random(8)+":"), NewRedis(c, "")
	b.prefix = a.prefix
	now := time.Date(2026, 1, 1, 12, 0, 10, 0, time.UTC)
	a.now = func() time.Time { return now }
	b.now = a.now
	ctx := context.Background()
	d, err := a.Take(ctx, "k", 3, 1, Minute)
	if err != nil || !d.Allowed || d.Remaining != 2 {
		t.Fatalf("a: %+v %v", d, err)
	}
	b.Take(ctx, "k", 3, 1, Minute)
	a.Take(ctx, "k", 3, 1, Minute)
	if d, _ := b.Take(ctx, "k", 3, 1, Minute); d.Allowed || d.RetryAfter <= 0 {
		t.Fatalf("4th across instances: %+v", d)
	}
	now = now.Add(80 * time.Second) // 2/3 of the way... previous window weighs (1 - 30/60)
	if d, _ := a.Take(ctx, "k", 3, 1, Minute); !d.Allowed {
		t.Fatalf("after the window slid: %+v", d)
	}
	// Tokens per minute.
	if d, _ := a.Peek(ctx, "tpm", 100, Minute); !d.Allowed {
		t.Fatal("empty tpm")
	}
	b.Add(ctx, "tpm", 120, Minute)
	if d, _ := a.Peek(ctx, "tpm", 100, Minute); d.Allowed {
		t.Fatal("tpm over budget admitted")
	}
}

func TestRedisConcurrentTakes(t *testing.T) {
	c := redisClient(t)
	s := NewRedis(c, "test:"+ids.Random(8)+":")
	var ok atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if d, err := s.Take(context.Background(), "k", 10, 1, Minute); err == nil && d.Allowed {
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 10 {
		t.Fatalf("%d admitted of limit 10", ok.Load())
	}
}
