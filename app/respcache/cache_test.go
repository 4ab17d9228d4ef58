package respcache

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmgw/gateway/app/schema"
)

func answer(text string) *schema.ChatResponse {
	return &schema.ChatResponse{ID: "chatcmpl-1", Object: "chat.completion", Created: 1, Model: "gpt-4o",
		Usage:   &schema.Usage{PromptTokens: 3, CompletionTokens: 4, TotalTokens: 7},
		Choices: []schema.Choice{{Message: schema.Message{Role: "assistant", Content: schema.TextContent(text)}, FinishReason: "stop"}}}
}

func text(r *schema.ChatResponse) string { return r.Choices[0].Message.Content.String() }

// waitFor polls cond (every 100µs, up to 5s).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// waiting is the number of callers waiting on key's fill.
func (c *Cache) waiting(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f := c.flights[key]; f != nil {
		return f.waiters
	}
	return 0
}

// heldFill is a fill that blocks until released, recording its calls and ctx.
type heldFill struct {
	calls   atomic.Int32
	started chan context.Context
	release chan struct{}
	resp    func() (*schema.ChatResponse, error)
}

func newHeldFill() *heldFill {
	return &heldFill{started: make(chan context.Context, 10), release: make(chan struct{}),
		resp: func() (*schema.ChatResponse, error) { return answer("filled"), nil }}
}

func (h *heldFill) fill(ctx context.Context) (*schema.ChatResponse, error) {
	h.calls.Add(1)
	h.started <- ctx
	select {
	case <-h.release:
		return h.resp()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type doResult struct {
	resp    *schema.ChatResponse
	outcome Outcome
	err     error
}

func goDo(c *Cache, ctx context.Context, key string, fill func(context.Context) (*schema.ChatResponse, error)) chan doResult {
	ch := make(chan doResult, 1)
	go func() {
		r, o, err := c.Do(ctx, key, time.Minute, fill)
		ch <- doResult{r, o, err}
	}()
	return ch
}

func TestLookupPut(t *testing.T) {
	ctx := context.Background()
	c := New(NewMemory(0), Options{})
	if _, ok := c.Lookup(ctx, "k"); ok {
		t.Fatal("hit on empty")
	}
	resp := answer("hello")
	c.Put(ctx, "k", resp, time.Minute)
	resp.Choices[0].Message.Content = schema.TextContent("mutated after Put")
	c.Wait()
	got, ok := c.Lookup(ctx, "k")
	if !ok || text(got) != "hello" || got.Usage == nil || got.Usage.TotalTokens != 7 {
		t.Fatalf("%v %+v", ok, got)
	}
	got.Choices[0].Message.Content = schema.TextContent("mutated by a reader")
	again, _ := c.Lookup(ctx, "k")
	if text(again) != "hello" {
		t.Fatal("readers share one response")
	}
	e, ok := c.LookupEntry(ctx, "k")
	if !ok || e.StoredAt.IsZero() || e.Age(time.Now()) < 0 {
		t.Fatalf("entry %+v", e)
	}
	if s := c.Stats(); s.Hits != 3 || s.Misses != 1 || s.Writes != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestNotStored(t *testing.T) {
	ctx := context.Background()
	c := New(NewMemory(0), Options{MaxEntryBytes: 1000})
	bad := map[string]*schema.ChatResponse{
		"nil":        nil,
		"no choices": {ID: "x", Choices: []schema.Choice{}},
		"error":      {Choices: []schema.Choice{{Message: schema.Message{Content: schema.TextContent("partial")}, FinishReason: "error"}}},
		"unfinished": {Choices: []schema.Choice{{Message: schema.Message{Content: schema.TextContent("partial")}}}},
		"empty":      {Choices: []schema.Choice{{Message: schema.Message{Content: schema.TextContent("")}, FinishReason: "stop"}}},
		"too large":  answer(strings.Repeat("x", 2000)),
	}
	for name, r := range bad {
		c.Put(ctx, name, r, time.Minute)
	}
	c.Wait()
	for name := range bad {
		if _, ok := c.Lookup(ctx, name); ok {
			t.Errorf("%s stored", name)
		}
	}
	if s := c.Stats(); s.NotStored != uint64(len(bad)) || s.Writes != 0 {
		t.Fatalf("stats %+v", s)
	}
	for _, ok := range []*schema.ChatResponse{
		{Choices: []schema.Choice{{Message: schema.Message{ToolCalls: []schema.ToolCall{{ID: "c"}}}, FinishReason: "tool_calls"}}},
		{Choices: []schema.Choice{{Message: schema.Message{Refusal: ptr("no")}, FinishReason: "stop"}}},
		{Choices: []schema.Choice{{Message: schema.Message{Content: schema.TextContent("cut")}, FinishReason: "length"}}},
	} {
		if !Storable(ok) {
			t.Errorf("not storable: %+v", ok.Choices[0])
		}
	}
}

// fakeStore fails, hangs or returns what it is told.
type fakeStore struct {
	getErr, setErr error
	val            []byte
	hang           bool
	setGate        chan struct{} // if set, Set waits for it
	mu             sync.Mutex
	sets           int
	lastTTL        time.Duration
}

func (s *fakeStore) Get(ctx context.Context, _ string) ([]byte, bool, error) {
	if s.hang {
		<-ctx.Done()
		return nil, false, ctx.Err()
	}
	return s.val, s.val != nil, s.getErr
}

func (s *fakeStore) Set(ctx context.Context, _ string, _ []byte, ttl time.Duration) error {
	if s.setGate != nil {
		<-s.setGate
	}
	s.mu.Lock()
	s.sets++
	s.lastTTL = ttl
	s.mu.Unlock()
	return s.setErr
}

func TestStoreErrorsAreMisses(t *testing.T) {
	ctx := context.Background()
	var reported []string
	var mu sync.Mutex
	onErr := func(op string, err error) { mu.Lock(); reported = append(reported, op); mu.Unlock() }

	c := New(&fakeStore{getErr: errors.New("boom"), setErr: errors.New("down")}, Options{OnError: onErr})
	if _, ok := c.Lookup(ctx, "k"); ok {
		t.Fatal("hit")
	}
	resp, outcome, err := c.Do(ctx, "k", time.Minute, func(context.Context) (*schema.ChatResponse, error) { return answer("up"), nil })
	if err != nil || outcome != Miss || text(resp) != "up" {
		t.Fatalf("%v %v %v", resp, outcome, err)
	}
	c.Wait()
	if s := c.Stats(); s.StoreErrors != 3 || s.Writes != 0 { // two reads, one write
		t.Fatalf("stats %+v", s)
	}
	if strings.Join(reported, ",") != "get,get,set" {
		t.Fatalf("reported %v", reported)
	}

	// A corrupt or foreign-version entry is a miss.
	for _, v := range []string{"garbage", `{"v":99,"response":{}}`, `{"v":1}`} {
		c := New(&fakeStore{val: []byte(v)}, Options{})
		if _, ok := c.Lookup(ctx, "k"); ok || c.Stats().StoreErrors != 1 {
			t.Fatalf("%s: hit or not counted", v)
		}
	}

	// A store that hangs is a miss after LookupTimeout.
	c = New(&fakeStore{hang: true}, Options{LookupTimeout: 5 * time.Millisecond})
	start := time.Now()
	if _, ok := c.Lookup(ctx, "k"); ok || time.Since(start) > time.Second || c.Stats().StoreErrors != 1 {
		t.Fatal("hanging store")
	}
	// ... but a caller that went away is not a store error.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	c.Lookup(cctx, "k")
	if c.Stats().StoreErrors != 1 {
		t.Fatal("the caller's cancellation counted as a store error")
	}
}

func TestPutIsBounded(t *testing.T) {
	ctx := context.Background()
	s := &fakeStore{setGate: make(chan struct{})}
	c := New(s, Options{MaxPendingWrites: 2})
	for i := 0; i < 5; i++ {
		c.Put(ctx, "k", answer("x"), 0)
	}
	if st := c.Stats(); st.WritesDropped != 3 {
		t.Fatalf("stats %+v", st)
	}
	close(s.setGate)
	c.Wait()
	if st := c.Stats(); st.Writes != 2 || s.lastTTL != DefaultTTL {
		t.Fatalf("stats %+v ttl %v", st, s.lastTTL)
	}
	// A cancelled request context does not cancel its write.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	m := NewMemory(0)
	c = New(m, Options{})
	c.Put(cctx, "k", answer("x"), time.Minute)
	c.Wait()
	if m.Len() != 1 {
		t.Fatal("write cancelled with the request")
	}
}

// 50 concurrent identical misses: one fill, one Miss, 49 Coalesced, each with
// its own copy; then hits.
func TestDoCoalesces(t *testing.T) {
	ctx := context.Background()
	c := New(NewMemory(0), Options{})
	h := newHeldFill()
	const n = 50
	results := make([]chan doResult, n)
	results[0] = goDo(c, ctx, "k", h.fill)
	<-h.started // the leader's fill runs and is held
	for i := 1; i < n; i++ {
		results[i] = goDo(c, ctx, "k", h.fill)
	}
	waitFor(t, "50 waiters", func() bool { return c.waiting("k") == n })
	close(h.release)

	seen := map[*schema.ChatResponse]bool{}
	count := map[Outcome]int{}
	for _, ch := range results {
		r := <-ch
		if r.err != nil || r.resp == nil || text(r.resp) != "filled" {
			t.Fatalf("%+v", r)
		}
		if seen[r.resp] {
			t.Fatal("two callers share one response object")
		}
		seen[r.resp] = true
		count[r.outcome]++
	}
	if h.calls.Load() != 1 || count[Miss] != 1 || count[Coalesced] != n-1 {
		t.Fatalf("fill called %d times, outcomes %v", h.calls.Load(), count)
	}
	c.Wait()
	r, outcome, err := c.Do(ctx, "k", time.Minute, h.fill)
	if err != nil || outcome != Hit || text(r) != "filled" || h.calls.Load() != 1 {
		t.Fatalf("then: %v %v", outcome, err)
	}
	if s := c.Stats(); s.Misses != 1 || s.Coalesced != n-1 || s.Hits != 1 || s.Writes != 1 {
		t.Fatalf("stats %+v", s)
	}
	if c.waiting("k") != 0 || len(c.flights) != 0 {
		t.Fatal("flight left behind")
	}
}

// A waiter whose context ends returns at once; the shared fill goes on.
func TestDoWaiterCancelled(t *testing.T) {
	c := New(NewMemory(0), Options{})
	h := newHeldFill()
	leader := goDo(c, context.Background(), "k", h.fill)
	fillCtx := <-h.started
	wctx, cancel := context.WithCancel(context.Background())
	waiter := goDo(c, wctx, "k", h.fill)
	waitFor(t, "the waiter", func() bool { return c.waiting("k") == 2 })
	cancel()
	r := <-waiter
	if !errors.Is(r.err, context.Canceled) || r.outcome != Coalesced || r.resp != nil {
		t.Fatalf("waiter %+v", r)
	}
	if fillCtx.Err() != nil || c.waiting("k") != 1 {
		t.Fatal("a waiter's cancellation reached the fill")
	}
	close(h.release)
	if r := <-leader; r.err != nil || r.outcome != Miss || text(r.resp) != "filled" {
		t.Fatalf("leader %+v", r)
	}
}

// The leader's cancellation does not poison the waiters: the fill goes on, the
// waiter gets the answer, and it is stored.
func TestDoLeaderCancelled(t *testing.T) {
	c := New(NewMemory(0), Options{})
	h := newHeldFill()
	type ctxKey struct{}
	lctx, cancel := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "leader"))
	leader := goDo(c, lctx, "k", h.fill)
	fillCtx := <-h.started
	if fillCtx.Value(ctxKey{}) != "leader" {
		t.Fatal("the fill does not see the leader's context values")
	}
	waiter := goDo(c, context.Background(), "k", h.fill)
	waitFor(t, "the waiter", func() bool { return c.waiting("k") == 2 })
	cancel()
	if r := <-leader; !errors.Is(r.err, context.Canceled) || r.outcome != Miss {
		t.Fatalf("leader %+v", r)
	}
	if fillCtx.Err() != nil {
		t.Fatal("the leader's cancellation cancelled the shared fill")
	}
	close(h.release)
	if r := <-waiter; r.err != nil || r.outcome != Coalesced || text(r.resp) != "filled" {
		t.Fatalf("waiter %+v", r)
	}
	c.Wait()
	if _, ok := c.Lookup(context.Background(), "k"); !ok {
		t.Fatal("not stored")
	}
}

// When every caller has gone the fill is cancelled and the key freed: the next
// caller starts a fresh fill instead of inheriting the cancelled one.
func TestDoAllCancelled(t *testing.T) {
	c := New(NewMemory(0), Options{})
	h := newHeldFill()
	ctx1, cancel1 := context.WithCancel(context.Background())
	ctx2, cancel2 := context.WithCancel(context.Background())
	r1 := goDo(c, ctx1, "k", h.fill)
	fillCtx := <-h.started
	r2 := goDo(c, ctx2, "k", h.fill)
	waitFor(t, "the waiter", func() bool { return c.waiting("k") == 2 })
	cancel1()
	<-r1
	if fillCtx.Err() != nil {
		t.Fatal("cancelled while a caller still waits")
	}
	cancel2()
	<-r2
	waitFor(t, "the fill's cancellation", func() bool { return fillCtx.Err() != nil })

	fresh := goDo(c, context.Background(), "k", h.fill)
	<-h.started
	close(h.release)
	if r := <-fresh; r.err != nil || r.outcome != Miss || text(r.resp) != "filled" {
		t.Fatalf("fresh %+v", r)
	}
	c.Wait()
	if h.calls.Load() != 2 {
		t.Fatalf("fill called %d times", h.calls.Load())
	}
	// A caller whose context is already done does not start a fill.
	_, _, err := c.Do(ctx1, "other", time.Minute, h.fill)
	if !errors.Is(err, context.Canceled) || h.calls.Load() != 2 {
		t.Fatal("fill started for a cancelled caller")
	}
}

// Errors and unstorable answers are shared with the callers of the moment,
// never stored: the next call runs fill again.
func TestDoErrorsNotCached(t *testing.T) {
	ctx := context.Background()
	c := New(NewMemory(0), Options{})
	h := newHeldFill()
	boom := errors.New("upstream 500")
	h.resp = func() (*schema.ChatResponse, error) { return nil, boom }
	leader := goDo(c, ctx, "k", h.fill)
	<-h.started
	waiter := goDo(c, ctx, "k", h.fill)
	waitFor(t, "the waiter", func() bool { return c.waiting("k") == 2 })
	close(h.release)
	for _, ch := range []chan doResult{leader, waiter} {
		if r := <-ch; !errors.Is(r.err, boom) || r.resp != nil {
			t.Fatalf("%+v", r)
		}
	}
	calls := 0
	for _, fill := range []func(context.Context) (*schema.ChatResponse, error){
		func(context.Context) (*schema.ChatResponse, error) {
			calls++
			return &schema.ChatResponse{Choices: []schema.Choice{{FinishReason: "error"}}}, nil
		},
		func(context.Context) (*schema.ChatResponse, error) { calls++; return &schema.ChatResponse{}, nil },
		func(context.Context) (*schema.ChatResponse, error) { calls++; return nil, nil },
		func(context.Context) (*schema.ChatResponse, error) { calls++; return answer("ok"), nil },
	} {
		c.Do(ctx, "k", time.Minute, fill)
		c.Wait()
	}
	if _, outcome, _ := c.Do(ctx, "k", time.Minute, h.fill); calls != 4 || outcome != Hit {
		t.Fatalf("calls %d, then %v", calls, outcome)
	}
}

func TestDoFillPanics(t *testing.T) {
	var ops []string
	c := New(NewMemory(0), Options{OnError: func(op string, _ error) { ops = append(ops, op) }})
	_, _, err := c.Do(context.Background(), "k", time.Minute, func(context.Context) (*schema.ChatResponse, error) {
		panic("adapter bug")
	})
	if err == nil || !strings.Contains(err.Error(), "adapter bug") || len(ops) != 1 || ops[0] != "fill" {
		t.Fatalf("err %v ops %v", err, ops)
	}
	c.Wait()
	if len(c.flights) != 0 {
		t.Fatal("flight left behind")
	}
}

func TestTTL(t *testing.T) {
	for s, ok := range map[int]bool{9: false, 10: true, 60: true, 31_536_000: true, 31_536_001: false, -1: false, 0: false} {
		if (ValidTTL(s) == nil) != ok {
			t.Errorf("ValidTTL(%d)", s)
		}
	}
	for s, d := range map[int]time.Duration{0: DefaultTTL, 5: 10 * time.Second, 90: 90 * time.Second, 1 << 40: 31_536_000 * time.Second} {
		if TTL(s) != d {
			t.Errorf("TTL(%d) = %v", s, TTL(s))
		}
	}
	if DefaultTTL != time.Minute {
		t.Fatal("default")
	}
}

func TestEntryEncoding(t *testing.T) {
	at := time.UnixMilli(1_700_000_000_123)
	b, err := EncodeEntry(Entry{Response: answer("x"), StoredAt: at})
	if err != nil {
		t.Fatal(err)
	}
	e, err := DecodeEntry(b)
	if err != nil || !e.StoredAt.Equal(at) || text(e.Response) != "x" || e.Response.Usage.TotalTokens != 7 {
		t.Fatalf("%+v %v", e, err)
	}
	if _, err := EncodeEntry(Entry{}); err == nil {
		t.Fatal("nil response encoded")
	}
	if Hit.String() != "hit" || Miss.String() != "miss" || Coalesced.String() != "coalesced" {
		t.Fatal("outcome names")
	}
}
