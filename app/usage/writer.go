// Package usage persists request logs off the request path.
//
// A Writer accepts models.RequestLog rows through Enqueue, which never
// blocks and never touches the database, and a single background goroutine
// writes them in batches. Each batch is one transaction that inserts the
// log rows and adds their totals to the usage_hourly rollups, so the two
// never disagree.
//
// Lifecycle:
//
//	w := usage.New(db, usage.Options{Logger: logger})
//	...
//	w.Enqueue(log) // from request handlers; false = dropped (counted)
//	...
//	w.Close(shutdownCtx) // on shutdown, after the HTTP server stopped
//
// If the database fails, the batch is kept and retried with backoff while
// new rows are still accepted into a bounded buffer; past the bound the
// oldest rows are dropped. Nothing is lost silently: Written, Dropped and
// Pending count every row, and failures are logged (never row contents).
package usage

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmgw/gateway/app/store"
	"github.com/llmgw/gateway/models"
)

// Options tunes a Writer; zero values select the defaults.
type Options struct {
	// QueueSize bounds the rows waiting to be written (default 10000). Up
	// to twice as many rows can be held while the database is down: the
	// queue plus the writer's retry buffer, each bounded by QueueSize.
	QueueSize int
	// BatchSize is the most rows written per transaction (default 500).
	BatchSize int
	// FlushInterval is how long a row may wait for a batch to fill
	// (default 200ms).
	FlushInterval time.Duration
	// Logger receives failures and drop reports (default slog.Default()).
	Logger *slog.Logger

	// failpoint, when set (tests only), is called at each stage of a batch
	// write ("begin", "after-logs", "before-commit", "after-commit") with
	// the batch; an error fails the write at that point.
	failpoint func(stage string, rows []*models.RequestLog) error
}

const (
	defaultQueueSize     = 10000
	defaultBatchSize     = 500
	defaultFlushInterval = 200 * time.Millisecond

	// Retry backoff after a failed write: doubles from minBackoff.
	minBackoff = 100 * time.Millisecond
	maxBackoff = 10 * time.Second
	// writeTimeout bounds one batch transaction, so a hung connection
	// turns into a retry instead of a stuck writer.
	writeTimeout = 30 * time.Second
	// dropReportEvery rate-limits the "rows dropped" warning.
	dropReportEvery = 10 * time.Second
)

// Errors returned by Flush and Close.
var (
	ErrClosed  = errors.New("usage: writer is closed")
	ErrDropped = errors.New("usage: request log rows were dropped (see Writer.Dropped)")
)

// Writer is the asynchronous, batched request-log writer. All methods are
// safe for concurrent use.
type Writer struct {
	opts Options
	log  *slog.Logger
	bw   *batchWriter

	// mu orders Enqueue's send against Close: once closed is set under the
	// write lock, no row can enter q any more, so the final drain is final.
	mu     sync.RWMutex
	closed bool
	q      chan item

	written atomic.Int64
	dropped atomic.Int64
	pending atomic.Int64

	stop      chan struct{} // closed by Close: flush everything and exit
	abort     chan struct{} // closed when Close's ctx expires: give up
	done      chan struct{} // closed when the goroutine has exited
	closeOnce sync.Once
	abortOnce sync.Once
	closeErr  error // set by the goroutine before done is closed

	// ctx is cancelled on abort, interrupting an in-flight write.
	ctx    context.Context
	cancel context.CancelFunc
}

// item is what travels through the queue: a row, or a Flush marker that
// is answered once every row queued before it is written or dropped.
type item struct {
	log   *models.RequestLog
	flush chan error
}

// New starts a Writer on db (which must be migrated). Call Close to stop it.
func New(db *store.DB, opts Options) *Writer {
	if opts.QueueSize <= 0 {
		opts.QueueSize = defaultQueueSize
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = defaultBatchSize
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = defaultFlushInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &Writer{
		opts:   opts,
		log:    opts.Logger.With("component", "usage.writer"),
		bw:     newBatchWriter(db, opts.failpoint),
		q:      make(chan item, opts.QueueSize),
		stop:   make(chan struct{}),
		abort:  make(chan struct{}),
		done:   make(chan struct{}),
		ctx:    ctx,
		cancel: cancel,
	}
	go w.run()
	return w
}

// Enqueue hands l to the writer and returns at once; it never blocks on
// the database or on a full queue. It returns false when the row was
// dropped (queue full or writer closed), which Dropped counts.
//
// Enqueue sets l.ID (NewLogID) and l.CreatedAt (now) when empty. The
// writer owns l afterwards: the caller must not modify it.
func (w *Writer) Enqueue(l *models.RequestLog) bool {
	if l == nil {
		return false
	}
	if l.ID == "" || l.CreatedAt.IsZero() {
		now := time.Now() // one clock read for both: it is most of the cost
		if l.ID == "" {
			l.ID = newLogID(now)
		}
		if l.CreatedAt.IsZero() {
			l.CreatedAt = now.UTC()
		}
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		w.dropped.Add(1)
		return false
	}
	// Count before sending so Pending never goes negative when the
	// goroutine writes the row before this line would have run.
	w.pending.Add(1)
	select {
	case w.q <- item{log: l}:
		return true
	default:
		w.pending.Add(-1)
		w.dropped.Add(1)
		return false
	}
}

// Written is the number of rows persisted (including rows a retry found
// already committed).
func (w *Writer) Written() int64 { return w.written.Load() }

// Dropped is the number of rows lost: rejected by Enqueue (queue full or
// closed), evicted as the oldest while the database was failing, rejected
// by the database as invalid, or abandoned when Close's deadline expired.
func (w *Writer) Dropped() int64 { return w.dropped.Load() }

// Pending is the number of accepted rows not yet written or dropped.
func (w *Writer) Pending() int64 { return w.pending.Load() }

// Flush waits until every row enqueued before the call is written (or
// dropped), writing immediately instead of waiting for a full batch. It
// returns ErrDropped if some of those rows were dropped, ctx's error if it
// expires first (the rows stay queued), ErrClosed after Close.
func (w *Writer) Flush(ctx context.Context) error {
	w.mu.RLock()
	closed := w.closed
	w.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	ch := make(chan error, 1) // buffered: the goroutine never waits on us
	select {
	case w.q <- item{flush: ch}:
	case <-ctx.Done():
		return ctx.Err()
	case <-w.done:
		return ErrClosed
	}
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-w.done:
		select {
		case err := <-ch:
			return err
		default:
			return ErrClosed
		}
	}
}

// Close stops accepting rows, writes everything still queued and stops the
// writer. If ctx expires first (the shutdown grace period), the remaining
// rows are dropped, counted and reported in the error. Close is idempotent.
func (w *Writer) Close(ctx context.Context) error {
	w.closeOnce.Do(func() {
		w.mu.Lock()
		w.closed = true
		w.mu.Unlock()
		close(w.stop)
	})
	select {
	case <-w.done:
	case <-ctx.Done():
		w.abortOnce.Do(func() {
			close(w.abort)
			w.cancel()
		})
		<-w.done // prompt: the in-flight write was cancelled
	}
	w.cancel()
	if w.closeErr != nil {
		return errors.Join(w.closeErr, ctx.Err())
	}
	return nil
}
