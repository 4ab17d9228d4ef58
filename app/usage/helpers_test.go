package usage

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/llmgw/gateway/app/store"
	"github.com/llmgw/gateway/app/store/storetest"
	"github.com/llmgw/gateway/models"
)

// logBuffer collects a writer's log output so tests can check failures are
// reported and payloads are not.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// open returns a migrated database and a writer on it, closed at cleanup.
func open(t *testing.T, dialect string, opts Options) (*Writer, *store.DB, *logBuffer) {
	t.Helper()
	db := storetest.Open(t, dialect)
	logs := &logBuffer{}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(logs, nil))
	}
	w := New(db, opts)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = w.Close(ctx)
	})
	return w, db, logs
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func flush(t *testing.T, w *Writer) {
	t.Helper()
	if err := w.Flush(ctxFor(t, 20*time.Second)); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

// hour0 is an arbitrary UTC hour; rows are placed relative to it.
var hour0 = time.Date(2030, 5, 6, 7, 0, 0, 0, time.UTC)

// row builds a minimal log row; mutate the result for specifics.
func row(id string, minute int, status int, cost *int64) *models.RequestLog {
	return &models.RequestLog{
		ID: id, RequestID: "req_" + id, CreatedAt: hour0.Add(time.Duration(minute) * time.Minute),
		OrganizationID: "org_1", ProjectID: "prj_1", APIKeyID: "key_1",
		RequestedModel: "gpt-4o", UsedModel: "gpt-4o", UsedProvider: "openai",
		Status: status, PromptTokens: 10, CompletionTokens: 20, CachedTokens: 3, TotalTokens: 30,
		TotalCost: cost,
	}
}

func cost(n int64) *int64 { return &n }

func countLogs(t *testing.T, db *store.DB) int64 {
	t.Helper()
	var n int64
	if err := db.Model(&models.RequestLog{}).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

func rollups(t *testing.T, db *store.DB) []models.UsageHourly {
	t.Helper()
	var out []models.UsageHourly
	if err := db.Order("hour, organization_id, project_id, api_key_id, model, provider").Find(&out).Error; err != nil {
		t.Fatal(err)
	}
	return out
}

// waitFor polls cond (the writer works asynchronously) for up to 10s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// failN returns a failpoint failing the first n writes at stage.
func failN(stage string, n int) (func(string, []*models.RequestLog) error, func() int) {
	var mu sync.Mutex
	calls := 0
	return func(s string, _ []*models.RequestLog) error {
			if s != stage {
				return nil
			}
			mu.Lock()
			defer mu.Unlock()
			calls++
			if calls <= n {
				return fmt.Errorf("injected failure %d at %s", calls, stage)
			}
			return nil
		}, func() int {
			mu.Lock()
			defer mu.Unlock()
			return calls
		}
}
