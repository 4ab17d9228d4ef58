package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"gorm.io/gorm/clause"

	"github.com/llmgw/gateway/app/batchq"
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

	requestBytes, responseBytes int                    // original sizes (set by Writer.Capture)
	sealed                      *models.RequestPayload // set by the writer goroutine once sealed
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
	q    *batchq.Queue[*Capture]

	closeLog sync.Once
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
	w := &Writer{db: db, box: box, opts: opts, log: opts.Logger.With("component", "retention.writer")}
	// Writes time out and back off as batchq's defaults say: 30s, and
	// 100ms doubling to 10s.
	w.q = batchq.New(batchq.Options[*Capture]{
		QueueSize:     opts.QueueSize,
		BatchSize:     opts.BatchSize,
		FlushInterval: opts.FlushInterval,
		Write:         w.write,
		Rejected:      func(err error) bool { return errors.Is(err, errSeal) || store.IsDataError(err) },
		ErrClosed:     ErrClosed,
		ErrDropped:    ErrDropped,
		Size:          func(c *Capture) int64 { return int64(len(c.Request) + len(c.Response)) },
		MaxQueueBytes: opts.MaxQueueBytes,
		MaxBatchBytes: maxBatchBytes,
		// As before the shared queue: Flush reports what the database
		// dropped since the previous Flush, and a row failing in any way
		// while a rejected batch is written row by row is dropped.
		Flush:            batchq.FlushSinceLast,
		DropOnSplitError: true,
		OnRetry: func(err error, attempt int, wait time.Duration) {
			w.log.Error("retention: writing payloads failed, will retry", "err", err, "attempt", attempt, "retry_in", wait)
		},
		OnSplit: func(err error, rows int) {
			if !errors.Is(err, errSeal) {
				w.log.Error("retention: database rejected a batch, writing its rows one by one", "err", err, "rows", rows)
			}
		},
		OnReject: func(c *Capture, err error) {
			if errors.Is(err, errSeal) {
				w.log.Error("retention: cannot seal a payload", "err", err)
				return
			}
			w.log.Error("retention: dropping a payload the database rejects", "log_id", c.LogID, "err", err)
		},
		OnDrops: func(since, total int64, _ error) {
			w.log.Warn("retention: payloads dropped", "since_last_report", since, "total", total)
		},
	})
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
	return w.q.Enqueue(&cp)
}

// keep copies a payload, or drops one too large to store (its size is kept).
func (w *Writer) keep(b []byte) ([]byte, int) {
	if len(b) == 0 || len(b) > w.opts.MaxPayloadBytes {
		return nil, len(b)
	}
	return append(make([]byte, 0, len(b)), b...), len(b)
}

// Written, Dropped and Pending count captures stored, lost and in flight.
func (w *Writer) Written() int64 { return w.q.Written() }
func (w *Writer) Dropped() int64 { return w.q.Dropped() }
func (w *Writer) Pending() int64 { return w.q.Pending() }

// Flush waits until every capture queued before the call is written or
// dropped (ErrDropped if some were dropped by the database).
func (w *Writer) Flush(ctx context.Context) error {
	return w.q.Flush(ctx)
}

// Close stops accepting captures and writes what is queued. If ctx expires
// first, the rest is dropped, counted and reported. Idempotent.
func (w *Writer) Close(ctx context.Context) error {
	n := w.q.Close(ctx).Dropped
	if n == 0 {
		return nil
	}
	w.closeLog.Do(func() { w.log.Error("retention: payloads dropped at shutdown", "count", n) })
	return fmt.Errorf("retention: %d payloads dropped at shutdown: %w", n, ErrDropped)
}

// errSeal marks a capture that cannot be sealed (crypto/rand failing):
// retrying is pointless, so the queue treats it as a rejected row.
var errSeal = errors.New("retention: cannot seal a payload")

// write seals and inserts a batch. It is idempotent: a retry after a commit
// whose reply was lost skips the rows already there, and a capture is
// sealed once, not on every retry.
func (w *Writer) write(ctx context.Context, batch []*Capture) error {
	rows := make([]models.RequestPayload, len(batch))
	for i, c := range batch {
		if c.sealed == nil {
			row, err := w.seal(c)
			if err != nil {
				return fmt.Errorf("%w: %w", errSeal, err)
			}
			c.sealed = &row
			c.Request, c.Response = nil, nil // sealed: the plaintext is no longer needed
		}
		rows[i] = *c.sealed
	}
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
