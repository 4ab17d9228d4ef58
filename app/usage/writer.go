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
	"fmt"
	"log/slog"
	"time"

	"github.com/llmgw/gateway/app/batchq"
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

	// writeTimeout bounds one batch transaction, so a hung connection
	// turns into a retry instead of a stuck writer. Failed writes back off
	// as batchq's defaults say: 100ms doubling to 10s.
	writeTimeout = 30 * time.Second
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
	q    *batchq.Queue[*models.RequestLog]
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
	w := &Writer{
		opts: opts,
		log:  opts.Logger.With("component", "usage.writer"),
		bw:   newBatchWriter(db, opts.failpoint),
	}
	w.q = batchq.New(batchq.Options[*models.RequestLog]{
		QueueSize:     opts.QueueSize,
		BatchSize:     opts.BatchSize,
		FlushInterval: opts.FlushInterval,
		Write:         w.bw.write,
		WriteTimeout:  writeTimeout,
		Rejected:      store.IsDataError,
		ErrClosed:     ErrClosed,
		ErrDropped:    ErrDropped,
		// While the database fails, keep draining the queue into a second
		// buffer of QueueSize rows and drop the oldest past it: recent usage
		// is worth more, and memory must stay bounded.
		MaxBuffer: opts.QueueSize,
		Flush:     batchq.FlushAhead,
		OnRetry: func(err error, attempt int, wait time.Duration) {
			w.log.Error("usage: writing request logs failed, will retry",
				"err", err, "attempt", attempt, "retry_in", wait, "pending", w.q.Pending())
		},
		OnRecover: func(failures int) {
			w.log.Info("usage: database writes recovered", "failed_attempts", failures)
		},
		OnSplit: func(err error, rows int) {
			w.log.Error("usage: database rejected a batch, writing its rows one by one", "err", err, "rows", rows)
		},
		OnReject: func(row *models.RequestLog, err error) {
			w.log.Error("usage: dropping a request log row the database rejects",
				"log_id", row.ID, "request_id", truncate(row.RequestID, 64), "err", err)
		},
		OnDrops: func(since, total int64, lastErr error) {
			w.log.Warn("usage: request log rows dropped", "since_last_report", since,
				"total", total, "pending", w.q.Pending(), "last_err", errString(lastErr))
		},
		OnAbandon: func(rows int64, lastErr error) {
			w.log.Error("usage: dropping unwritten request logs at shutdown", "rows", rows, "last_err", lastErr)
		},
	})
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
	return w.q.Enqueue(l)
}

// Written is the number of rows persisted (including rows a retry found
// already committed).
func (w *Writer) Written() int64 { return w.q.Written() }

// Dropped is the number of rows lost: rejected by Enqueue (queue full or
// closed), evicted as the oldest while the database was failing, rejected
// by the database as invalid, or abandoned when Close's deadline expired.
func (w *Writer) Dropped() int64 { return w.q.Dropped() }

// Pending is the number of accepted rows not yet written or dropped.
func (w *Writer) Pending() int64 { return w.q.Pending() }

// Flush waits until every row enqueued before the call is written (or
// dropped), writing immediately instead of waiting for a full batch. It
// returns ErrDropped if some of those rows were dropped, ctx's error if it
// expires first (the rows stay queued), ErrClosed after Close.
func (w *Writer) Flush(ctx context.Context) error {
	return w.q.Flush(ctx)
}

// Close stops accepting rows, writes everything still queued and stops the
// writer. If ctx expires first (the shutdown grace period), the remaining
// rows are dropped, counted and reported in the error. Close is idempotent.
func (w *Writer) Close(ctx context.Context) error {
	st := w.q.Close(ctx)
	if st.Abandoned == 0 {
		return nil
	}
	closeErr := fmt.Errorf("usage: shutdown deadline expired with %d request log rows unwritten: %w", st.Abandoned, ErrDropped)
	return errors.Join(closeErr, ctx.Err())
}

// truncate bounds a client-supplied value before it reaches a log line.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
