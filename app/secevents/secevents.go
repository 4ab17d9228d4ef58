// Package secevents persists Security Events (the seed's log of guardrail
// violations) off the request path.
//
// Record copies an event into a bounded queue and returns at once: it never
// blocks and never touches the database. One goroutine writes the queue in
// batches (one INSERT per batch). When the queue is full (the database is
// slow or down) events are dropped and counted, never waited for. Failed
// writes are retried with backoff; rows the database rejects are written one
// by one and only those dropped.
//
//	w := secevents.New(db, secevents.Options{Logger: log})
//	...
//	w.RecordViolations(base, result.Violations) // from request handlers
//	...
//	w.Close(shutdownCtx) // on shutdown, after the HTTP server stopped
//
// A nil *Writer records nothing, so callers need no "enabled" check.
package secevents

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"gorm.io/gorm/clause"

	"github.com/llmgw/gateway/app/guardrails"
	"github.com/llmgw/gateway/app/store"
	"github.com/llmgw/gateway/models"
)

// Actions are the stored (and listed) actions, as the seed's Security Events
// page names them.
var Actions = []string{"blocked", "redacted", "warned"}

// NormalizeAction maps a rule action (guardrails.ActionBlock, ...) to the
// action taken as stored ("blocked", ...); other values are returned as is.
func NormalizeAction(a string) string {
	switch a {
	case guardrails.ActionBlock:
		return "blocked"
	case guardrails.ActionRedact:
		return "redacted"
	case guardrails.ActionWarn:
		return "warned"
	}
	return a
}

// FromViolation is the event of one violation: base carries where it
// happened (OrganizationID, ProjectID, APIKeyID, RequestID, Model, Endpoint,
// optionally CreatedAt), v what happened.
func FromViolation(base models.SecurityEvent, v guardrails.Violation) models.SecurityEvent {
	ev := base
	ev.ID = ""
	ev.Category, ev.Entity, ev.Action, ev.Rule, ev.Match, ev.MessageIndex =
		v.Category, v.Entity, NormalizeAction(v.Action), v.Rule, v.Match, v.MessageIndex
	return ev
}

// Options tunes a Writer; zero values select the defaults.
type Options struct {
	// QueueSize bounds the events waiting to be written (default 10000);
	// events past it are dropped and counted.
	QueueSize int
	// BatchSize is the most rows per INSERT (default 200).
	BatchSize int
	// FlushInterval is how long an event may wait for a batch to fill
	// (default 500ms).
	FlushInterval time.Duration
	// Logger receives failures and drop reports (never matched text).
	Logger *slog.Logger

	// insert replaces the database insert (tests only).
	insert func(ctx context.Context, rows []models.SecurityEvent) error
}

const (
	defaultQueueSize     = 10000
	defaultBatchSize     = 200
	defaultFlushInterval = 500 * time.Millisecond
	writeTimeout         = 30 * time.Second
	minBackoff           = 100 * time.Millisecond
	maxBackoff           = 10 * time.Second
	dropReportEvery      = 10 * time.Second

	// Field bounds: the engine already clips matches and rule names; these
	// only keep a hostile request id or model name from bloating a row.
	maxIDLen    = 256
	maxTextLen  = 1024
	maxMatchLen = 512
)

// Errors returned by Flush and Close.
var (
	ErrClosed  = errors.New("secevents: writer is closed")
	ErrDropped = errors.New("secevents: security events were dropped (see Writer.Dropped)")
)

// Writer is the asynchronous, batched security event writer. All methods
// are safe for concurrent use.
type Writer struct {
	db   *store.DB
	opts Options
	log  *slog.Logger

	// mu orders Record's send against Close (as in app/usage): once closed
	// is set under the write lock, nothing can enter q any more.
	mu     sync.RWMutex
	closed bool
	q      chan item

	written atomic.Int64
	dropped atomic.Int64
	pending atomic.Int64

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error

	// ctx is cancelled when Close's deadline expires, ending retries.
	ctx    context.Context
	cancel context.CancelFunc
}

type item struct {
	ev    *models.SecurityEvent
	flush chan error
}

// New starts a Writer on db (migrated). Call Close on shutdown.
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
	w := &Writer{db: db, opts: opts, log: opts.Logger.With("component", "secevents.writer"),
		q: make(chan item, opts.QueueSize), stop: make(chan struct{}), done: make(chan struct{}), ctx: ctx, cancel: cancel}
	go w.run()
	return w
}

// Record queues ev and returns at once. It sets ID and CreatedAt (now) when
// empty, stores the action as blocked/redacted/warned (block, redact and
// warn are converted) and bounds the text fields. It returns false when the
// event was dropped (queue full or writer closed; counted by Dropped), or
// for a nil Writer.
func (w *Writer) Record(ev models.SecurityEvent) bool {
	if w == nil {
		return false
	}
	now := time.Now()
	if ev.ID == "" {
		ev.ID = NewID(now)
	}
	if ev.CreatedAt.IsZero() {
		ev.CreatedAt = now
	}
	ev.CreatedAt = store.UTC(ev.CreatedAt)
	ev.Action = NormalizeAction(ev.Action)
	ev.OrganizationID, ev.ProjectID, ev.APIKeyID = clean(ev.OrganizationID, maxIDLen), clean(ev.ProjectID, maxIDLen), clean(ev.APIKeyID, maxIDLen)
	ev.RequestID, ev.Category, ev.Entity = clean(ev.RequestID, maxIDLen), clean(ev.Category, maxIDLen), clean(ev.Entity, maxTextLen)
	ev.Action, ev.Rule, ev.Match = clean(ev.Action, maxIDLen), clean(ev.Rule, maxTextLen), clean(ev.Match, maxMatchLen)
	ev.Model, ev.Endpoint = clean(ev.Model, maxTextLen), clean(ev.Endpoint, maxIDLen)

	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		w.dropped.Add(1)
		return false
	}
	w.pending.Add(1)
	select {
	case w.q <- item{ev: &ev}:
		return true
	default:
		w.pending.Add(-1)
		w.dropped.Add(1)
		return false
	}
}

// RecordViolations records one event per violation (see FromViolation) and
// returns how many were queued. Call it with every Result that has
// violations, blocked or not.
func (w *Writer) RecordViolations(base models.SecurityEvent, vs []guardrails.Violation) int {
	if w == nil {
		return 0
	}
	if base.CreatedAt.IsZero() {
		base.CreatedAt = time.Now() // one time for the request's events
	}
	n := 0
	for _, v := range vs {
		if w.Record(FromViolation(base, v)) {
			n++
		}
	}
	return n
}

// Written, Dropped and Pending count events stored, lost and in flight.
func (w *Writer) Written() int64 { return w.written.Load() }
func (w *Writer) Dropped() int64 { return w.dropped.Load() }
func (w *Writer) Pending() int64 { return w.pending.Load() }

// Flush waits until every event queued before the call is written or
// dropped: ErrDropped if any event was dropped since the previous Flush (or
// since New), ctx's
// error if it expires first, ErrClosed after Close.
func (w *Writer) Flush(ctx context.Context) error {
	w.mu.RLock()
	closed := w.closed
	w.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	ch := make(chan error, 1)
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
		return ErrClosed
	}
}

// Close stops accepting events and writes what is queued. If ctx expires
// first, the rest is dropped, counted and reported. Idempotent; a nil
// Writer has nothing to close.
func (w *Writer) Close(ctx context.Context) error {
	if w == nil {
		return nil
	}
	w.closeOnce.Do(func() {
		w.mu.Lock()
		w.closed = true
		w.mu.Unlock()
		close(w.stop)
	})
	select {
	case <-w.done:
	case <-ctx.Done():
		w.cancel()
		<-w.done
	}
	w.cancel()
	return w.closeErr
}

// run is the writer goroutine.
func (w *Writer) run() {
	defer close(w.done)
	batch := make([]models.SecurityEvent, 0, w.opts.BatchSize)
	var flushDrops int64 // Dropped() at the previous Flush
	ticker := time.NewTicker(w.opts.FlushInterval)
	defer ticker.Stop()
	var lastDrops int64
	reportAt := time.Now()

	writeBatch := func() {
		if len(batch) > 0 {
			w.write(batch)
			clear(batch)
			batch = batch[:0]
		}
	}
	add := func(it item) {
		if it.flush != nil {
			writeBatch()
			// Every loss (queue full at Record, rejected by the database,
			// abandoned) is in Dropped.
			if d := w.dropped.Load(); d != flushDrops {
				flushDrops = d
				it.flush <- ErrDropped
			} else {
				it.flush <- nil
			}
			return
		}
		batch = append(batch, *it.ev)
		if len(batch) >= w.opts.BatchSize {
			writeBatch()
		}
	}
	for {
		select {
		case it := <-w.q:
			add(it)
		case <-ticker.C:
			writeBatch()
			if d := w.dropped.Load(); d != lastDrops && time.Now().After(reportAt) {
				w.log.Warn("secevents: security events dropped", "since_last_report", d-lastDrops, "total", d)
				lastDrops, reportAt = d, time.Now().Add(dropReportEvery)
			}
		case <-w.stop:
			// closed is set: nothing new can enter q, so this drain is final.
			before := w.dropped.Load()
			for drained := false; !drained; {
				select {
				case it := <-w.q:
					add(it)
				default:
					drained = true
				}
			}
			writeBatch()
			if n := w.dropped.Load() - before; n > 0 {
				w.closeErr = fmt.Errorf("secevents: %d security events dropped at shutdown: %w", n, ErrDropped)
				w.log.Error("secevents: security events dropped at shutdown", "count", n)
			}
			return
		}
	}
}

// write stores a batch, retrying transient failures with backoff until it
// succeeds or Close gives up; rows the database rejects are dropped one by
// one.
func (w *Writer) write(rows []models.SecurityEvent) {
	for attempt := 1; ; attempt++ {
		err := w.insert(rows)
		if err == nil {
			w.settle(len(rows), false)
			return
		}
		if store.IsDataError(err) {
			w.log.Error("secevents: database rejected a batch, writing its rows one by one", "err", err, "rows", len(rows))
			for i := range rows {
				if err := w.insert(rows[i : i+1]); err == nil {
					w.settle(1, false)
				} else {
					w.log.Error("secevents: dropping a security event the database rejects", "event_id", rows[i].ID, "err", err)
					w.settle(1, true)
				}
			}
			return
		}
		if w.ctx.Err() != nil { // Close gave up
			w.settle(len(rows), true)
			return
		}
		d := min(minBackoff<<min(attempt-1, 16), maxBackoff)
		d = d/2 + rand.N(d/2+1)
		w.log.Error("secevents: writing security events failed, will retry", "err", err, "attempt", attempt, "retry_in", d)
		select {
		case <-time.After(d):
		case <-w.ctx.Done():
		}
	}
}

// settle accounts n events as written or dropped.
func (w *Writer) settle(n int, dropped bool) {
	w.pending.Add(-int64(n))
	if dropped {
		w.dropped.Add(int64(n))
	} else {
		w.written.Add(int64(n))
	}
}

// insert is idempotent: a retry after a commit whose reply was lost skips
// the rows already there.
func (w *Writer) insert(rows []models.SecurityEvent) error {
	ctx, cancel := context.WithTimeout(w.ctx, writeTimeout)
	defer cancel()
	if w.opts.insert != nil {
		return w.opts.insert(ctx, rows)
	}
	return w.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&rows).Error
}

// NewID returns a new security event id: "sev_", 12 hex digits of Unix
// milliseconds, then 20 random hex digits. Ids of one period sort together,
// so inserts land at the right edge of the primary key B-tree.
func NewID(now time.Time) string {
	var raw [16]byte
	binary.BigEndian.PutUint64(raw[0:8], uint64(now.UnixMilli())<<16|uint64(rand.Uint32()&0xffff))
	binary.BigEndian.PutUint64(raw[8:16], rand.Uint64())
	var out [4 + 32]byte
	copy(out[:], "sev_")
	hex.Encode(out[4:], raw[:])
	return string(out[:])
}

// clean makes s storable on both databases: valid UTF-8 without NUL (which
// PostgreSQL TEXT refuses), at most max bytes (cut at a rune boundary).
func clean(s string, max int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return s
}
