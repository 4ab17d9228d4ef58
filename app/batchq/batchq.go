// Package batchq is the machinery of an asynchronous, batched writer: the
// request path hands rows to Enqueue, which never blocks, and one goroutine
// writes them in batches through a callback, retrying failed batches with
// backoff.
//
//	q := batchq.New(batchq.Options[Row]{Write: insertRows, Rejected: store.IsDataError})
//	...
//	q.Enqueue(row) // from request handlers; false = dropped (counted)
//	...
//	stats := q.Close(shutdownCtx) // after the HTTP server stopped
//
// Nothing is lost silently: every accepted row ends up in Written or
// Dropped, and Pending counts those in between. The queue does not log;
// its owner reports retries, rejected rows and drops through the On*
// hooks, in its own words and without row contents.
package batchq

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for zero Options fields.
const (
	DefaultQueueSize     = 10000
	DefaultBatchSize     = 200
	DefaultFlushInterval = 500 * time.Millisecond
	DefaultWriteTimeout  = 30 * time.Second
	DefaultMinBackoff    = 100 * time.Millisecond
	DefaultMaxBackoff    = 10 * time.Second
	// dropReportEvery rate-limits OnDrops.
	dropReportEvery = 10 * time.Second
)

// Errors returned by Flush.
var (
	ErrClosed  = errors.New("batchq: queue is closed")
	ErrDropped = errors.New("batchq: rows were dropped")
)

// Options configures a Queue; zero values select the defaults. Write is
// required.
type Options[T any] struct {
	// QueueSize bounds the rows waiting to be written; Enqueue drops past it.
	QueueSize int
	// BatchSize is the most rows passed to one Write.
	BatchSize int
	// FlushInterval is how long a row may wait for its batch to fill.
	FlushInterval time.Duration

	// Write stores one batch, typically in one transaction. It must be
	// idempotent: a commit whose reply was lost is retried. Its ctx carries
	// WriteTimeout and is cancelled when Close gives up.
	Write func(ctx context.Context, batch []T) error
	// WriteTimeout bounds one Write, so a hung connection becomes a retry.
	WriteTimeout time.Duration
	// Rejected reports an error caused by the rows themselves, which no
	// retry can fix: the batch is then written row by row and only the
	// rows still failing are dropped. nil: every error is retried.
	Rejected func(error) bool
	// MinBackoff and MaxBackoff bound the jittered, doubling wait between
	// retries of a failed batch.
	MinBackoff, MaxBackoff time.Duration

	// Size, when set, weighs a row (payload bytes): Enqueue drops a row
	// that would put more than MaxQueueBytes in the queue, and a batch
	// also ends at MaxBatchBytes. Zero limits are unlimited.
	Size          func(T) int64
	MaxQueueBytes int64
	MaxBatchBytes int64

	// MaxBuffer chooses what happens to new rows while a batch keeps
	// failing. 0: the writer waits, so the queue fills and Enqueue drops
	// the newest rows. > 0: the writer keeps taking rows from the queue
	// into its own buffer, and past MaxBuffer rows drops the oldest
	// (recent rows are worth more), so up to QueueSize+MaxBuffer rows
	// survive an outage.
	MaxBuffer int
	// DropOnSplitError drops a row of a rejected batch on any error while
	// the batch is written row by row; by default only rejected rows are
	// dropped and a transient error backs off and retries the rest.
	DropOnSplitError bool
	// Flush chooses when Flush reports ErrDropped.
	Flush FlushPolicy
	// ErrClosed and ErrDropped replace the errors of the same names as
	// Flush's results, so an owner keeps its own exported error values.
	ErrClosed, ErrDropped error

	// Hooks, all optional, called from the writer goroutine.
	OnRetry   func(err error, attempt int, wait time.Duration) // a batch failed, retried after wait
	OnRecover func(failures int)                               // a write succeeded after failures
	OnSplit   func(err error, rows int)                        // a batch was rejected, written row by row
	OnReject  func(row T, err error)                           // a row was rejected and dropped
	OnDrops   func(sinceLast, total int64, lastErr error)      // rows were dropped (rate-limited)
	OnAbandon func(rows int64, lastErr error)                  // Close gave up on rows unwritten
}

// FlushPolicy chooses what makes Flush return ErrDropped.
type FlushPolicy int

const (
	// FlushAhead: some of the rows still unwritten when Flush was called
	// were dropped.
	FlushAhead FlushPolicy = iota
	// FlushSinceLast: the writer dropped rows since the previous Flush
	// was answered.
	FlushSinceLast
	// FlushAnyDrop: Dropped changed since the previous Flush was
	// answered, rows refused by Enqueue included.
	FlushAnyDrop
)

// CloseStats is what Close reports.
type CloseStats struct {
	// Dropped counts the rows dropped from the moment Close was called:
	// rejected by Write, refused by Enqueue, or abandoned.
	Dropped int64
	// Abandoned counts the rows still unwritten when Close's ctx expired.
	Abandoned int64
}

// Queue is an asynchronous, batched writer of T. All methods are safe for
// concurrent use.
type Queue[T any] struct {
	opts Options[T]

	// mu orders Enqueue's send against Close: once closed is set under the
	// write lock no row can enter in any more, so the final drain is final.
	mu     sync.RWMutex
	closed bool
	in     chan item[T]

	queuedBytes atomic.Int64
	written     atomic.Int64
	dropped     atomic.Int64
	pending     atomic.Int64

	stop           chan struct{} // closed by Close: write everything and exit
	done           chan struct{} // closed when the goroutine has exited
	closeOnce      sync.Once
	droppedAtClose int64      // Dropped() when Close was called; set before stop is closed
	stats          CloseStats // set by the goroutine before done is closed

	// ctx is cancelled when Close's deadline expires: it interrupts the
	// in-flight Write and makes the goroutine give up.
	ctx    context.Context
	cancel context.CancelFunc
}

// item is a row, or a Flush marker answered once every row queued before
// it is written or dropped.
type item[T any] struct {
	v     T
	size  int64
	flush chan error
}

// state is owned by the writer goroutine; nothing else touches it.
type state[T any] struct {
	buf      []item[T] // FIFO: taken from in, not yet written
	bufBytes int64
	rows     []T      // scratch for the batch handed to Write
	waiters  []waiter // Flush calls, in queue order
	due      bool     // FlushInterval elapsed: write even a partial batch
	closing  bool     // Close called: write everything, then exit

	failures   int       // consecutive failed writes
	retryAt    time.Time // no write before this (backoff)
	lastErr    error
	lostRows   bool  // the writer dropped rows since the last Flush answer
	flushDrops int64 // Dropped() at the last Flush answer
	lastDrops  int64 // Dropped() at the last OnDrops
	reportAt   time.Time
}

// waiter is a Flush call, answered once the ahead rows before it in buf
// are written or dropped.
type waiter struct {
	ahead int
	lost  bool // some of those rows were dropped
	ch    chan error
}

// New starts a Queue. Call Close to stop it.
func New[T any](opts Options[T]) *Queue[T] {
	if opts.Write == nil {
		panic("batchq: Options.Write is nil") // a programming error
	}
	opts.QueueSize = orDefault(opts.QueueSize, DefaultQueueSize)
	opts.BatchSize = orDefault(opts.BatchSize, DefaultBatchSize)
	opts.FlushInterval = orDefault(opts.FlushInterval, DefaultFlushInterval)
	opts.WriteTimeout = orDefault(opts.WriteTimeout, DefaultWriteTimeout)
	opts.MinBackoff = orDefault(opts.MinBackoff, DefaultMinBackoff)
	opts.MaxBackoff = orDefault(opts.MaxBackoff, DefaultMaxBackoff)
	if opts.ErrClosed == nil {
		opts.ErrClosed = ErrClosed
	}
	if opts.ErrDropped == nil {
		opts.ErrDropped = ErrDropped
	}
	ctx, cancel := context.WithCancel(context.Background())
	q := &Queue[T]{opts: opts, in: make(chan item[T], opts.QueueSize),
		stop: make(chan struct{}), done: make(chan struct{}), ctx: ctx, cancel: cancel}
	go q.run()
	return q
}

func orDefault[N int | int64 | time.Duration](v, def N) N {
	if v <= 0 {
		return def
	}
	return v
}

// Enqueue queues v and returns at once; it never blocks. It returns false
// when v was dropped (queue full, over MaxQueueBytes, or closed), which
// Dropped counts.
func (q *Queue[T]) Enqueue(v T) bool {
	it := item[T]{v: v}
	if q.opts.Size != nil {
		it.size = q.opts.Size(v)
	}
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		q.dropped.Add(1)
		return false
	}
	if max := q.opts.MaxQueueBytes; max > 0 && q.queuedBytes.Add(it.size) > max {
		q.queuedBytes.Add(-it.size)
		q.dropped.Add(1)
		return false
	}
	// Count before sending so Pending never goes negative when the
	// goroutine writes the row before this line would have run.
	q.pending.Add(1)
	select {
	case q.in <- it:
		return true
	default:
		q.queuedBytes.Add(-it.size)
		q.pending.Add(-1)
		q.dropped.Add(1)
		return false
	}
}

// Written is the number of rows Write stored.
func (q *Queue[T]) Written() int64 { return q.written.Load() }

// Dropped is the number of rows lost: refused by Enqueue, rejected by
// Write, or abandoned when Close's deadline expired.
func (q *Queue[T]) Dropped() int64 { return q.dropped.Load() }

// Pending is the number of accepted rows not yet written or dropped.
func (q *Queue[T]) Pending() int64 { return q.pending.Load() }

// Queued is the number of rows and Flush markers still in the channel,
// not yet taken by the writer goroutine (for tests and metrics).
func (q *Queue[T]) Queued() int { return len(q.in) }

// Flush waits until every row enqueued before the call is written or
// dropped, writing a partial batch at once. It returns ErrDropped when
// rows were lost (see Options.Flush), ctx's error if it expires first (the
// rows stay queued), and ErrClosed after Close.
func (q *Queue[T]) Flush(ctx context.Context) error {
	q.mu.RLock()
	closed := q.closed
	q.mu.RUnlock()
	if closed {
		return q.opts.ErrClosed
	}
	ch := make(chan error, 1) // buffered: the goroutine never waits on us
	select {
	case q.in <- item[T]{flush: ch}:
	case <-ctx.Done():
		return ctx.Err()
	case <-q.done:
		return q.opts.ErrClosed
	}
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-q.done:
		select { // answered while the goroutine exited
		case err := <-ch:
			return err
		default:
			return q.opts.ErrClosed
		}
	}
}

// Close stops accepting rows, writes everything queued and stops the
// writer. If ctx expires first, the in-flight write is cancelled and the
// remaining rows are dropped (Abandoned). It returns the same stats on
// every call.
func (q *Queue[T]) Close(ctx context.Context) CloseStats {
	q.closeOnce.Do(func() {
		q.mu.Lock()
		q.closed = true
		q.droppedAtClose = q.dropped.Load()
		q.mu.Unlock()
		close(q.stop)
	})
	select {
	case <-q.done:
	case <-ctx.Done():
		q.cancel()
		<-q.done // prompt: the in-flight write was cancelled
	}
	q.cancel()
	return q.stats
}

// run is the writer goroutine.
func (q *Queue[T]) run() {
	defer close(q.done)
	st := &state[T]{}
	ticker := time.NewTicker(q.opts.FlushInterval)
	defer ticker.Stop()
	retry := time.NewTimer(0)
	<-retry.C
	stop := q.stop
	for {
		in := q.in
		if q.holding(st) {
			in = nil // a nil channel is never ready: leave rows in the queue
		} else {
			q.drain(st)
		}
		if st.closing && len(st.buf) == 0 && len(q.in) == 0 {
			// closed is set: nothing new can enter in, so this is final.
			q.stats.Dropped = q.dropped.Load() - q.droppedAtClose
			return
		}
		if q.shouldWrite(st) && !time.Now().Before(st.retryAt) {
			q.writeHead(st)
			if st.failures > 0 {
				retry.Reset(time.Until(st.retryAt))
			}
			// Under sustained load the loop may not reach the select (and
			// its ticker) for a while, yet that is when rows drop.
			q.reportDrops(st)
			continue
		}
		select {
		case it := <-in:
			q.add(st, it)
		case <-ticker.C:
			st.due = len(st.buf) > 0
			q.reportDrops(st)
		case <-retry.C:
			// retryAt has passed; the loop re-evaluates.
		case <-stop:
			st.closing = true
			stop = nil
		case <-q.ctx.Done():
			q.giveUp(st)
			q.stats.Dropped = q.dropped.Load() - q.droppedAtClose
			return
		}
	}
}

// holding: with no MaxBuffer, a failing writer leaves new rows queued.
func (q *Queue[T]) holding(st *state[T]) bool {
	return q.opts.MaxBuffer == 0 && st.failures > 0
}

// shouldWrite: a full batch is always written; a partial one once the
// interval elapsed, a Flush waits, or Close was called.
func (q *Queue[T]) shouldWrite(st *state[T]) bool {
	n := len(st.buf)
	full := n >= q.opts.BatchSize || (q.opts.MaxBatchBytes > 0 && st.bufBytes >= q.opts.MaxBatchBytes)
	return full || (n > 0 && (st.due || st.closing || len(st.waiters) > 0))
}

// drain moves up to a batch of queued items into the state without
// blocking, so a busy queue fills whole batches instead of one select per
// row.
func (q *Queue[T]) drain(st *state[T]) {
	for range q.opts.BatchSize {
		select {
		case it := <-q.in:
			q.add(st, it)
		default:
			return
		}
	}
}

func (q *Queue[T]) add(st *state[T], it item[T]) {
	if it.flush != nil {
		if len(st.buf) == 0 {
			it.flush <- q.flushResult(st, false)
			return
		}
		st.waiters = append(st.waiters, waiter{ahead: len(st.buf), ch: it.flush})
		return
	}
	st.buf = append(st.buf, it)
	st.bufBytes += it.size
	// Keep memory bounded while writes fail: past MaxBuffer, drop the oldest.
	if over := len(st.buf) - q.opts.MaxBuffer; q.opts.MaxBuffer > 0 && over > 0 {
		q.complete(st, over, true)
	}
}

// writeHead writes the first batch of buf. When Rejected says the rows
// themselves are at fault it writes them one by one and drops only the
// rejected ones; on any other error it keeps the rows and backs off.
func (q *Queue[T]) writeHead(st *state[T]) {
	n, bytes := 0, int64(0)
	for n < len(st.buf) && n < q.opts.BatchSize &&
		(q.opts.MaxBatchBytes <= 0 || bytes < q.opts.MaxBatchBytes) {
		bytes += st.buf[n].size
		n++
	}
	st.rows = st.rows[:0]
	for _, it := range st.buf[:n] {
		st.rows = append(st.rows, it.v)
	}
	rows := st.rows
	defer clear(rows) // drop references so the GC can have the rows
	err := q.call(rows)
	switch {
	case err == nil:
		q.succeeded(st, n)
	case q.opts.Rejected != nil && q.opts.Rejected(err):
		q.writeOneByOne(st, rows, err)
	default:
		q.failed(st, err)
	}
}

// writeOneByOne isolates the rows a rejected batch was rejected for, so one
// bad row does not cost its whole batch.
func (q *Queue[T]) writeOneByOne(st *state[T], rows []T, err error) {
	if q.opts.OnSplit != nil {
		q.opts.OnSplit(err, len(rows))
	}
	for i := range rows {
		err := q.call(rows[i : i+1])
		switch {
		case err == nil:
			q.succeeded(st, 1)
		case q.opts.DropOnSplitError || (q.opts.Rejected != nil && q.opts.Rejected(err)):
			if q.opts.OnReject != nil {
				q.opts.OnReject(rows[i], err)
			}
			q.complete(st, 1, true)
		default:
			q.failed(st, err) // the rest stays at the head of buf
			return
		}
	}
}

func (q *Queue[T]) call(rows []T) error {
	ctx, cancel := context.WithTimeout(q.ctx, q.opts.WriteTimeout)
	defer cancel()
	return q.opts.Write(ctx, rows)
}

func (q *Queue[T]) succeeded(st *state[T], n int) {
	if st.failures > 0 && q.opts.OnRecover != nil {
		q.opts.OnRecover(st.failures)
	}
	st.failures, st.retryAt, st.lastErr = 0, time.Time{}, nil
	q.written.Add(int64(n))
	q.complete(st, n, false)
	if len(st.buf) == 0 {
		st.due = false
	}
}

func (q *Queue[T]) failed(st *state[T], err error) {
	st.failures++
	st.lastErr = err
	d := q.backoff(st.failures)
	st.retryAt = time.Now().Add(d)
	if q.ctx.Err() != nil {
		return // Close gave up: the in-flight write was cancelled on purpose
	}
	if q.opts.OnRetry != nil {
		q.opts.OnRetry(err, st.failures, d)
	}
}

// backoff doubles from MinBackoff up to MaxBackoff, with jitter so that
// replicas do not retry in step.
func (q *Queue[T]) backoff(attempt int) time.Duration {
	d := min(q.opts.MinBackoff<<min(attempt-1, 16), q.opts.MaxBackoff)
	return d/2 + rand.N(d/2+1)
}

// complete removes n rows from the head of buf as written (dropped=false)
// or dropped, updating counters and answering the Flush calls they block.
func (q *Queue[T]) complete(st *state[T], n int, dropped bool) {
	var bytes int64
	for _, it := range st.buf[:n] {
		bytes += it.size
	}
	m := copy(st.buf, st.buf[n:])
	clear(st.buf[m:]) // drop stale references so the GC can have the rows
	st.buf = st.buf[:m]
	st.bufBytes -= bytes
	q.queuedBytes.Add(-bytes)
	q.pending.Add(-int64(n))
	if dropped {
		q.dropped.Add(int64(n))
		st.lostRows = true
	}
	kept := st.waiters[:0]
	for _, wt := range st.waiters {
		wt.lost = wt.lost || dropped
		wt.ahead -= n
		if wt.ahead > 0 {
			kept = append(kept, wt)
			continue
		}
		wt.ch <- q.flushResult(st, wt.lost)
	}
	clear(st.waiters[len(kept):])
	st.waiters = kept
}

// flushResult is the answer of a Flush whose rows are settled; lost: some
// of the rows ahead of it were dropped.
func (q *Queue[T]) flushResult(st *state[T], lost bool) error {
	d := q.dropped.Load()
	switch q.opts.Flush {
	case FlushSinceLast:
		lost = st.lostRows
	case FlushAnyDrop:
		lost = d != st.flushDrops
	}
	st.lostRows, st.flushDrops = false, d
	if lost {
		return q.opts.ErrDropped
	}
	return nil
}

// giveUp runs when Close's deadline expired: every row still held or
// queued is dropped and counted, and every Flush answered.
func (q *Queue[T]) giveUp(st *state[T]) {
	n := int64(len(st.buf))
	q.complete(st, len(st.buf), true)
	for len(q.in) > 0 { // closed is set: nothing new can arrive
		it := <-q.in
		if it.flush != nil {
			it.flush <- q.opts.ErrDropped
			continue
		}
		n++
		q.queuedBytes.Add(-it.size)
		q.pending.Add(-1)
		q.dropped.Add(1)
	}
	q.stats.Abandoned = n
	if n > 0 && q.opts.OnAbandon != nil {
		q.opts.OnAbandon(n, st.lastErr)
	}
}

// reportDrops calls OnDrops at most every dropReportEvery: Enqueue itself
// must stay silent and fast.
func (q *Queue[T]) reportDrops(st *state[T]) {
	d := q.dropped.Load()
	if d == st.lastDrops || time.Now().Before(st.reportAt) {
		return
	}
	if q.opts.OnDrops != nil {
		q.opts.OnDrops(d-st.lastDrops, d, st.lastErr)
	}
	st.lastDrops, st.reportAt = d, time.Now().Add(dropReportEvery)
}
