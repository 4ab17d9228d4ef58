package respcache

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/llmgw/gateway/app/ids"
	"github.com/llmgw/gateway/app/schema"
)

// redisStore connects to the test Redis (127.0.0.1:6379) under a prefix unique
// to this run, and deletes the run's keys at the end. An unreachable server
// fails the test: CI guarantees Redis and must not go green by skipping.
func redisStore(t *testing.T) (*Redis, redis.UniversalClient, string) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("Redis is unreachable at 127.0.0.1:6379: %v (Redis tests never skip)", err)
	}
	prefix := "test:respcache:" + ids.Random(10) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		c.Close()
	})
	return NewRedis(c, prefix), c, prefix
}

func TestRedisStore(t *testing.T) {
	s, c, prefix := redisStore(t)
	ctx := context.Background()
	if v, ok, err := s.Get(ctx, "missing"); v != nil || ok || err != nil {
		t.Fatalf("missing: %q %v %v", v, ok, err)
	}
	if err := s.Set(ctx, "k", []byte("v1"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := s.Get(ctx, "k"); string(v) != "v1" || !ok || err != nil {
		t.Fatalf("get: %q %v %v", v, ok, err)
	}
	if ttl := c.PTTL(ctx, prefix+"k").Val(); ttl <= 59*time.Second || ttl > time.Minute {
		t.Fatalf("ttl %v", ttl)
	}
	// Expiry is Redis's own.
	s.Set(ctx, "short", []byte("x"), 2*time.Millisecond)
	time.Sleep(5 * time.Millisecond)
	if _, ok, _ := s.Get(ctx, "short"); ok {
		t.Fatal("expired entry returned")
	}
	// ttl <= 0 stores nothing.
	s.Set(ctx, "zero", []byte("x"), 0)
	if n := c.Exists(ctx, prefix+"zero").Val(); n != 0 {
		t.Fatal("stored with ttl 0")
	}
	// A cancelled context is an error, not a miss.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := s.Get(cctx, "k"); err == nil {
		t.Fatal("no error on a cancelled context")
	}
}

// Two gateway instances on one Redis share entries.
func TestRedisSharedAcrossInstances(t *testing.T) {
	s, c, prefix := redisStore(t)
	ctx := context.Background()
	a, b := New(s, Options{}), New(NewRedis(c, prefix), Options{})
	req := &schema.ChatRequest{Model: "m", Messages: []schema.Message{{Role: "user", Content: schema.TextContent("hi")}}}
	key := Key("proj_1", req)

	var calls int
	var mu sync.Mutex
	fill := func(context.Context) (*schema.ChatResponse, error) {
		mu.Lock()
		calls++
		mu.Unlock()
		return answer("from a"), nil
	}
	if _, outcome, err := a.Do(ctx, key, 30*time.Second, fill); err != nil || outcome != Miss {
		t.Fatalf("a: %v %v", outcome, err)
	}
	a.Wait()
	resp, outcome, err := b.Do(ctx, key, 30*time.Second, fill)
	if err != nil || outcome != Hit || text(resp) != "from a" || calls != 1 {
		t.Fatalf("b: %v %v calls %d", outcome, err, calls)
	}
	if ttl := c.PTTL(ctx, prefix+key).Val(); ttl <= 29*time.Second || ttl > 30*time.Second {
		t.Fatalf("ttl %v", ttl)
	}
	// Put/Lookup across instances, streamed replay of the shared entry.
	b.Put(ctx, "streamed", accumulate(toolStream()), time.Minute)
	b.Wait()
	got, ok := a.Lookup(ctx, "streamed")
	if !ok || len(got.Choices[0].Message.ToolCalls) != 2 {
		t.Fatalf("lookup: %v %+v", ok, got)
	}
	if back := accumulate(Replay(got)); back.Choices[0].Message.ToolCalls[1].Function.Arguments != `{"city":"Oslo"}` {
		t.Fatalf("replay %+v", back)
	}
}

// An unreachable Redis is a miss, counted; the request still gets its answer.
func TestRedisDownIsAMiss(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 50 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	cache := New(NewRedis(c, "x:"), Options{})
	resp, outcome, err := cache.Do(context.Background(), "k", time.Minute, func(context.Context) (*schema.ChatResponse, error) {
		return answer("live"), nil
	})
	cache.Wait()
	if err != nil || outcome != Miss || text(resp) != "live" {
		t.Fatalf("%v %v", outcome, err)
	}
	if s := cache.Stats(); s.StoreErrors != 2 {
		t.Fatalf("stats %+v", s)
	}
}
