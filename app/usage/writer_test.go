package usage

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/llmgw/gateway/app/store"
	"github.com/llmgw/gateway/app/store/storetest"
	"github.com/llmgw/gateway/models"
)

func ip(n int) *int { return &n }

// fullRow sets every field, with a non-UTC CreatedAt carrying nanoseconds.
func fullRow(id string) *models.RequestLog {
	ist := time.FixedZone("IST", 5*3600+1800)
	return &models.RequestLog{ID: id, RequestID: "req_1", CreatedAt: time.Date(2030, 5, 6, 12, 34, 56, 123456789, ist),
		OrganizationID: "org_1", ProjectID: "prj_1", APIKeyID: "key_1", Endpoint: "chat.completions",
		RequestedModel: "gpt-4o", RequestedProvider: "openai", UsedModel: "gpt-4o", UsedProvider: "openai",
		UpstreamModel: "gpt-4o-2024-08-06", Status: 200, FinishReason: "stop", Streamed: true, Cached: true,
		PromptTokens: 1, CompletionTokens: 2, CachedTokens: 3, CacheWriteTokens: 4, ReasoningTokens: 5,
		TotalTokens: 3_000_000_000, TokensEstimated: true, InputCost: cost(1), OutputCost: cost(2),
		CachedInputCost: cost(3), CacheWriteCost: cost(4), RequestCost: cost(5), TotalCost: cost(9e15),
		DurationMs: 1234, TTFTMs: ip(56), Source: "sdk", UserAgent: "ua/1", SessionID: "sess",
		Metadata: `{"k":"v"}`, ErrorType: "none", ErrorMessage: "msg", Retried: true,
		RetriedByLogID: "log_next", RoutingAttempts: `[{"provider":"openai"}]`}
}

func TestWritesAllFields(t *testing.T) {
	for _, d := range storetest.Dialects() {
		t.Run(d, func(t *testing.T) {
			w, db, _ := open(t, d, Options{})
			full := fullRow("log_full")
			rv := reflect.ValueOf(full).Elem()
			for i := 0; i < rv.NumField(); i++ {
				if rv.Field(i).IsZero() {
					t.Fatalf("fixture leaves %s unset: extend fullRow", rv.Type().Field(i).Name)
				}
			}
			want := *full
			want.CreatedAt = store.UTC(full.CreatedAt)

			sparse := &models.RequestLog{ID: "log_sparse", OrganizationID: "org_1", Status: 200}
			dirty := &models.RequestLog{ID: "log_dirty", ErrorMessage: "bad \xff\xfe utf8 and \x00 nul"}
			auto := &models.RequestLog{OrganizationID: "org_1"}
			before := time.Now()
			for _, l := range []*models.RequestLog{full, sparse, dirty, auto} {
				if !w.Enqueue(l) {
					t.Fatal("Enqueue refused a row")
				}
			}
			flush(t, w)

			var got models.RequestLog
			if err := db.Take(&got, "id = ?", "log_full").Error; err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("full row:\n got  %+v\n want %+v", got, want)
			}
			var gotSparse models.RequestLog
			if err := db.Take(&gotSparse, "id = ?", "log_sparse").Error; err != nil {
				t.Fatal(err)
			}
			if gotSparse.TotalCost != nil || gotSparse.TTFTMs != nil || gotSparse.Streamed || !gotSparse.CreatedAt.After(before.Add(-time.Second)) {
				t.Errorf("sparse row: %+v", gotSparse)
			}
			var gotDirty models.RequestLog
			if err := db.Take(&gotDirty, "id = ?", "log_dirty").Error; err != nil {
				t.Fatal(err)
			}
			if gotDirty.ErrorMessage != "bad \uFFFD utf8 and  nul" {
				t.Errorf("dirty text stored as %q", gotDirty.ErrorMessage)
			}
			// Enqueue filled in the id and time.
			if !strings.HasPrefix(auto.ID, "log_") || auto.CreatedAt.IsZero() {
				t.Errorf("auto row: id %q created %v", auto.ID, auto.CreatedAt)
			}
			if n := countLogs(t, db); n != 4 || w.Written() != 4 || w.Pending() != 0 || w.Dropped() != 0 {
				t.Errorf("rows %d written %d pending %d dropped %d", n, w.Written(), w.Pending(), w.Dropped())
			}
		})
	}
}

func TestRollups(t *testing.T) {
	for _, d := range storetest.Dialects() {
		t.Run(d, func(t *testing.T) {
			w, db, _ := open(t, d, Options{})

			// Batch 1.
			fallback := row("b1_fallback", 5, 200, cost(1))
			fallback.UsedModel, fallback.UsedProvider = "", "" // failed before routing
			otherKey := row("b1_key2", 6, 200, cost(4))
			otherKey.APIKeyID = "key_2"
			retried := row("b1_retried", 7, 429, cost(7)) // a retried, failed attempt
			retried.Retried = true
			for _, l := range []*models.RequestLog{
				row("b1_a", 0, 200, cost(100)),
				row("b1_b", 59, 200, cost(50)),
				row("b1_err", 10, 500, nil),      // error: not "unpriced"
				row("b1_unpriced", 11, 200, nil), // unknown price
				retried, fallback, otherKey,
				row("b1_next_hour", 60, 200, cost(1000)),
			} {
				w.Enqueue(l)
			}
			flush(t, w)
			// Batch 2 hits the same hour key: the upsert must add.
			w.Enqueue(row("b2_a", 30, 200, cost(5)))
			w.Enqueue(row("b2_unpriced", 31, 200, nil))
			w.Enqueue(row("b2_err", 32, 404, cost(0)))
			flush(t, w)

			base := models.UsageHourly{Hour: hour0, OrganizationID: "org_1", ProjectID: "prj_1",
				APIKeyID: "key_1", Model: "gpt-4o", Provider: "openai"}
			mk := func(mod func(*models.UsageHourly), req, errs, cost, unpriced int64) models.UsageHourly {
				u := base
				if mod != nil {
					mod(&u)
				}
				u.Requests, u.Errors, u.Cost, u.UnpricedRequests = req, errs, cost, unpriced
				u.PromptTokens, u.CompletionTokens, u.CachedTokens, u.TotalTokens = 10*req, 20*req, 3*req, 30*req
				return u
			}
			want := []models.UsageHourly{
				mk(func(u *models.UsageHourly) { u.Provider = "" }, 1, 0, 1, 0), // RequestedModel fallback, no provider
				// a, b, err, unpriced, retried | b2_a, b2_unpriced, b2_err
				mk(nil, 8, 3, 100+50+7+5+0, 2),
				mk(func(u *models.UsageHourly) { u.APIKeyID = "key_2" }, 1, 0, 4, 0),
				mk(func(u *models.UsageHourly) { u.Hour = hour0.Add(time.Hour) }, 1, 0, 1000, 0),
			}
			if got := rollups(t, db); !reflect.DeepEqual(got, want) {
				t.Errorf("rollups:\n got  %+v\n want %+v", got, want)
			}
		})
	}
}

// Enqueue must return at once even when the writer is stuck on the
// database and the queue is full; the overflow is dropped and counted.
func TestEnqueueNeverBlocksWhenFull(t *testing.T) {
	for _, d := range storetest.Dialects() {
		t.Run(d, func(t *testing.T) {
			release := make(chan struct{})
			var once sync.Once
			stuck := func(stage string, _ []*models.RequestLog) error {
				if stage == "begin" {
					<-release // a database that does not answer
				}
				return nil
			}
			w, db, _ := open(t, d, Options{QueueSize: 10, BatchSize: 5, FlushInterval: time.Millisecond, failpoint: stuck})
			t.Cleanup(func() { once.Do(func() { close(release) }) })

			const n = 1000
			accepted := 0
			start := time.Now()
			for i := range n {
				if w.Enqueue(row(NewLogID(), i%60, 200, cost(1))) {
					accepted++
				}
			}
			if el := time.Since(start); el > time.Second {
				t.Errorf("%d Enqueue calls took %v", n, el)
			}
			if accepted == n || w.Dropped() != int64(n-accepted) {
				t.Fatalf("accepted %d, dropped %d: the full queue must drop", accepted, w.Dropped())
			}
			once.Do(func() { close(release) })
			if err := w.Close(ctxFor(t, 20*time.Second)); err != nil {
				t.Fatal(err)
			}
			if w.Written()+w.Dropped() != n || w.Pending() != 0 {
				t.Errorf("written %d + dropped %d != %d (pending %d)", w.Written(), w.Dropped(), n, w.Pending())
			}
			if got := countLogs(t, db); got != w.Written() {
				t.Errorf("db has %d rows, Written() = %d", got, w.Written())
			}
		})
	}
}

func TestCloseFlushes(t *testing.T) {
	for _, d := range storetest.Dialects() {
		t.Run(d, func(t *testing.T) {
			// Neither the interval nor the batch size would ever trigger.
			w, db, _ := open(t, d, Options{BatchSize: 1000, FlushInterval: time.Hour})
			for i := range 123 {
				w.Enqueue(row(NewLogID(), i%60, 200, cost(1)))
			}
			if err := w.Close(ctxFor(t, 20*time.Second)); err != nil {
				t.Fatal(err)
			}
			if n := countLogs(t, db); n != 123 || w.Written() != 123 || w.Pending() != 0 {
				t.Errorf("after Close: %d rows, written %d, pending %d", n, w.Written(), w.Pending())
			}
			if w.Enqueue(row("late", 0, 200, nil)) || w.Dropped() != 1 {
				t.Error("Enqueue after Close must drop and count")
			}
			if err := w.Flush(ctxFor(t, time.Second)); !errors.Is(err, ErrClosed) {
				t.Errorf("Flush after Close: %v", err)
			}
			if err := w.Close(ctxFor(t, time.Second)); err != nil {
				t.Errorf("second Close: %v", err)
			}
		})
	}
}

// A write failing after the rows were inserted (so the transaction really
// rolls back) is retried until it succeeds; nothing is lost or doubled.
func TestRetryAfterFailure(t *testing.T) {
	for _, d := range storetest.Dialects() {
		for _, stage := range []string{"begin", "after-logs", "before-commit"} {
			t.Run(d+"/"+stage, func(t *testing.T) {
				fp, calls := failN(stage, 3)
				w, db, logs := open(t, d, Options{failpoint: fp})
				for i := range 20 {
					l := row(NewLogID(), i, 200, cost(2))
					l.ErrorMessage = "PAYLOAD-SECRET"
					w.Enqueue(l)
				}
				flush(t, w)
				if calls() < 4 {
					t.Errorf("failpoint hit %d times, want >= 4", calls())
				}
				if n := countLogs(t, db); n != 20 || w.Written() != 20 || w.Dropped() != 0 || w.Pending() != 0 {
					t.Errorf("rows %d written %d dropped %d pending %d", n, w.Written(), w.Dropped(), w.Pending())
				}
				if r := rollups(t, db); len(r) != 1 || r[0].Requests != 20 || r[0].Cost != 40 {
					t.Errorf("rollups %+v", r)
				}
				out := logs.String()
				if !strings.Contains(out, "writing request logs failed") || !strings.Contains(out, "recovered") {
					t.Errorf("failures not logged:\n%s", out)
				}
				if strings.Contains(out, "PAYLOAD-SECRET") {
					t.Errorf("log leaks row contents:\n%s", out)
				}
			})
		}
	}
}

// The commit succeeds but the writer sees an error (connection lost before
// the reply): the retry must neither fail on the existing ids nor count
// the rows twice in the rollups.
func TestAmbiguousCommitNotDoubleCounted(t *testing.T) {
	for _, d := range storetest.Dialects() {
		t.Run(d, func(t *testing.T) {
			fp, _ := failN("after-commit", 1)
			w, db, _ := open(t, d, Options{failpoint: fp})
			for i := range 10 {
				w.Enqueue(row(NewLogID(), i, 200, cost(3)))
			}
			flush(t, w)
			if n := countLogs(t, db); n != 10 || w.Written() != 10 {
				t.Errorf("rows %d written %d", n, w.Written())
			}
			if r := rollups(t, db); len(r) != 1 || r[0].Requests != 10 || r[0].Cost != 30 {
				t.Errorf("rollups counted twice: %+v", r)
			}
		})
	}
}

// A real database error (the table is gone), then recovery: rows keep
// being accepted meanwhile and all are written once the table is back.
func TestDatabaseOutageAndRecovery(t *testing.T) {
	for _, d := range storetest.Dialects() {
		t.Run(d, func(t *testing.T) {
			w, db, logs := open(t, d, Options{FlushInterval: 10 * time.Millisecond})
			if err := db.Exec("ALTER TABLE request_logs RENAME TO request_logs_away").Error; err != nil {
				t.Fatal(err)
			}
			for i := range 30 {
				if !w.Enqueue(row(NewLogID(), i, 200, cost(1))) {
					t.Fatal("Enqueue refused a row during the outage")
				}
			}
			if err := w.Flush(ctxFor(t, 300*time.Millisecond)); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Flush during the outage: %v, want deadline exceeded", err)
			}
			if w.Pending() != 30 || w.Written() != 0 {
				t.Fatalf("during outage: pending %d written %d", w.Pending(), w.Written())
			}
			for i := range 10 {
				w.Enqueue(row(NewLogID(), i, 200, cost(1)))
			}
			if err := db.Exec("ALTER TABLE request_logs_away RENAME TO request_logs").Error; err != nil {
				t.Fatal(err)
			}
			flush(t, w)
			if n := countLogs(t, db); n != 40 || w.Written() != 40 || w.Dropped() != 0 {
				t.Errorf("after recovery: rows %d written %d dropped %d", n, w.Written(), w.Dropped())
			}
			if r := rollups(t, db); len(r) != 1 || r[0].Requests != 40 {
				t.Errorf("rollups %+v", r)
			}
			if !strings.Contains(logs.String(), "writing request logs failed") {
				t.Error("the outage was not logged")
			}
		})
	}
}

// While writes fail, the buffer stays bounded by dropping the oldest rows.
func TestDropsOldestWhileFailing(t *testing.T) {
	for _, d := range storetest.Dialects() {
		t.Run(d, func(t *testing.T) {
			var failing atomic.Bool
			failing.Store(true)
			fp := func(stage string, _ []*models.RequestLog) error {
				if stage == "begin" && failing.Load() {
					return errors.New("database down")
				}
				return nil
			}
			const bound = 5
			w, db, _ := open(t, d, Options{QueueSize: bound, BatchSize: 2, FlushInterval: time.Millisecond, failpoint: fp})
			t.Cleanup(func() { failing.Store(false) }) // runs before Close: lets it finish if we fail early
			var ids []string
			for i := range 20 {
				l := row(NewLogID(), i, 200, cost(1))
				ids = append(ids, l.ID)
				if !w.Enqueue(l) {
					t.Fatalf("row %d refused: the writer should keep draining the queue", i)
				}
				// Let the goroutine move it into its buffer, as it would
				// between requests, so the bound applies there.
				waitFor(t, "queue drained", func() bool { return w.q.Queued() == 0 })
			}
			waitFor(t, "the last row buffered", func() bool { return w.Pending()+w.Dropped() == 20 && w.Pending() <= bound })
			if w.Dropped() != 20-bound || w.Pending() != bound {
				t.Fatalf("dropped %d pending %d, want %d and %d", w.Dropped(), w.Pending(), 20-bound, bound)
			}
			failing.Store(false)
			flush(t, w)
			var got []string
			if err := db.Model(&models.RequestLog{}).Order("id").Pluck("id", &got).Error; err != nil {
				t.Fatal(err)
			}
			want := ids[20-bound:]
			slices.Sort(want) // ids of one millisecond are in random order
			if !reflect.DeepEqual(got, want) {
				t.Errorf("kept %v, want the newest %v", got, want)
			}
			if w.Written() != bound {
				t.Errorf("written %d", w.Written())
			}
		})
	}
}

// A row the database rejects is dropped alone; the rest of its batch is
// written and later batches are not held up.
func TestPoisonRowIsDroppedAlone(t *testing.T) {
	for _, d := range storetest.Dialects() {
		t.Run(d, func(t *testing.T) {
			fp := func(stage string, rows []*models.RequestLog) error {
				for _, r := range rows {
					if stage == "after-logs" && r.ID == "log_poison" {
						return &pgconn.PgError{Code: "22003", Message: "injected out of range"}
					}
				}
				return nil
			}
			w, db, logs := open(t, d, Options{failpoint: fp})
			w.Enqueue(row("log_a", 0, 200, cost(1)))
			w.Enqueue(row("log_poison", 1, 200, cost(1)))
			w.Enqueue(row("log_b", 2, 200, cost(1)))
			if err := w.Flush(ctxFor(t, 10*time.Second)); !errors.Is(err, ErrDropped) {
				t.Errorf("Flush: %v, want ErrDropped", err)
			}
			if n := countLogs(t, db); n != 2 || w.Written() != 2 || w.Dropped() != 1 || w.Pending() != 0 {
				t.Errorf("rows %d written %d dropped %d pending %d", n, w.Written(), w.Dropped(), w.Pending())
			}
			if r := rollups(t, db); len(r) != 1 || r[0].Requests != 2 {
				t.Errorf("rollups %+v", r)
			}
			if !strings.Contains(logs.String(), "log_poison") {
				t.Error("dropped row not identified in the log")
			}
		})
	}
	// And a genuine one: PostgreSQL cannot index a text value larger than
	// about 2.7kB once compressed (SQLite has no such limit).
	t.Run("postgres/real", func(t *testing.T) {
		w, db, _ := open(t, store.DialectPostgres, Options{})
		huge := row("log_huge", 0, 200, nil)
		var b strings.Builder
		for b.Len() < 20000 {
			b.WriteString(NewLogID())
		}
		huge.RequestID = b.String()
		w.Enqueue(row("log_ok", 0, 200, nil))
		w.Enqueue(huge)
		_ = w.Flush(ctxFor(t, 10*time.Second))
		if n := countLogs(t, db); n != 1 || w.Dropped() != 1 {
			t.Errorf("rows %d dropped %d", n, w.Dropped())
		}
	})
}

func TestCloseDeadlineDropsAndReports(t *testing.T) {
	for _, d := range storetest.Dialects() {
		t.Run(d, func(t *testing.T) {
			fp := func(string, []*models.RequestLog) error { return errors.New("database down") }
			w, _, logs := open(t, d, Options{failpoint: fp})
			for i := range 10 {
				w.Enqueue(row(NewLogID(), i, 200, nil))
			}
			start := time.Now()
			err := w.Close(ctxFor(t, 300*time.Millisecond))
			if !errors.Is(err, ErrDropped) || !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Close: %v", err)
			}
			if el := time.Since(start); el > 5*time.Second {
				t.Errorf("Close took %v despite its deadline", el)
			}
			if w.Dropped() != 10 || w.Pending() != 0 || w.Written() != 0 {
				t.Errorf("dropped %d pending %d written %d", w.Dropped(), w.Pending(), w.Written())
			}
			if !strings.Contains(logs.String(), "dropping unwritten request logs at shutdown") {
				t.Error("shutdown loss not logged")
			}
		})
	}
}

func TestConcurrentEnqueue(t *testing.T) {
	for _, d := range storetest.Dialects() {
		t.Run(d, func(t *testing.T) {
			const goroutines, each = 50, 100
			w, db, _ := open(t, d, Options{QueueSize: goroutines * each})
			var wg sync.WaitGroup
			for g := range goroutines {
				wg.Go(func() {
					for i := range each {
						l := row("", i%60, 200+(g%2)*300, cost(1))
						if !w.Enqueue(l) {
							t.Error("dropped with room in the queue")
							return
						}
					}
				})
				if g == goroutines/2 {
					go func() { _ = w.Flush(context.Background()) }() // flushes interleave with enqueues
				}
			}
			wg.Wait()
			if err := w.Close(ctxFor(t, 60*time.Second)); err != nil {
				t.Fatal(err)
			}
			const total = goroutines * each
			if n := countLogs(t, db); n != total || w.Written() != total || w.Dropped() != 0 || w.Pending() != 0 {
				t.Errorf("rows %d written %d dropped %d pending %d", n, w.Written(), w.Dropped(), w.Pending())
			}
			var req, errs int64
			for _, r := range rollups(t, db) {
				req += r.Requests
				errs += r.Errors
			}
			if req != total || errs != total/2 {
				t.Errorf("rollups: %d requests %d errors", req, errs)
			}
		})
	}
}

// Two gateway replicas (two pools, two writers) upserting the same rollup
// keys at once: no deadlock, no lost update.
func TestTwoWritersSameDatabase(t *testing.T) {
	for _, d := range storetest.Dialects() {
		t.Run(d, func(t *testing.T) {
			url, dir := storetest.NewDatabase(t, d)
			var dbs []*store.DB
			var ws []*Writer
			for range 2 {
				db, err := store.Open(url, dir)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				if err := store.Migrate(db); err != nil {
					t.Fatal(err)
				}
				dbs = append(dbs, db)
				ws = append(ws, New(db, Options{BatchSize: 50, FlushInterval: time.Millisecond}))
			}
			const each = 1000
			var wg sync.WaitGroup
			for i, w := range ws {
				wg.Go(func() {
					for j := range each {
						// Keys in opposite orders across the two writers.
						k := j % 20
						if i == 1 {
							k = 19 - k
						}
						l := row("", k, 200, cost(1))
						l.APIKeyID = fmt.Sprintf("key_%02d", k)
						for !w.Enqueue(l) {
							time.Sleep(time.Millisecond)
						}
					}
				})
			}
			wg.Wait()
			for _, w := range ws {
				if err := w.Close(ctxFor(t, time.Minute)); err != nil {
					t.Fatal(err)
				}
				if w.Written() != each || w.Dropped() != 0 {
					t.Errorf("written %d dropped %d", w.Written(), w.Dropped())
				}
			}
			var req int64
			r := rollups(t, dbs[0])
			for _, u := range r {
				req += u.Requests
			}
			if len(r) != 20 || req != 2*each {
				t.Errorf("%d rollup rows, %d requests; want 20 and %d", len(r), req, 2*each)
			}
		})
	}
}
