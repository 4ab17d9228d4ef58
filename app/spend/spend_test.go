package spend

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmgw/gateway/app/store/storetest"
	"github.com/llmgw/gateway/models"
)

func ptr[T any](v T) *T { return &v }

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestReserveSettleLifetimeLimit(t *testing.T) {
	a := New(nil, quiet())
	k := &models.APIKey{ID: "ak_1", UsageLimit: ptr(int64(1000))}
	r, err := a.Reserve(k, 600)
	if err != nil {
		t.Fatal(err)
	}
	// 600 held: a second request of 600 would overshoot.
	var le *LimitError
	if _, err := a.Reserve(k, 600); !errors.As(err, &le) {
		t.Fatalf("overshooting reservation admitted: %v", err)
	}
	r.Settle(300) // actual cost was lower: the rest is released
	r2, err := a.Reserve(k, 600)
	if err != nil {
		t.Fatalf("after settling: %v", err)
	}
	r2.Settle(700)
	if _, err := a.Reserve(k, 1); !errors.As(err, &le) || le.Msg != "API key reached its usage limit." {
		t.Fatalf("limit reached: %v", err)
	}
	if u, _ := a.Spent(k); u != 1000 {
		t.Fatalf("spent = %d", u)
	}
	// Raising the limit admits again; settling twice counts once.
	k.UsageLimit = ptr(int64(5000))
	r3, err := a.Reserve(k, 10)
	if err != nil {
		t.Fatal(err)
	}
	r3.Settle(10)
	r3.Settle(10)
	if u, _ := a.Spent(k); u != 1010 {
		t.Fatalf("double settle counted: %d", u)
	}
}

func TestConcurrentReservationsNeverOvershoot(t *testing.T) {
	a := New(nil, quiet())
	k := &models.APIKey{ID: "ak_c", UsageLimit: ptr(int64(5 * 100))}
	var admitted atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r, err := a.Reserve(k, 100)
			if err != nil {
				return
			}
			admitted.Add(1)
			time.Sleep(10 * time.Millisecond) // the upstream call
			r.Settle(100)
		}()
	}
	close(start)
	wg.Wait()
	if n := admitted.Load(); n != 5 {
		t.Fatalf("admitted %d of 50 against a limit covering 5", n)
	}
}

func TestRecurringWindowRolls(t *testing.T) {
	a := New(nil, quiet())
	now := time.Date(2026, 1, 31, 10, 0, 0, 0, time.UTC)
	a.now = func() time.Time { return now }
	start := now
	k := &models.APIKey{ID: "ak_w", PeriodUsageLimit: ptr(int64(100)), PeriodUsageDurationValue: ptr(1), PeriodUsageDurationUnit: ptr("day"), PeriodStart: &start}
	r, _ := a.Reserve(k, 100)
	r.Settle(100)
	var le *LimitError
	if _, err := a.Reserve(k, 1); !errors.As(err, &le) || le.Msg != "API key reached its recurring usage limit." {
		t.Fatalf("window limit: %v", err)
	}
	now = now.Add(23 * time.Hour)
	if _, err := a.Reserve(k, 1); err == nil {
		t.Fatal("window rolled early")
	}
	now = now.Add(3 * 24 * time.Hour) // several windows later
	r, err := a.Reserve(k, 1)
	if err != nil {
		t.Fatalf("window did not roll: %v", err)
	}
	r.Settle(1)
	u, p := a.Spent(k)
	if u != 101 || p != 1 {
		t.Fatalf("usage %d period %d", u, p)
	}
	// Calendar months: Jan 31 + 1 month.
	mk := &models.APIKey{ID: "ak_m", PeriodUsageLimit: ptr(int64(10)), PeriodUsageDurationValue: ptr(1), PeriodUsageDurationUnit: ptr("month"), PeriodStart: &start}
	if got := advance(start, mk, 1); !got.Equal(start.AddDate(0, 1, 0)) {
		t.Fatalf("month advance = %v", got)
	}
	// A reset by configuration (new PeriodStart on the key) starts the window over.
	later := now.Add(time.Hour)
	k.PeriodStart, k.PeriodUsage = &later, 0
	if _, p := a.Spent(k); p != 0 {
		t.Fatalf("config reset ignored: %d", p)
	}
}

func TestFlushPersistsSpend(t *testing.T) {
	for _, d := range storetest.Dialects() {
		t.Run(d, func(t *testing.T) {
			db := storetest.Open(t, d)
			now := time.Now().UTC()
			db.Create(&models.Organization{ID: "org_1", Name: "o", Status: "active", RetentionLevel: "metadata-only", CreatedAt: now, UpdatedAt: now})
			db.Create(&models.Project{ID: "proj_1", OrganizationID: "org_1", Name: "p", Mode: "hybrid", Status: "active", CreatedAt: now, UpdatedAt: now})
			k := models.APIKey{ID: "ak_1", OrganizationID: "org_1", ProjectID: "proj_1", TokenHash: "h", Status: "active", Usage: 50,
				PeriodUsageLimit: ptr(int64(1000)), PeriodUsageDurationValue: ptr(1), PeriodUsageDurationUnit: ptr("hour"), CreatedAt: now, UpdatedAt: now}
			if err := db.Create(&k).Error; err != nil {
				t.Fatal(err)
			}
			a := New(db.DB, quiet())
			r, _ := a.Reserve(&k, 100)
			r.Settle(70)
			a.Record(&k, 5)
			if err := a.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			var got models.APIKey
			db.Take(&got, "id = ?", "ak_1")
			if got.Usage != 125 || got.PeriodUsage != 75 || got.PeriodStart == nil || !got.UpdatedAt.Equal(k.UpdatedAt.Truncate(time.Microsecond)) {
				t.Fatalf("persisted %+v", got)
			}
			// A new accountant (restart) starts from the persisted spend.
			b := New(db.DB, quiet())
			if u, p := b.Spent(&got); u != 125 || p != 75 {
				t.Fatalf("after restart: %d %d", u, p)
			}
			if err := a.Flush(context.Background()); err != nil { // nothing pending: no change
				t.Fatal(err)
			}
		})
	}
}
