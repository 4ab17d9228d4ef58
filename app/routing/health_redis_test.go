package routing

import (
	"context"
	"io"
	"log/slog"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/llmgw/gateway/app/ids"
)

// healthRedis connects to the test Redis at 127.0.0.1:6379; an unreachable
// server fails the test: CI must not go green by skipping.
func healthRedis(t testing.TB) redis.UniversalClient {
	t.Helper()
	return healthRedisAt(t, "127.0.0.1:6379", true)
}

func healthRedisAt(t testing.TB, addr string, ping bool) redis.UniversalClient {
	t.Helper()
	return healthRedisOpts(t, &redis.Options{Addr: addr}, ping)
}

func healthRedisOpts(t testing.TB, opts *redis.Options, ping bool) redis.UniversalClient {
	t.Helper()
	c := redis.NewClient(opts)
	addr := opts.Addr
	if ping {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if err := c.Ping(ctx).Err(); err != nil {
			t.Fatalf("Redis is unreachable at %s: %v (start it; Redis tests never skip)", addr, err)
		}
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// testPrefix is a fresh key namespace, deleted after the test.
func testPrefix(t testing.TB) string {
	prefix := "test:health:" + ids.Random(10) + ":"
	t.Cleanup(func() {
		c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", MaxRetries: -1})
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, prefix+"*", 500).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
	})
	return prefix
}

// countingHandler counts log records by level.
type countingHandler struct{ warn, info atomic.Int32 }

func (c *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (c *countingHandler) Handle(_ context.Context, r slog.Record) error {
	switch r.Level {
	case slog.LevelWarn:
		c.warn.Add(1)
	case slog.LevelInfo:
		c.info.Add(1)
	}
	return nil
}
func (c *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *countingHandler) WithGroup(string) slog.Handler      { return c }

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 9, 0, 5, 0, time.UTC)} }
func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func sameMetrics(t *testing.T, what string, got, want Metrics) {
	t.Helper()
	close := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }
	if got.Known != want.Known || !close(got.Uptime, want.Uptime) || !close(got.Throughput, want.Throughput) ||
		!close(got.TTFT, want.TTFT) || !close(got.Requests, want.Requests) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// obs is a deterministic mix: failures, plain and streaming successes.
func obs(provider string, i int) Observation {
	o := Observation{Provider: provider, Success: i%7 != 3, Tokens: 50 + i%13*10,
		Duration: time.Duration(400+i%11*90) * time.Millisecond}
	if i%2 == 0 {
		o.TTFT = time.Duration(100+i%5*40) * time.Millisecond
	}
	return o
}

// Two instances on one prefix: what A records, B sees after A's flush and B's
// refresh, including a key B never served itself.
func TestSharedHealthTwoInstances(t *testing.T) {
	c, prefix, clk := healthRedis(t), testPrefix(t), newClock()
	a, b, mem := newSharedHealth(c, prefix, nil), newSharedHealth(c, prefix, nil), NewHealth()
	for _, h := range []*Health{a, b, mem} {
		h.SetClock(clk.now)
	}
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		a.Record(obs("openai", i))
		mem.Record(obs("openai", i))
	}
	if m := b.Metrics("openai"); m.Known {
		t.Fatalf("B knows before any flush: %+v", m)
	}
	must(t, a.Flush(ctx))
	if m := b.Metrics("openai"); m.Known {
		t.Fatalf("B knows before its refresh: %+v", m)
	}
	must(t, b.Refresh(ctx))
	sameMetrics(t, "B after A's flush", b.Metrics("openai"), mem.Metrics("openai"))

	// Both record; each sees everything once both flushed and refreshed.
	for i := 20; i < 50; i++ {
		h := a
		if i%3 == 0 {
			h = b
		}
		h.Record(obs("openai", i))
		h.Record(obs("azure:eastus", i))
		mem.Record(obs("openai", i))
		mem.Record(obs("azure:eastus", i))
	}
	must(t, a.Flush(ctx))
	must(t, b.Flush(ctx))
	must(t, a.Refresh(ctx))
	must(t, b.Refresh(ctx))
	for _, key := range []string{"openai", "azure:eastus"} {
		sameMetrics(t, "A "+key, a.Metrics(key), mem.Metrics(key))
		sameMetrics(t, "B "+key, b.Metrics(key), mem.Metrics(key))
	}
	if m := b.Metrics("anthropic"); m.Known || m.Uptime != 100 {
		t.Fatalf("unknown provider: %+v", m)
	}
}

// The same observations spread over 75 simulated minutes give the same decayed
// figures (10x last minute, 3x last 5, 1x the hour, older ones gone) as the
// in-memory tracker that saw them all.
func TestSharedHealthDecayMatchesMemory(t *testing.T) {
	c, prefix, clk := healthRedis(t), testPrefix(t), newClock()
	a, b, mem := newSharedHealth(c, prefix, nil), newSharedHealth(c, prefix, nil), NewHealth()
	for _, h := range []*Health{a, b, mem} {
		h.SetClock(clk.now)
	}
	ctx := context.Background()
	keys := []string{"openai", "google:europe-west4"}
	i := 0
	for minute := 0; minute < 75; minute++ {
		for n := 0; n < 1+minute%4; n++ {
			for _, key := range keys {
				o := obs(key, i)
				if key == "openai" && minute >= 70 {
					o.Success = false // a recent outage must weigh 10x
				}
				[]*Health{a, b}[i%2].Record(o)
				mem.Record(o)
				i++
			}
			clk.add(7 * time.Second)
		}
		if minute%6 == 5 || minute >= 69 {
			must(t, a.Flush(ctx))
			must(t, b.Flush(ctx))
			must(t, a.Refresh(ctx))
			must(t, b.Refresh(ctx))
			for _, key := range keys {
				want := mem.Metrics(key)
				sameMetrics(t, "A "+key, a.Metrics(key), want)
				sameMetrics(t, "B "+key, b.Metrics(key), want)
			}
		}
		clk.add(time.Minute - time.Duration(1+minute%4)*7*time.Second)
	}
	if m := mem.Metrics("openai"); m.Uptime > 75 {
		t.Fatalf("the recent outage should dominate: %+v", m)
	}
	// An hour later (nothing new) both report nothing.
	clk.add(61 * time.Minute)
	must(t, a.Refresh(ctx))
	if m := a.Metrics("openai"); m.Known {
		t.Fatalf("expired window: %+v", m)
	}
}

// Local data is counted exactly once whatever its state: pending, flushed but
// not in the snapshot yet, or in the snapshot.
func TestSharedHealthNoDoubleCounting(t *testing.T) {
	c, prefix, clk := healthRedis(t), testPrefix(t), newClock()
	a, b, mem := newSharedHealth(c, prefix, nil), newSharedHealth(c, prefix, nil), NewHealth()
	for _, h := range []*Health{a, b, mem} {
		h.SetClock(clk.now)
	}
	ctx := context.Background()
	i := 0
	rec := func(h *Health, n int) {
		for ; n > 0; n-- {
			h.Record(obs("openai", i))
			mem.Record(obs("openai", i))
			i++
		}
	}
	check := func(stage string) {
		t.Helper()
		sameMetrics(t, stage, a.Metrics("openai"), mem.Metrics("openai"))
	}
	rec(a, 10)
	check("pending")
	must(t, a.Flush(ctx))
	check("flushed, not refreshed")
	rec(a, 5)
	check("flushed + pending")
	must(t, a.Refresh(ctx))
	check("refreshed + pending")
	must(t, a.Flush(ctx))
	check("refreshed + flushed")
	clk.add(2 * time.Minute)
	rec(a, 4)
	must(t, a.Refresh(ctx))
	must(t, a.Refresh(ctx))
	check("refreshed twice + pending")
	must(t, a.Flush(ctx))
	must(t, a.Flush(ctx)) // nothing left: no-op
	check("flushed twice")
	rec(b, 6) // a peer's data shows only after its flush and our refresh
	must(t, b.Flush(ctx))
	must(t, a.Refresh(ctx))
	check("with the peer")
}

// togglingProxy forwards TCP to Redis while up; down, it drops every
// connection (Redis outage) or, hung, accepts and never answers.
type togglingProxy struct {
	ln    net.Listener
	mu    sync.Mutex
	state string // up | down | hung
	conns []net.Conn
	hit   chan struct{}
}

func newTogglingProxy(t *testing.T) *togglingProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	p := &togglingProxy{ln: ln, state: "up", hit: make(chan struct{}, 100)}
	t.Cleanup(func() { ln.Close(); p.set("down") })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			state := p.state
			p.conns = append(p.conns, conn)
			p.mu.Unlock()
			switch state {
			case "down":
				conn.Close()
			case "hung":
				select {
				case p.hit <- struct{}{}:
				default:
				}
			default:
				up, err := net.Dial("tcp", "127.0.0.1:6379")
				if err != nil {
					conn.Close()
					continue
				}
				p.mu.Lock()
				p.conns = append(p.conns, up)
				p.mu.Unlock()
				go func() { io.Copy(up, conn); up.Close() }()
				go func() { io.Copy(conn, up); conn.Close() }()
			}
		}
	}()
	return p
}

func (p *togglingProxy) set(state string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.state = state
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// Redis down: Record and Metrics keep working on local data, the outage is
// logged once, nothing recorded meanwhile is lost once Redis is back.
func TestSharedHealthRedisOutage(t *testing.T) {
	healthRedis(t) // the real server must be up for the recovery half
	proxy := newTogglingProxy(t)
	c := healthRedisOpts(t, &redis.Options{Addr: proxy.ln.Addr().String(), MaxRetries: -1}, false)
	logs := &countingHandler{}
	prefix, clk := testPrefix(t), newClock()
	a, mem := newSharedHealth(c, prefix, slog.New(logs)), NewHealth()
	peer := newSharedHealth(healthRedis(t), prefix, nil)
	for _, h := range []*Health{a, mem, peer} {
		h.SetClock(clk.now)
	}
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		peer.Record(obs("openai", 1000+i)) // only in Redis: invisible to A during the outage
	}
	must(t, peer.Flush(ctx))
	for i := 0; i < 10; i++ {
		a.Record(obs("openai", i))
		mem.Record(obs("openai", i))
	}
	must(t, a.Flush(ctx))
	proxy.set("down")
	for i := 10; i < 30; i++ {
		a.Record(obs("openai", i))
		mem.Record(obs("openai", i))
	}
	for n := 0; n < 3; n++ {
		if a.Flush(ctx) == nil {
			t.Fatal("flush through a dead Redis succeeded")
		}
		if a.Refresh(ctx) == nil {
			t.Fatal("refresh through a dead Redis succeeded")
		}
	}
	sameMetrics(t, "during the outage: local data", a.Metrics("openai"), mem.Metrics("openai"))
	if w := logs.warn.Load(); w != 1 {
		t.Fatalf("outage logged %d times, want once", w)
	}

	proxy.set("up")
	must(t, a.Flush(ctx))
	must(t, a.Refresh(ctx))
	for i := 0; i < 10; i++ {
		mem.Record(obs("openai", 1000+i))
	}
	sameMetrics(t, "after recovery: everyone's data, outage-time observations included", a.Metrics("openai"), mem.Metrics("openai"))
	if logs.info.Load() != 1 || logs.warn.Load() != 1 {
		t.Fatalf("logs: %d warn, %d info", logs.warn.Load(), logs.info.Load())
	}
}

// Redis on a closed port, background loop running: Record never blocks.
func TestSharedHealthClosedPortNeverBlocks(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	addr := ln.Addr().String()
	ln.Close()
	logs := &countingHandler{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h, mem := NewSharedHealth(ctx, healthRedisAt(t, addr, false), testPrefix(t), slog.New(logs)), NewHealth()
	start := time.Now()
	for i := 0; i < 100_000; i++ {
		h.Record(obs("openai", i))
		mem.Record(obs("openai", i))
	}
	t.Logf("records %v", time.Since(start))
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("100k records took %v with Redis down", d)
	}
	if h.Flush(ctx) == nil {
		t.Fatal("flush to a closed port succeeded")
	}
	sameMetrics(t, "local data", h.Metrics("openai"), mem.Metrics("openai"))
	done := make(chan struct{})
	t0 := time.Now()
	go func() {
		if h.Close() == nil {
			t.Error("Close with Redis down reported success")
		}
		close(done)
		t.Logf("close %v", time.Since(t0))
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close hangs with Redis down")
	}
	if logs.warn.Load() != 1 {
		t.Fatalf("outage logged %d times, want once", logs.warn.Load())
	}
}

// A Redis that accepts and never answers: while a flush hangs on it, Record
// and Metrics still return at once.
func TestSharedHealthHungRedisDoesNotBlockRecord(t *testing.T) {
	proxy := newTogglingProxy(t)
	proxy.set("hung")
	c := healthRedisOpts(t, &redis.Options{Addr: proxy.ln.Addr().String(), ReadTimeout: 1500 * time.Millisecond, MaxRetries: -1}, false)
	h := newSharedHealth(c, testPrefix(t), slog.New(&countingHandler{}))
	h.Record(obs("openai", 0))
	flushed := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	go func() { flushed <- h.Flush(ctx) }()
	select {
	case <-proxy.hit:
	case <-time.After(5 * time.Second):
		t.Fatal("the flush never reached the hung Redis")
	}
	for i := 1; i < 10_000; i++ {
		h.Record(obs("openai", i))
		h.Metrics("openai")
	}
	select {
	case err := <-flushed:
		t.Fatalf("the flush returned (%v) before the records were done: they did not run concurrently", err)
	default:
	}
	if m := h.Metrics("openai"); m.Requests < 10*9000 { // last-minute weight 10
		t.Fatalf("records lost: %+v", m)
	}
	if err := <-flushed; err == nil {
		t.Fatal("flush to a hung Redis succeeded")
	}
}

// The background loop shares without explicit calls; Close flushes the rest.
func TestSharedHealthBackgroundLoopAndClose(t *testing.T) {
	c, prefix := healthRedis(t), testPrefix(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, b := NewSharedHealth(ctx, c, prefix, nil), NewSharedHealth(ctx, c, prefix, nil)
	defer b.Close()
	// A fixed clock: with the real one, a minute boundary between A's
	// records and B's read would age them into the x3 window.
	clk := newClock()
	a.SetClock(clk.now)
	b.SetClock(clk.now)
	a.Record(obs("openai", 0))
	deadline := time.Now().Add(15 * time.Second)
	for !b.Metrics("openai").Known {
		if time.Now().After(deadline) {
			t.Fatal("B never saw A's observation")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for i := 1; i < 5; i++ {
		a.Record(obs("openai", i))
	}
	must(t, a.Close())
	must(t, a.Close()) // idempotent
	must(t, b.Refresh(ctx))
	if m := b.Metrics("openai"); math.Abs(m.Requests-50) > 1e-9 {
		t.Fatalf("after A's Close B sees %v decayed requests, want 50", m.Requests)
	}
	if NewHealth().Close() != nil || NewHealth().Flush(ctx) != nil || NewHealth().Refresh(ctx) != nil {
		t.Fatal("memory-only mode: no-ops")
	}
}

func BenchmarkHealthRecord(b *testing.B) {
	b.Run("memory", func(b *testing.B) { benchRecord(b, NewHealth()) })
	b.Run("shared", func(b *testing.B) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		h := NewSharedHealth(ctx, healthRedis(b), testPrefix(b), nil)
		defer h.Close()
		benchRecord(b, h)
	})
}

func benchRecord(b *testing.B, h *Health) {
	o := []Observation{obs("openai", 1), obs("anthropic:us", 2), obs("openai", 3)}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		h.Record(o[i%len(o)])
	}
}
