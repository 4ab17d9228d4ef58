package batchq

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// sink is a Write callback recording every successful batch; fail, when
// set, decides per call whether it fails.
type sink struct {
	mu      sync.Mutex
	batches [][]int
	calls   int
	fail    func(call int, batch []int) error
	block   chan struct{} // when set, Write waits on it (or ctx)
}

func (s *sink) write(ctx context.Context, batch []int) error {
	if s.block != nil {
		select {
		case <-s.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.fail != nil {
		if err := s.fail(s.calls, batch); err != nil {
			return err
		}
	}
	s.batches = append(s.batches, slices.Clone(batch))
	return nil
}

func (s *sink) sizes() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int
	for _, b := range s.batches {
		out = append(out, len(b))
	}
	return out
}

func (s *sink) rows() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int
	for _, b := range s.batches {
		out = append(out, b...)
	}
	return out
}

func open(t *testing.T, s *sink, opts Options[int]) *Queue[int] {
	t.Helper()
	opts.Write = s.write
	opts.MinBackoff, opts.MaxBackoff = time.Millisecond, 4*time.Millisecond
	q := New(opts)
	t.Cleanup(func() { q.Close(ctxFor(t, 10*time.Second)) })
	return q
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func checkCounts(t *testing.T, q *Queue[int], written, dropped, pending int64) {
	t.Helper()
	if q.Written() != written || q.Dropped() != dropped || q.Pending() != pending {
		t.Errorf("written %d dropped %d pending %d; want %d %d %d",
			q.Written(), q.Dropped(), q.Pending(), written, dropped, pending)
	}
}

func TestBatchesBySizeAndFlush(t *testing.T) {
	s := &sink{}
	q := open(t, s, Options[int]{BatchSize: 10, FlushInterval: time.Hour})
	for i := range 25 {
		if !q.Enqueue(i) {
			t.Fatal("Enqueue refused")
		}
	}
	if err := q.Flush(ctxFor(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := s.sizes(); !slices.Equal(got, []int{10, 10, 5}) {
		t.Errorf("batches %v, want [10 10 5]", got)
	}
	if got := s.rows(); len(got) != 25 || !slices.IsSorted(got) {
		t.Errorf("rows %v: want all, in order", got)
	}
	checkCounts(t, q, 25, 0, 0)
}

func TestBatchesByInterval(t *testing.T) {
	s := &sink{}
	q := open(t, s, Options[int]{BatchSize: 100, FlushInterval: 10 * time.Millisecond})
	q.Enqueue(1)
	waitFor(t, "interval write", func() bool { return q.Written() == 1 })
	if got := s.sizes(); !slices.Equal(got, []int{1}) {
		t.Errorf("batches %v", got)
	}
}

func TestBatchesByBytes(t *testing.T) {
	s := &sink{}
	q := open(t, s, Options[int]{BatchSize: 100, FlushInterval: time.Hour,
		Size: func(v int) int64 { return int64(v) }, MaxBatchBytes: 10})
	for _, v := range []int{4, 4, 4, 1} { // the third row reaches 10 bytes
		q.Enqueue(v)
	}
	if err := q.Flush(ctxFor(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := s.sizes(); !slices.Equal(got, []int{3, 1}) {
		t.Errorf("batches %v, want [3 1]", got)
	}
}

func TestDropsWhenFullAndCounts(t *testing.T) {
	s := &sink{block: make(chan struct{})}
	q := open(t, s, Options[int]{QueueSize: 5, BatchSize: 1, FlushInterval: time.Hour})
	q.Enqueue(0)
	waitFor(t, "the writer stuck on row 0", func() bool { return q.Queued() == 0 })
	start := time.Now()
	accepted := 0
	for i := range 20 {
		if q.Enqueue(i + 1) {
			accepted++
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Enqueue blocked for %v", d)
	}
	if accepted != 5 {
		t.Errorf("accepted %d, want 5", accepted)
	}
	checkCounts(t, q, 0, 15, 6)
	close(s.block)
	if err := q.Flush(ctxFor(t, 10*time.Second)); err != nil {
		t.Errorf("Flush: %v (refused rows are not the writer's losses)", err)
	}
	checkCounts(t, q, 6, 15, 0)
}

func TestMaxQueueBytes(t *testing.T) {
	s := &sink{}
	q := open(t, s, Options[int]{FlushInterval: time.Hour, Size: func(v int) int64 { return int64(v) }, MaxQueueBytes: 10})
	if !q.Enqueue(6) || q.Enqueue(5) || !q.Enqueue(4) {
		t.Error("byte bound not applied")
	}
	if err := q.Flush(ctxFor(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if !q.Enqueue(10) { // written rows free their bytes
		t.Error("bytes not released after the write")
	}
	checkCounts(t, q, 2, 1, 1)
}

func TestFlushAnyDrop(t *testing.T) {
	s := &sink{}
	q := open(t, s, Options[int]{FlushInterval: time.Hour, Flush: FlushAnyDrop, MaxQueueBytes: 1, Size: func(int) int64 { return 2 }})
	q.Enqueue(1)
	if err := q.Flush(ctxFor(t, 10*time.Second)); !errors.Is(err, ErrDropped) {
		t.Errorf("Flush after a refused row = %v, want ErrDropped", err)
	}
	if err := q.Flush(ctxFor(t, 10*time.Second)); err != nil {
		t.Errorf("second Flush = %v, want nil", err)
	}
}

func TestRetriesWithBackoffThenSucceeds(t *testing.T) {
	s := &sink{fail: func(call int, _ []int) error {
		if call <= 3 {
			return errors.New("database down")
		}
		return nil
	}}
	var mu sync.Mutex
	var waits []time.Duration
	var attempts []int
	q := open(t, s, Options[int]{FlushInterval: time.Hour, OnRetry: func(_ error, attempt int, d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		attempts, waits = append(attempts, attempt), append(waits, d)
	}})
	for i := range 3 {
		q.Enqueue(i)
	}
	if err := q.Flush(ctxFor(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	checkCounts(t, q, 3, 0, 0)
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(attempts, []int{1, 2, 3}) {
		t.Errorf("attempts %v", attempts)
	}
	for i, d := range waits {
		if hi := min(time.Millisecond<<i, 4*time.Millisecond); d < hi/2 || d > hi {
			t.Errorf("wait %d = %v, want in [%v, %v]", i, d, hi/2, hi)
		}
	}
}

var errBadRow = errors.New("bad row")

func TestRejectedRowDroppedAlone(t *testing.T) {
	s := &sink{fail: func(_ int, batch []int) error {
		if slices.Contains(batch, 13) {
			return errBadRow
		}
		return nil
	}}
	var rejected []int
	q := open(t, s, Options[int]{FlushInterval: time.Hour,
		Rejected: func(err error) bool { return errors.Is(err, errBadRow) },
		OnReject: func(v int, _ error) { rejected = append(rejected, v) }})
	for _, v := range []int{12, 13, 14} {
		q.Enqueue(v)
	}
	if err := q.Flush(ctxFor(t, 10*time.Second)); !errors.Is(err, ErrDropped) {
		t.Errorf("Flush = %v, want ErrDropped", err)
	}
	if err := q.Flush(ctxFor(t, 10*time.Second)); err != nil {
		t.Errorf("next Flush = %v, want nil", err)
	}
	checkCounts(t, q, 2, 1, 0)
	if !slices.Equal(rejected, []int{13}) || !slices.Equal(s.rows(), []int{12, 14}) {
		t.Errorf("rejected %v written %v", rejected, s.rows())
	}
}

func TestCloseDrainsEverything(t *testing.T) {
	s := &sink{}
	q := open(t, s, Options[int]{BatchSize: 1000, FlushInterval: time.Hour})
	for i := range 123 {
		q.Enqueue(i)
	}
	if st := q.Close(ctxFor(t, 10*time.Second)); st != (CloseStats{}) {
		t.Errorf("Close: %+v", st)
	}
	checkCounts(t, q, 123, 0, 0)
	if q.Enqueue(1) || q.Dropped() != 1 {
		t.Error("Enqueue after Close must drop and count")
	}
	if err := q.Flush(ctxFor(t, time.Second)); !errors.Is(err, ErrClosed) {
		t.Errorf("Flush after Close = %v", err)
	}
	if st := q.Close(ctxFor(t, time.Second)); st != (CloseStats{}) {
		t.Errorf("second Close: %+v", st)
	}
}

func TestCloseDeadlineDropsTheRest(t *testing.T) {
	s := &sink{fail: func(int, []int) error { return errors.New("database down") }}
	q := open(t, s, Options[int]{BatchSize: 3, FlushInterval: time.Hour})
	for i := range 10 {
		q.Enqueue(i)
	}
	start := time.Now()
	st := q.Close(ctxFor(t, 100*time.Millisecond))
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v despite its deadline", d)
	}
	if st != (CloseStats{Dropped: 10, Abandoned: 10}) {
		t.Errorf("Close: %+v, want 10 dropped and abandoned", st)
	}
	checkCounts(t, q, 0, 10, 0)
	if again := q.Close(ctxFor(t, time.Second)); again != st {
		t.Errorf("second Close = %+v, want %+v", again, st)
	}
}

func TestConcurrentUse(t *testing.T) {
	s := &sink{}
	const goroutines, each = 20, 200
	q := open(t, s, Options[int]{QueueSize: goroutines * each, BatchSize: 37, FlushInterval: time.Millisecond})
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				if !q.Enqueue(g*each + i) {
					t.Error("dropped with room in the queue")
				}
				if i%50 == 0 {
					_ = q.Flush(context.Background())
				}
				_ = q.Pending() + q.Written() + q.Dropped()
			}
		})
	}
	wg.Wait()
	if st := q.Close(ctxFor(t, 10*time.Second)); st.Dropped != 0 {
		t.Errorf("Close: %+v", st)
	}
	checkCounts(t, q, goroutines*each, 0, 0)
	got := s.rows()
	slices.Sort(got)
	if len(slices.Compact(got)) != goroutines*each {
		t.Errorf("%d distinct rows written", len(got))
	}
}

// failingSink fails every write while down is set (initially).
func failingSink() (*sink, *atomic.Bool) {
	down := &atomic.Bool{}
	down.Store(true)
	return &sink{fail: func(int, []int) error {
		if down.Load() {
			return errors.New("database down")
		}
		return nil
	}}, down
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// With MaxBuffer the writer keeps taking rows while writes fail and drops
// the oldest past the bound; Flush issued after those drops is clean.
func TestMaxBufferDropsOldestWhileFailing(t *testing.T) {
	s, down := failingSink()
	q := open(t, s, Options[int]{QueueSize: 5, MaxBuffer: 5, BatchSize: 2, FlushInterval: time.Millisecond})
	for i := range 20 {
		if !q.Enqueue(i) {
			t.Fatalf("row %d refused: the writer should keep draining the queue", i)
		}
		waitFor(t, "queue drained", func() bool { return q.Queued() == 0 })
	}
	waitFor(t, "the bound applied", func() bool { return q.Dropped() == 15 })
	down.Store(false)
	if err := q.Flush(ctxFor(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	got := s.rows()
	if !slices.Equal(got, []int{15, 16, 17, 18, 19}) {
		t.Errorf("written %v, want the newest five", got)
	}
	checkCounts(t, q, 5, 15, 0)
}

// Without MaxBuffer a failing writer leaves new rows in the queue, which
// fills up: Enqueue drops the newest, the oldest are kept.
func TestHoldsQueueWhileFailing(t *testing.T) {
	s, down := failingSink()
	q := open(t, s, Options[int]{QueueSize: 3, BatchSize: 1, FlushInterval: time.Millisecond})
	q.Enqueue(0)
	waitFor(t, "row 0 taken", func() bool { return q.Queued() == 0 })
	time.Sleep(20 * time.Millisecond) // several failed attempts
	accepted := 0
	for i := 1; i <= 10; i++ {
		if q.Enqueue(i) {
			accepted++
		}
	}
	if accepted != 3 || q.Dropped() != 7 {
		t.Fatalf("accepted %d dropped %d, want 3 and 7", accepted, q.Dropped())
	}
	down.Store(false)
	if err := q.Flush(ctxFor(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := s.rows(); !slices.Equal(got, []int{0, 1, 2, 3}) {
		t.Errorf("written %v, want the oldest four", got)
	}
}

// FlushSinceLast reports rows the writer dropped since the previous Flush,
// even those settled before this Flush was issued.
func TestFlushSinceLast(t *testing.T) {
	s := &sink{fail: func(_ int, batch []int) error {
		if slices.Contains(batch, 13) {
			return errBadRow
		}
		return nil
	}}
	q := open(t, s, Options[int]{BatchSize: 1, FlushInterval: time.Hour, Flush: FlushSinceLast,
		Rejected: func(err error) bool { return errors.Is(err, errBadRow) }})
	q.Enqueue(13)
	waitFor(t, "row 13 rejected", func() bool { return q.Dropped() == 1 })
	if err := q.Flush(ctxFor(t, 10*time.Second)); !errors.Is(err, ErrDropped) {
		t.Errorf("Flush = %v, want ErrDropped", err)
	}
	if err := q.Flush(ctxFor(t, 10*time.Second)); err != nil {
		t.Errorf("next Flush = %v, want nil", err)
	}
}

// By default a transient error while a rejected batch is written row by
// row backs off and retries; DropOnSplitError drops the row instead.
func TestSplitErrors(t *testing.T) {
	for _, drop := range []bool{false, true} {
		calls := 0
		s := &sink{fail: func(_ int, batch []int) error {
			calls++
			switch {
			case len(batch) > 1:
				return errBadRow
			case batch[0] == 2 && calls < 5:
				return errors.New("connection reset")
			}
			return nil
		}}
		q := open(t, s, Options[int]{FlushInterval: time.Hour, DropOnSplitError: drop,
			Rejected: func(err error) bool { return errors.Is(err, errBadRow) }})
		for i := range 3 {
			q.Enqueue(i)
		}
		err := q.Flush(ctxFor(t, 10*time.Second))
		if drop {
			if !errors.Is(err, ErrDropped) || q.Dropped() != 1 || q.Written() != 2 {
				t.Errorf("DropOnSplitError: Flush %v dropped %d written %d", err, q.Dropped(), q.Written())
			}
			continue
		}
		if err != nil || q.Dropped() != 0 || q.Written() != 3 {
			t.Errorf("Flush %v dropped %d written %d; want nil, 0, 3", err, q.Dropped(), q.Written())
		}
	}
}

func TestOwnerErrors(t *testing.T) {
	errMine := errors.New("mine: closed")
	q := open(t, &sink{}, Options[int]{ErrClosed: errMine})
	q.Close(ctxFor(t, time.Second))
	if err := q.Flush(ctxFor(t, time.Second)); err != errMine {
		t.Errorf("Flush after Close = %v, want the owner's error", err)
	}
}
