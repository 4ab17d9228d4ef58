package usage

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/llmgw/gateway/app/store"
	"github.com/llmgw/gateway/app/store/storetest"
	"github.com/llmgw/gateway/models"
)

// BenchmarkEnqueue measures the request-path cost of logging a request:
// the row allocation a handler makes, id generation and the queue hand-off.
//
//	go test -run '^$' -bench Enqueue ./app/usage/
func BenchmarkEnqueue(b *testing.B) {
	tmpl := models.RequestLog{OrganizationID: "org_1", ProjectID: "prj_1", APIKeyID: "key_1",
		UsedModel: "gpt-4o", UsedProvider: "openai", Status: 200, TotalTokens: 30}
	newWriter := func(b *testing.B, opts Options) *Writer {
		opts.Logger = slog.New(slog.DiscardHandler)
		w := New(storetest.Open(b, store.DialectSQLite), opts)
		b.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_ = w.Close(ctx)
		})
		return w
	}

	// Accepted rows; the database writes happen outside the timed region.
	b.Run("accepted", func(b *testing.B) {
		const flushEvery = 20000
		w := newWriter(b, Options{QueueSize: 2 * flushEvery, BatchSize: 2 * flushEvery, FlushInterval: time.Hour})
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			l := tmpl // the handler's allocation
			if !w.Enqueue(&l) {
				b.Fatal("dropped")
			}
			if i++; i%flushEvery == 0 {
				b.StopTimer()
				_ = w.Flush(context.Background())
				b.StartTimer()
			}
		}
	})

	// The queue is full (the database is stuck): the drop path.
	b.Run("full", func(b *testing.B) {
		release := make(chan struct{})
		w := newWriter(b, Options{QueueSize: 64, BatchSize: 1, failpoint: func(string, []*models.RequestLog) error {
			<-release
			return nil
		}})
		defer close(release)
		for range 200 {
			l := tmpl
			w.Enqueue(&l)
		}
		b.ReportAllocs()
		for b.Loop() {
			l := tmpl
			w.Enqueue(&l)
		}
	})

	// Every CPU enqueuing while the writer writes to SQLite for real;
	// drops/op shows how far the load outruns the embedded database.
	b.Run("parallel", func(b *testing.B) {
		w := newWriter(b, Options{})
		b.ReportAllocs()
		d0 := w.Dropped()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				l := tmpl
				w.Enqueue(&l)
			}
		})
		b.ReportMetric(float64(w.Dropped()-d0)/float64(b.N), "drops/op")
	})
}
