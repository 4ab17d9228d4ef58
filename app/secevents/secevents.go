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
	"time"
	"unicode/utf8"

	"gorm.io/gorm/clause"

	"github.com/llmgw/gateway/app/batchq"
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
	q    *batchq.Queue[models.SecurityEvent]

	closeLog sync.Once
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
	w := &Writer{db: db, opts: opts, log: opts.Logger.With("component", "secevents.writer")}
	// Writes time out and back off as batchq's defaults say: 30s, and
	// 100ms doubling to 10s.
	w.q = batchq.New(batchq.Options[models.SecurityEvent]{
		QueueSize:     opts.QueueSize,
		BatchSize:     opts.BatchSize,
		FlushInterval: opts.FlushInterval,
		Write:         w.insert,
		Rejected:      store.IsDataError,
		ErrClosed:     ErrClosed,
		ErrDropped:    ErrDropped,
		// Flush reports every loss, Record's included (see Flush).
		Flush:            batchq.FlushAnyDrop,
		DropOnSplitError: true,
		OnRetry: func(err error, attempt int, wait time.Duration) {
			w.log.Error("secevents: writing security events failed, will retry", "err", err, "attempt", attempt, "retry_in", wait)
		},
		OnSplit: func(err error, rows int) {
			w.log.Error("secevents: database rejected a batch, writing its rows one by one", "err", err, "rows", rows)
		},
		OnReject: func(ev models.SecurityEvent, err error) {
			w.log.Error("secevents: dropping a security event the database rejects", "event_id", ev.ID, "err", err)
		},
		OnDrops: func(since, total int64, _ error) {
			w.log.Warn("secevents: security events dropped", "since_last_report", since, "total", total)
		},
	})
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
	return w.q.Enqueue(ev)
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
func (w *Writer) Written() int64 { return w.q.Written() }
func (w *Writer) Dropped() int64 { return w.q.Dropped() }
func (w *Writer) Pending() int64 { return w.q.Pending() }

// Flush waits until every event queued before the call is written or
// dropped: ErrDropped if any event was dropped since the previous Flush (or
// since New), ctx's
// error if it expires first, ErrClosed after Close.
func (w *Writer) Flush(ctx context.Context) error {
	return w.q.Flush(ctx)
}

// Close stops accepting events and writes what is queued. If ctx expires
// first, the rest is dropped, counted and reported. Idempotent; a nil
// Writer has nothing to close.
func (w *Writer) Close(ctx context.Context) error {
	if w == nil {
		return nil
	}
	n := w.q.Close(ctx).Dropped
	if n == 0 {
		return nil
	}
	w.closeLog.Do(func() { w.log.Error("secevents: security events dropped at shutdown", "count", n) })
	return fmt.Errorf("secevents: %d security events dropped at shutdown: %w", n, ErrDropped)
}

// insert writes rows in one INSERT. It is idempotent: a retry after a
// commit whose reply was lost skips the rows already there.
func (w *Writer) insert(ctx context.Context, rows []models.SecurityEvent) error {
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
