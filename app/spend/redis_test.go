package spend

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/llmgw/gateway/app/ids"
	"github.com/llmgw/gateway/models"
)

func redisClient(t *testing.T) redis.UniversalClient {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("Redis is unreachable at 127.0.0.1:6379: %v (Redis tests never skip)", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Two accountants on one Redis are two gateway instances.
func sharedPair(t *testing.T) (*Accountant, *Accountant) {
	c := redisClient(t)
	prefix := "test:" + ids.Random(8) + ":"
	a, b := New(nil, quiet()), New(nil, quiet())
	a.UseRedis(c, prefix, time.Minute)
	b.UseRedis(c, prefix, time.Minute)
	return a, b
}

func TestSharedLimitAcrossInstances(t *testing.T) {
	a, b := sharedPair(t)
	k := &models.APIKey{ID: "ak_" + ids.Random(6), UsageLimit: ptr(int64(500))}
	var admitted atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		acct := a
		if i%2 == 1 {
			acct = b
		}
		go func() {
			defer wg.Done()
			r, err := acct.Reserve(k, 100)
			if err != nil {
				var le *LimitError
				if !errors.As(err, &le) {
					t.Errorf("reserve: %v", err)
				}
				return
			}
			admitted.Add(1)
			time.Sleep(5 * time.Millisecond)
			r.Settle(100)
		}()
	}
	wg.Wait()
	if n := admitted.Load(); n != 5 {
		t.Fatalf("admitted %d across two instances, limit covers 5", n)
	}
	var le *LimitError
	if _, err := b.Reserve(k, 1); !errors.As(err, &le) || le.Msg != "API key reached its usage limit." {
		t.Fatalf("after the limit: %v", err)
	}
}

func TestSharedWindowsAndStartingSpend(t *testing.T) {
	a, b := sharedPair(t)
	now := time.Date(2026, 3, 1, 8, 30, 0, 0, time.UTC)
	a.now = func() time.Time { return now }
	b.now = a.now
	anchor := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	// The database says 40 was spent in the current hour and 900 in all.
	k := &models.APIKey{ID: "ak_" + ids.Random(6), Usage: 900, PeriodUsage: 40, PeriodStart: &anchor,
		PeriodUsageLimit: ptr(int64(100)), PeriodUsageDurationValue: ptr(1), PeriodUsageDurationUnit: ptr("hour")}
	r, err := a.Reserve(k, 60)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Reserve(k, 1); err == nil {
		t.Fatal("the other instance ignored a reservation filling the window")
	}
	r.Settle(60)
	if u, p := a.Spent(k); u != 960 || p != 100 {
		t.Fatalf("spent %d / %d", u, p)
	}
	now = now.Add(time.Hour) // next window: starts empty everywhere
	r, err = b.Reserve(k, 100)
	if err != nil {
		t.Fatalf("new window: %v", err)
	}
	r.Release()
	// A lapsed reservation (its instance died) stops holding budget.
	a.shared.hold = time.Second
	if _, err := a.Reserve(k, 100); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Reserve(k, 1); err == nil {
		t.Fatal("budget not held by the live reservation")
	}
	now = now.Add(2 * time.Second)
	if _, err := b.Reserve(k, 100); err != nil {
		t.Fatalf("lapsed reservation still held: %v", err)
	}
}
