package secevents

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmgw/gateway/app/guardrails"
	"github.com/llmgw/gateway/app/store"
	"github.com/llmgw/gateway/app/store/storetest"
	"github.com/llmgw/gateway/models"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func forEachDialect(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	for _, d := range storetest.Dialects() {
		t.Run(d, func(t *testing.T) { fn(t, storetest.Open(t, d)) })
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// batches wraps the real insert and records the size of every INSERT.
type batches struct {
	mu    sync.Mutex
	sizes []int
}

func (b *batches) hook(db *store.DB) func(context.Context, []models.SecurityEvent) error {
	return func(ctx context.Context, rows []models.SecurityEvent) error {
		b.mu.Lock()
		b.sizes = append(b.sizes, len(rows))
		b.mu.Unlock()
		return db.WithContext(ctx).Create(&rows).Error
	}
}

func (b *batches) get() []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]int(nil), b.sizes...)
}

func count(t *testing.T, db *store.DB) int64 {
	t.Helper()
	var n int64
	if err := db.Model(&models.SecurityEvent{}).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

func TestWriterBatchesAndStores(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := ctxT(t)
		var b batches
		w := New(db, Options{Logger: quiet, BatchSize: 10, FlushInterval: time.Hour, insert: b.hook(db)})
		defer w.Close(ctx)

		base := models.SecurityEvent{OrganizationID: "org_1", ProjectID: "proj_1", APIKeyID: "ak_1", RequestID: "req_1",
			Model: "gpt-4o", Endpoint: "chat.completions"}
		res := guardrails.Result{Violations: []guardrails.Violation{
			{Category: "pii", Entity: "email", Action: "redact", Rule: "pii", Match: "j***@example.com", MessageIndex: 2},
			{Category: "prompt_injection", Action: "block", Rule: "no injections", Match: "Ignore all previous instructions"},
		}}
		if n := w.RecordViolations(base, res.Violations); n != 2 {
			t.Fatalf("RecordViolations = %d", n)
		}
		for range 23 {
			if !w.Record(models.SecurityEvent{OrganizationID: "org_1", Category: "secrets", Action: "warn", Rule: "secrets"}) {
				t.Fatal("Record refused")
			}
		}
		if err := w.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		// 25 events, batches of 10: two full batches as the queue fills,
		// the rest at Flush (never one INSERT per event).
		if got := b.get(); len(got) != 3 || got[0] != 10 || got[1] != 10 || got[2] != 5 {
			t.Errorf("batches %v, want [10 10 5]", got)
		}
		if w.Written() != 25 || w.Dropped() != 0 || w.Pending() != 0 || count(t, db) != 25 {
			t.Fatalf("written %d dropped %d pending %d rows %d", w.Written(), w.Dropped(), w.Pending(), count(t, db))
		}

		var rows []models.SecurityEvent
		db.Where("request_id = ?", "req_1").Order("message_index DESC").Find(&rows)
		if len(rows) != 2 {
			t.Fatalf("rows %+v", rows)
		}
		r := rows[0]
		if r.OrganizationID != "org_1" || r.ProjectID != "proj_1" || r.APIKeyID != "ak_1" || r.Model != "gpt-4o" ||
			r.Endpoint != "chat.completions" || r.Category != "pii" || r.Entity != "email" || r.Action != "redacted" ||
			r.Rule != "pii" || r.Match != "j***@example.com" || r.MessageIndex != 2 || !strings.HasPrefix(r.ID, "sev_") ||
			time.Since(r.CreatedAt) > time.Minute {
			t.Errorf("row %+v", r)
		}
		if rows[1].Action != "blocked" || rows[1].Rule != "no injections" || rows[1].ID == r.ID || !rows[1].CreatedAt.Equal(r.CreatedAt) {
			t.Errorf("second row %+v (one request's events share its time)", rows[1])
		}

		// The interval flushes a partial batch without Flush.
		w2 := New(db, Options{Logger: quiet, FlushInterval: 20 * time.Millisecond})
		defer w2.Close(ctx)
		w2.Record(models.SecurityEvent{OrganizationID: "org_2", Action: "warn"})
		deadline := time.Now().Add(10 * time.Second)
		for w2.Written() != 1 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if w2.Written() != 1 {
			t.Error("interval flush did not happen")
		}
	})
}

// A slow or failing database never blocks Record: past the queue bound
// events are dropped and counted; Close writes what was accepted.
func TestWriterDropsWhenFullAndFlushesOnClose(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := ctxT(t)
		entered := make(chan struct{}, 100)
		release := make(chan struct{})
		var b batches
		real := b.hook(db)
		w := New(db, Options{Logger: quiet, QueueSize: 5, BatchSize: 1, FlushInterval: time.Hour,
			insert: func(ctx context.Context, rows []models.SecurityEvent) error {
				entered <- struct{}{}
				<-release
				return real(ctx, rows)
			}})

		w.Record(models.SecurityEvent{OrganizationID: "org_1", Action: "block"})
		<-entered // the writer is stuck in the database with the first event

		start := time.Now()
		accepted := 0
		for range 20 {
			if w.Record(models.SecurityEvent{OrganizationID: "org_1", Action: "warn"}) {
				accepted++
			}
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("Record blocked for %v", d)
		}
		if accepted != 5 || w.Dropped() != 15 || w.Pending() != 6 {
			t.Fatalf("accepted %d, dropped %d, pending %d; want 5, 15, 6", accepted, w.Dropped(), w.Pending())
		}

		close(release)
		if err := w.Flush(ctx); !errors.Is(err, ErrDropped) {
			t.Errorf("Flush after drops = %v, want ErrDropped", err)
		}
		if err := w.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		if w.Written() != 6 || w.Pending() != 0 || count(t, db) != 6 {
			t.Errorf("written %d pending %d rows %d; want 6, 0, 6", w.Written(), w.Pending(), count(t, db))
		}
		// Closed: refused and counted, Close again is fine.
		if w.Record(models.SecurityEvent{OrganizationID: "org_1"}) || w.Dropped() != 16 {
			t.Errorf("Record after Close: dropped %d", w.Dropped())
		}
		if err := w.Flush(ctx); !errors.Is(err, ErrClosed) {
			t.Errorf("Flush after Close = %v", err)
		}
		if err := w.Close(ctx); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})
}

// Close writes everything queued, even a partial batch long before its
// interval.
func TestCloseFlushes(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		w := New(db, Options{Logger: quiet, BatchSize: 100, FlushInterval: time.Hour})
		for range 7 {
			w.Record(models.SecurityEvent{OrganizationID: "org_1", Action: "warn"})
		}
		if err := w.Close(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		if n := count(t, db); n != 7 || w.Written() != 7 {
			t.Errorf("rows %d written %d", n, w.Written())
		}
	})
}

// A transient failure is retried; a row the database rejects is dropped
// alone; a retry after a lost commit does not duplicate rows.
func TestWriterRetriesAndDropsRejectedRows(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := ctxT(t)
		var mu sync.Mutex
		calls := 0
		w := New(db, Options{Logger: quiet, BatchSize: 10, FlushInterval: time.Hour,
			insert: func(ctx context.Context, rows []models.SecurityEvent) error {
				mu.Lock()
				calls++
				n := calls
				mu.Unlock()
				if n == 1 {
					// Committed, but the reply is lost: the retry must skip it.
					if err := db.WithContext(ctx).Create(&rows).Error; err != nil {
						return err
					}
					return errors.New("connection reset")
				}
				return (&Writer{db: db}).insert(ctx, rows)
			}})
		defer w.Close(ctx)
		for range 3 {
			w.Record(models.SecurityEvent{OrganizationID: "org_1", Action: "warn"})
		}
		if err := w.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if n := count(t, db); n != 3 || w.Written() != 3 || w.Dropped() != 0 {
			t.Fatalf("after retry: rows %d written %d dropped %d", n, w.Written(), w.Dropped())
		}

		// A database that rejects one row (here: NULL in a NOT NULL column).
		w2 := New(db, Options{Logger: quiet, BatchSize: 10, FlushInterval: time.Hour,
			insert: func(ctx context.Context, rows []models.SecurityEvent) error {
				for _, r := range rows {
					if r.Rule == "poison" {
						return db.WithContext(ctx).Exec("INSERT INTO security_events (id, created_at) VALUES (?, NULL)", r.ID).Error
					}
				}
				return db.WithContext(ctx).Create(&rows).Error
			}})
		defer w2.Close(ctx)
		w2.Record(models.SecurityEvent{OrganizationID: "org_2", Rule: "ok"})
		w2.Record(models.SecurityEvent{OrganizationID: "org_2", Rule: "poison"})
		w2.Record(models.SecurityEvent{OrganizationID: "org_2", Rule: "ok"})
		if err := w2.Flush(ctx); !errors.Is(err, ErrDropped) {
			t.Errorf("Flush = %v, want ErrDropped", err)
		}
		var n int64
		db.Model(&models.SecurityEvent{}).Where("organization_id = ?", "org_2").Count(&n)
		if n != 2 || w2.Written() != 2 || w2.Dropped() != 1 {
			t.Errorf("rows %d written %d dropped %d; want 2, 2, 1", n, w2.Written(), w2.Dropped())
		}
	})
}

// Values the request controls cannot make a row unstorable.
func TestRecordCleansFields(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := ctxT(t)
		w := New(db, Options{Logger: quiet})
		defer w.Close(ctx)
		w.Record(models.SecurityEvent{OrganizationID: "org_1", RequestID: "req\x00\xff" + strings.Repeat("é", 500),
			Model: strings.Repeat("m", 5000), Match: "a\x00b", Action: "redact"})
		if err := w.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		var r models.SecurityEvent
		if err := db.Take(&r).Error; err != nil {
			t.Fatal(err)
		}
		if len(r.RequestID) > maxIDLen || !strings.HasPrefix(r.RequestID, "req\uFFFD") || len(r.Model) != maxTextLen ||
			r.Match != "ab" || r.Action != "redacted" {
			t.Errorf("row %q %d %q %q", r.RequestID, len(r.Model), r.Match, r.Action)
		}
	})
}

func TestNilWriter(t *testing.T) {
	var w *Writer
	if w.Record(models.SecurityEvent{}) || w.RecordViolations(models.SecurityEvent{}, []guardrails.Violation{{}}) != 0 || w.Close(context.Background()) != nil {
		t.Error("nil writer")
	}
}

func TestNormalizeAndIDs(t *testing.T) {
	for in, want := range map[string]string{"block": "blocked", "redact": "redacted", "warn": "warned", "blocked": "blocked", "x": "x"} {
		if got := NormalizeAction(in); got != want {
			t.Errorf("NormalizeAction(%q) = %q", in, got)
		}
	}
	now := time.Now()
	a, b := NewID(now), NewID(now.Add(time.Millisecond))
	if a == b || len(a) != 36 || !strings.HasPrefix(a, "sev_") || a[:16] >= b[:16] {
		t.Errorf("ids %s %s", a, b)
	}
}
