package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/gorm/clause"

	"github.com/llmgw/gateway/app/secretbox"
	"github.com/llmgw/gateway/app/store"
	"github.com/llmgw/gateway/models"
)

// Capture is one completed request to retain. The gateway builds it after the
// response is complete (a stream: after its last event), when the final
// attempt's log id is known.
type Capture struct {
	LogID          string    // request_logs.id of the final upstream attempt
	OrganizationID string    // the API key's organization
	Level          string    // the organization's retention level (keys.Identity.Org); only RetainAll stores
	Days           int       // its retention period; 0: Options.DefaultDays
	CreatedAt      time.Time // when the request started (the log row's created_at); zero: now
	Request        []byte    // request body as the client sent it
	Response       []byte    // response body as the client received it (a stream: its SSE text)
	Tokens         int       // usage.total_tokens, as priced by StorageCost

	requestBytes, responseBytes int // original sizes (set by Writer.Capture)
}

// Options tunes a Writer; zero values select the defaults.
type Options struct {
	// QueueSize bounds the captures waiting to be written (default 1000).
	QueueSize int
	// MaxQueueBytes bounds the payload bytes waiting (default 256 MiB):
	// captures past either bound are dropped and counted.
	MaxQueueBytes int64
	// MaxPayloadBytes is the largest request or response stored (default
	// 32 MiB, the default body limit); a larger one is not stored (its size
	// is), and the API returns it as null.
	MaxPayloadBytes int
	// BatchSize is the most rows per INSERT (default 50); a batch also ends
	// at 16 MiB of payload.
	BatchSize int
	// FlushInterval is how long a capture may wait for a batch to fill
	// (default 500ms).
	FlushInterval time.Duration
	// DefaultDays is the retention period of captures with Days == 0
	// (default DefaultDays).
	DefaultDays int
	// Logger receives failures and drop reports, never payloads.
	Logger *slog.Logger
}

const (
	defaultQueueSize       = 1000
	defaultMaxQueueBytes   = 256 << 20
	defaultMaxPayloadBytes = 32 << 20
	defaultBatchSize       = 50
	defaultFlushInterval   = 500 * time.Millisecond
	maxBatchBytes          = 16 << 20
	writeTimeout           = 30 * time.Second
	minBackoff             = 100 * time.Millisecond
	maxBackoff             = 10 * time.Second
	dropReportEvery        = 10 * time.Second
)

// Errors returned by Flush and Close.
var (
	ErrClosed  = errors.New("retention: writer is closed")
	ErrDropped = errors.New("retention: payloads were dropped (see Writer.Dropped)")
)

// Writer stores captured payloads off the request path: Capture copies and
// queues, one goroutine seals (AES-256-GCM) and inserts them in batches.
// Failed inserts are retried with backoff while the bounded queue absorbs
// new captures; past its bounds captures are dropped, never blocked on.
// All methods are safe for concurrent use; a nil *Writer captures nothing.
type Writer struct {
	db   *store.DB
	box  *secretbox.Box
	opts Options
	log  *slog.Logger

	// mu orders Capture's send against Close (as in app/usage).
	mu     sync.RWMutex
	closed bool
	q      chan item

	queuedBytes atomic.Int64
	written     atomic.Int64
	dropped     atomic.Int64
	pending     atomic.Int64

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error

	// ctx is cancelled when Close's deadline expires, ending retries.
	ctx    context.Context
	cancel context.CancelFunc
}

type item struct {
	c     *Capture
	size  int64
	flush chan error
}

// NewWriter starts a Writer. Call Close on shutdown, after the HTTP server
// (and every stream) has finished.
func NewWriter(db *store.DB, box *secretbox.Box, opts Options) *Writer {
	if opts.QueueSize <= 0 {
		opts.QueueSize = defaultQueueSize
	}
	if opts.MaxQueueBytes <= 0 {
		opts.MaxQueueBytes = defaultMaxQueueBytes
	}
	if opts.MaxPayloadBytes <= 0 {
		opts.MaxPayloadBytes = defaultMaxPayloadBytes
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = defaultBatchSize
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = defaultFlushInterval
	}
	opts.DefaultDays = EffectiveDays(opts.DefaultDays, DefaultDays)
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &Writer{db: db, box: box, opts: opts, log: opts.Logger.With("component", "retention.writer"),
		q: make(chan item, opts.QueueSize), stop: make(chan struct{}), done: make(chan struct{}), ctx: ctx, cancel: cancel}
	go w.run()
	return w
}

// Capture queues c for storage and returns at once; it never touches the
// database. It returns false when nothing is stored: the level is not
// RetainAll or the log id is empty (not counted), or the capture was dropped
// (queue full, closed; counted by Dropped). Request and Response are copied:
// the caller may reuse them (fasthttp recycles request bodies).
func (w *Writer) Capture(c Capture) bool {
	if w == nil || c.Level != RetainAll || c.LogID == "" {
		return false
	}
	cp := c
	cp.Request, cp.requestBytes = w.keep(c.Request)
	cp.Response, cp.responseBytes = w.keep(c.Response)
	if cp.CreatedAt.IsZero() {
		cp.CreatedAt = time.Now()
	}
	it := item{c: &cp, size: int64(len(cp.Request) + len(cp.Response))}
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		w.dropped.Add(1)
		return false
	}
	if w.queuedBytes.Add(it.size) > w.opts.MaxQueueBytes {
		w.queuedBytes.Add(-it.size)
		w.dropped.Add(1)
		return false
	}
	w.pending.Add(1)
	select {
	case w.q <- it:
		return true
	default:
		w.queuedBytes.Add(-it.size)
		w.pending.Add(-1)
		w.dropped.Add(1)
		return false
	}
}

// keep copies a payload, or drops one too large to store (its size is kept).
func (w *Writer) keep(b []byte) ([]byte, int) {
	if len(b) == 0 || len(b) > w.opts.MaxPayloadBytes {
		return nil, len(b)
	}
	return append(make([]byte, 0, len(b)), b...), len(b)
}

// Written, Dropped and Pending count captures stored, lost and in flight.
func (w *Writer) Written() int64 { return w.written.Load() }
func (w *Writer) Dropped() int64 { return w.dropped.Load() }
func (w *Writer) Pending() int64 { return w.pending.Load() }

// Flush waits until every capture queued before the call is written or
// dropped (ErrDropped if some were dropped by the database).
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

// Close stops accepting captures and writes what is queued. If ctx expires
// first, the rest is dropped, counted and reported. Idempotent.
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
		w.cancel()
		<-w.done
	}
	w.cancel()
	return w.closeErr
}

// run is the writer goroutine.
func (w *Writer) run() {
	defer close(w.done)
	var batch []item
	var batchBytes int64
	lostSinceFlush := false
	ticker := time.NewTicker(w.opts.FlushInterval)
	defer ticker.Stop()
	var lastDrops int64
	reportAt := time.Now()

	writeBatch := func() {
		if len(batch) > 0 {
			if w.write(batch) {
				lostSinceFlush = true
			}
			for _, it := range batch {
				w.queuedBytes.Add(-it.size)
			}
			clear(batch)
			batch, batchBytes = batch[:0], 0
		}
	}
	add := func(it item) {
		if it.flush != nil {
			writeBatch()
			if lostSinceFlush {
				it.flush <- ErrDropped
			} else {
				it.flush <- nil
			}
			lostSinceFlush = false
			return
		}
		batch = append(batch, it)
		batchBytes += it.size
		if len(batch) >= w.opts.BatchSize || batchBytes >= maxBatchBytes {
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
				w.log.Warn("retention: payloads dropped", "since_last_report", d-lastDrops, "total", d)
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
				w.closeErr = fmt.Errorf("retention: %d payloads dropped at shutdown: %w", n, ErrDropped)
				w.log.Error("retention: payloads dropped at shutdown", "count", n)
			}
			return
		}
	}
}

// write stores a batch, retrying transient failures with backoff until it
// succeeds or Close gives up; rows the database rejects are dropped one by
// one. It reports whether any row was lost.
func (w *Writer) write(batch []item) (lost bool) {
	rows := make([]models.RequestPayload, 0, len(batch))
	for _, it := range batch {
		row, err := w.seal(it.c)
		if err != nil { // crypto/rand failing: nothing sensible to retry
			w.log.Error("retention: cannot seal a payload", "err", err)
			w.done1(1, true)
			lost = true
			continue
		}
		rows = append(rows, row)
	}
	for attempt := 1; len(rows) > 0; attempt++ {
		err := w.insert(rows)
		if err == nil {
			w.done1(len(rows), false)
			return lost
		}
		if store.IsDataError(err) {
			w.log.Error("retention: database rejected a batch, writing its rows one by one", "err", err, "rows", len(rows))
			for i := range rows {
				if err := w.insert(rows[i : i+1]); err == nil {
					w.done1(1, false)
				} else {
					w.log.Error("retention: dropping a payload the database rejects", "log_id", rows[i].LogID, "err", err)
					w.done1(1, true)
					lost = true
				}
			}
			return lost
		}
		if w.ctx.Err() != nil { // Close gave up
			w.done1(len(rows), true)
			return true
		}
		d := min(minBackoff<<min(attempt-1, 16), maxBackoff)
		d = d/2 + rand.N(d/2+1)
		w.log.Error("retention: writing payloads failed, will retry", "err", err, "attempt", attempt, "retry_in", d)
		select {
		case <-time.After(d):
		case <-w.ctx.Done():
		}
	}
	return lost
}

// done1 settles n captures as written or dropped.
func (w *Writer) done1(n int, dropped bool) {
	w.pending.Add(-int64(n))
	if dropped {
		w.dropped.Add(int64(n))
	} else {
		w.written.Add(int64(n))
	}
}

// insert is idempotent: a retry after a commit whose reply was lost skips
// the rows already there.
func (w *Writer) insert(rows []models.RequestPayload) error {
	ctx, cancel := context.WithTimeout(w.ctx, writeTimeout)
	defer cancel()
	return w.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&rows).Error
}

func (w *Writer) seal(c *Capture) (models.RequestPayload, error) {
	days := EffectiveDays(c.Days, w.opts.DefaultDays)
	created := store.UTC(c.CreatedAt)
	row := models.RequestPayload{LogID: c.LogID, OrganizationID: c.OrganizationID, CreatedAt: created,
		ExpiresAt: created.Add(time.Duration(days) * 24 * time.Hour), Tokens: int64(max(c.Tokens, 0)),
		DataStorageCost: StorageCost(c.Tokens)}
	row.RequestBytes, row.ResponseBytes = int64(c.requestBytes), int64(c.responseBytes)
	var err error
	if row.EncryptedRequest, err = w.sealOne(c.Request); err != nil {
		return row, err
	}
	row.EncryptedResponse, err = w.sealOne(c.Response)
	return row, err
}

// sealOne seals a payload; "" stands for none (empty, or too large to keep:
// then only its size is stored).
func (w *Writer) sealOne(b []byte) (string, error) {
	if len(b) == 0 {
		return "", nil
	}
	return w.box.Seal(string(b))
}
