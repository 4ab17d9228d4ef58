package retention_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm/schema"

	"github.com/llmgw/gateway/app/retention"
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

func TestStorageCost(t *testing.T) {
	for tokens, want := range map[int]int64{
		0: 0, -5: 0, 1: 10,
		25:        250,        // the seed's cost breakdown example: $0.00000025
		1_500:     15_000,     // the seed's storage example: $0.000015
		1_000_000: 10_000_000, // $0.01 per 1M tokens
	} {
		if got := retention.StorageCost(tokens); got != want {
			t.Errorf("StorageCost(%d) = %d nano-USD, want %d", tokens, got, want)
		}
	}
}

func TestEffectiveDays(t *testing.T) {
	for _, c := range []struct{ days, def, want int }{
		{30, 90, 30}, {0, 90, 90}, {0, 0, 30}, {-1, 7, 7}, {3651, 0, 30}, {1, 0, 1}, {3650, 0, 3650},
	} {
		if got := retention.EffectiveDays(c.days, c.def); got != c.want {
			t.Errorf("EffectiveDays(%d, %d) = %d, want %d", c.days, c.def, got, c.want)
		}
	}
}

// The migration and the model agree on both dialects (what app/store's
// schema test checks for the models it lists).
func TestSchemaMatchesModel(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		s, err := schema.Parse(&models.RequestPayload{}, &sync.Map{}, db.NamingStrategy)
		if err != nil {
			t.Fatal(err)
		}
		if s.Table != "request_payloads" {
			t.Fatalf("table %q", s.Table)
		}
		cols, err := db.Migrator().ColumnTypes(&models.RequestPayload{})
		if err != nil {
			t.Fatal(err)
		}
		have := map[string]bool{}
		for _, c := range cols {
			have[c.Name()] = true
			if null, ok := c.Nullable(); ok && null && c.Name() != "log_id" {
				t.Errorf("column %s is nullable; no field is a pointer", c.Name())
			}
		}
		for _, f := range s.DBNames {
			if !have[f] {
				t.Errorf("no column %q", f)
			}
			delete(have, f)
		}
		for c := range have {
			t.Errorf("column %q has no field", c)
		}
		if !db.Migrator().HasIndex(&models.RequestPayload{}, "request_payloads_expires_idx") {
			t.Error("missing request_payloads_expires_idx")
		}
	})
}

func newWriter(t *testing.T, db *store.DB, opts retention.Options) *retention.Writer {
	t.Helper()
	box, err := retention.NewBox("test-auth-secret")
	if err != nil {
		t.Fatal(err)
	}
	opts.Logger = quiet
	w := retention.NewWriter(db, box, opts)
	t.Cleanup(func() { _ = w.Close(context.Background()) })
	return w
}

func newStore(t *testing.T, db *store.DB) *retention.Store {
	box, err := retention.NewBox("test-auth-secret")
	if err != nil {
		t.Fatal(err)
	}
	return &retention.Store{DB: db.DB, Box: box}
}

const (
	secretPrompt = `{"model":"my-chat","messages":[{"role":"user","content":"the launch code is TANGERINE-42"}]}`
	secretAnswer = `{"id":"chatcmpl-1","choices":[{"message":{"role":"assistant","content":"Noted: TANGERINE-42"}}]}`
)

func TestWriterEncryptsAtRestAndStoreReads(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := ctxT(t)
		w := newWriter(t, db, retention.Options{})
		start := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
		req, resp := []byte(secretPrompt), []byte(secretAnswer)
		if !w.Capture(retention.Capture{LogID: "log_a", OrganizationID: "org_a", Level: retention.RetainAll, Days: 7,
			CreatedAt: start, Request: req, Response: resp, Tokens: 1500}) {
			t.Fatal("retain-all capture refused")
		}
		// The caller may reuse its buffers at once (fasthttp does).
		copy(req, bytes.Repeat([]byte("x"), len(req)))
		copy(resp, bytes.Repeat([]byte("y"), len(resp)))
		// metadata-only (and an unknown level) store nothing and drop nothing.
		for _, level := range []string{retention.MetadataOnly, "", "bogus"} {
			if w.Capture(retention.Capture{LogID: "log_m", OrganizationID: "org_a", Level: level, Request: []byte("{}")}) {
				t.Errorf("level %q captured", level)
			}
		}
		// Default period; a response that is not JSON (an SSE stream).
		sse := "data: {\"choices\":[]}\n\ndata: [DONE]\n\n"
		w.Capture(retention.Capture{LogID: "log_b", OrganizationID: "org_a", Level: retention.RetainAll,
			Request: []byte(secretPrompt), Response: []byte(sse), Tokens: 25})
		if err := w.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if w.Written() != 2 || w.Dropped() != 0 || w.Pending() != 0 {
			t.Fatalf("written %d dropped %d pending %d", w.Written(), w.Dropped(), w.Pending())
		}

		// At rest: sealed, no plaintext in any column.
		var row models.RequestPayload
		if err := db.Where("log_id = ?", "log_a").Take(&row).Error; err != nil {
			t.Fatal(err)
		}
		for _, col := range []string{row.EncryptedRequest, row.EncryptedResponse} {
			if !strings.HasPrefix(col, "v1:") || strings.Contains(col, "TANGERINE") || strings.Contains(col, "messages") {
				t.Errorf("column not sealed: %.60q", col)
			}
		}
		var raw []string
		if err := db.Raw("SELECT encrypted_request || encrypted_response FROM request_payloads").Scan(&raw).Error; err != nil {
			t.Fatal(err)
		}
		for _, r := range raw {
			if strings.Contains(r, "TANGERINE") {
				t.Error("plaintext at rest")
			}
		}
		if row.OrganizationID != "org_a" || !row.CreatedAt.Equal(start) || !row.ExpiresAt.Equal(start.AddDate(0, 0, 7)) ||
			row.Tokens != 1500 || row.DataStorageCost != 15_000 ||
			row.RequestBytes != int64(len(secretPrompt)) || row.ResponseBytes != int64(len(secretAnswer)) {
			t.Errorf("row %+v", row)
		}
		var b models.RequestPayload
		db.Where("log_id = ?", "log_b").Take(&b)
		if d := b.ExpiresAt.Sub(b.CreatedAt); d != 30*24*time.Hour {
			t.Errorf("default period %v", d)
		}

		// Read back, decrypted, for the owner only.
		st := newStore(t, db)
		p, err := st.Get(ctx, "org_a", "log_a")
		if err != nil {
			t.Fatal(err)
		}
		if string(p.Request) != secretPrompt || string(p.Response) != secretAnswer || p.DataStorageCost != 15_000 {
			t.Errorf("payload %+v", p)
		}
		if _, err := st.Get(ctx, "org_other", "log_a"); !errors.Is(err, retention.ErrNotFound) {
			t.Errorf("other org: %v", err)
		}
		if _, err := st.Get(ctx, "org_a", "log_m"); !errors.Is(err, retention.ErrNotFound) {
			t.Errorf("metadata-only log: %v", err)
		}
		// Another AUTH_SECRET cannot open it.
		other, _ := retention.NewBox("another-secret")
		if _, err := (&retention.Store{DB: db.DB, Box: other}).Get(ctx, "org_a", "log_a"); err == nil || errors.Is(err, retention.ErrNotFound) {
			t.Errorf("wrong key: %v", err)
		}
	})
}

func TestWriterBoundsAndClose(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := ctxT(t)
		w := newWriter(t, db, retention.Options{MaxQueueBytes: 1000, MaxPayloadBytes: 600, FlushInterval: time.Hour})
		big := bytes.Repeat([]byte("a"), 700)
		// Too large to keep: stored without the body, its size recorded.
		if !w.Capture(retention.Capture{LogID: "log_big", OrganizationID: "o", Level: retention.RetainAll, Request: big, Response: []byte(`{"ok":true}`)}) {
			t.Fatal("oversized capture refused")
		}
		// Over the queue's byte bound: dropped, counted. FlushInterval is an
		// hour and the batch is not full, so the first one is still queued.
		half := bytes.Repeat([]byte("b"), 500)
		okA := w.Capture(retention.Capture{LogID: "log_1", OrganizationID: "o", Level: retention.RetainAll, Request: half})
		okB := w.Capture(retention.Capture{LogID: "log_2", OrganizationID: "o", Level: retention.RetainAll, Request: half, Response: half})
		if !okA || okB || w.Dropped() != 1 {
			t.Fatalf("bounds: %v %v dropped %d", okA, okB, w.Dropped())
		}
		// Close writes what is queued; captures after it are dropped.
		if err := w.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if w.Capture(retention.Capture{LogID: "log_3", OrganizationID: "o", Level: retention.RetainAll}) || w.Dropped() != 2 {
			t.Errorf("capture after close: dropped %d", w.Dropped())
		}
		var n int64
		db.Model(&models.RequestPayload{}).Count(&n)
		if n != 2 || w.Written() != 2 {
			t.Fatalf("rows %d written %d", n, w.Written())
		}
		p, err := newStore(t, db).Get(ctx, "o", "log_big")
		if err != nil || p.Request != nil || p.RequestBytes != 700 || string(p.Response) != `{"ok":true}` {
			t.Errorf("oversized: %+v %v", p, err)
		}
		if err := w.Flush(ctx); !errors.Is(err, retention.ErrClosed) {
			t.Errorf("flush after close: %v", err)
		}
		var nilW *retention.Writer
		if nilW.Capture(retention.Capture{LogID: "x", Level: retention.RetainAll}) {
			t.Error("nil writer captured")
		}
	})
}

// Many concurrent captures, larger than one batch: all written once.
func TestWriterConcurrent(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		w := newWriter(t, db, retention.Options{BatchSize: 7})
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 25 {
					w.Capture(retention.Capture{LogID: fmt.Sprintf("log_%d_%d", g, i), OrganizationID: "o",
						Level: retention.RetainAll, Request: []byte(`{"i":1}`), Response: []byte(`{}`), Tokens: i})
				}
			}()
		}
		wg.Wait()
		if err := w.Flush(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		var n int64
		db.Model(&models.RequestPayload{}).Count(&n)
		if n != 200 || w.Written() != 200 || w.Dropped() != 0 {
			t.Fatalf("rows %d written %d dropped %d", n, w.Written(), w.Dropped())
		}
	})
}
