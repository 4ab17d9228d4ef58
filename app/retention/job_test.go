package retention_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/llmgw/gateway/app/retention"
	"github.com/llmgw/gateway/app/store"
	"github.com/llmgw/gateway/models"
)

const day = 24 * time.Hour

type logSpec struct {
	org     string
	ageDays float64
}

// seedRetention creates three organizations (30 days, 7 days, unset) and
// logs of various ages for each, plus logs without an organization.
func seedRetention(t *testing.T, db *store.DB, now time.Time) map[string]logSpec {
	t.Helper()
	for id, days := range map[string]int{"org_a": 30, "org_b": 7, "org_c": 0} {
		o := models.Organization{ID: id, Name: id, Status: "active", RetentionLevel: retention.RetainAll, RetentionDays: days,
			CreatedAt: now, UpdatedAt: now}
		if err := db.Create(&o).Error; err != nil {
			t.Fatal(err)
		}
	}
	logs := map[string]logSpec{}
	ages := []float64{0.1, 6, 8, 11, 29, 31, 45, 400, 401, 402}
	for _, org := range []string{"org_a", "org_b", "org_c", ""} {
		for i, age := range ages {
			id := fmt.Sprintf("log_%s_%02d", org, i)
			logs[id] = logSpec{org, age}
			row := models.RequestLog{ID: id, RequestID: "req_" + id, OrganizationID: org,
				CreatedAt: now.Add(-time.Duration(age * float64(day)))}
			if err := db.Create(&row).Error; err != nil {
				t.Fatal(err)
			}
		}
	}
	return logs
}

func ids(t *testing.T, db *store.DB, model any, col string) []string {
	t.Helper()
	var out []string
	if err := db.Model(model).Order(col).Pluck(col, &out).Error; err != nil {
		t.Fatal(err)
	}
	return out
}

func TestJobDeletesExpiredInBatches(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := ctxT(t)
		now := time.Now().UTC().Truncate(time.Second)
		logs := seedRetention(t, db, now)
		// Payloads: one per log, stored with the org's period at the time...
		period := map[string]int{"org_a": 30, "org_b": 7, "org_c": 10, "": 10}
		for id, l := range logs {
			created := now.Add(-time.Duration(l.ageDays * float64(day)))
			p := models.RequestPayload{LogID: id, OrganizationID: l.org, CreatedAt: created,
				ExpiresAt: created.Add(time.Duration(period[l.org]) * day), EncryptedRequest: "v1:x"}
			// ...except that org_a's 11-day-old request was made while org_a
			// kept data for 7 days: its payload expires although its log stays.
			if id == "log_org_a_03" {
				p.ExpiresAt = created.Add(7 * day)
			}
			if err := db.Create(&p).Error; err != nil {
				t.Fatal(err)
			}
		}
		// A payload whose log row is gone, still within its period.
		orphan := models.RequestPayload{LogID: "log_orphan", OrganizationID: "org_a", CreatedAt: now.Add(-day), ExpiresAt: now.Add(day)}
		// Rollups are kept whatever their age.
		rollup := models.UsageHourly{Hour: now.Add(-500 * day).Truncate(time.Hour), OrganizationID: "org_a", Model: "m", Provider: "p", Requests: 3}
		for _, r := range []any{&orphan, &rollup} {
			if err := db.Create(r).Error; err != nil {
				t.Fatal(err)
			}
		}

		job := &retention.Job{DB: db, BatchSize: 2, Pause: -1, DefaultDays: 10, Log: quiet}
		res, err := job.Sweep(ctx, now)
		if err != nil {
			t.Fatal(err)
		}

		// Expected survivors: logs younger than their organization's period.
		var wantLogs, wantPayloads []string
		expiredLogs := map[string]int{}
		for id, l := range logs {
			if l.ageDays < float64(period[l.org]) {
				wantLogs = append(wantLogs, id)
				if id != "log_org_a_03" {
					wantPayloads = append(wantPayloads, id)
				}
			} else {
				expiredLogs[l.org]++
			}
		}
		wantPayloads = append(wantPayloads, "log_orphan")
		sort.Strings(wantLogs)
		sort.Strings(wantPayloads)
		if got := ids(t, db, &models.RequestLog{}, "id"); fmt.Sprint(got) != fmt.Sprint(wantLogs) {
			t.Errorf("logs left:\n got  %v\n want %v", got, wantLogs)
		}
		if got := ids(t, db, &models.RequestPayload{}, "log_id"); fmt.Sprint(got) != fmt.Sprint(wantPayloads) {
			t.Errorf("payloads left:\n got  %v\n want %v", got, wantPayloads)
		}
		var rollups int64
		db.Model(&models.UsageHourly{}).Count(&rollups)
		if rollups != 1 {
			t.Errorf("rollups deleted: %d left", rollups)
		}

		// Counts and batches of at most 2 rows: ceil(expired/2) per
		// organization, plus the one expired payload whose log stays.
		wantBatches, total := 1, int64(0)
		for _, n := range expiredLogs {
			wantBatches += (n + 1) / 2
			total += int64(n)
		}
		if res.Logs != total || res.Payloads != total+1 || res.Batches != wantBatches || res.Skipped {
			t.Errorf("result %+v, want logs %d payloads %d batches %d", res, total, total+1, wantBatches)
		}
		if expiredLogs["org_a"] != 5 || expiredLogs["org_b"] != 8 || expiredLogs["org_c"] != 7 || expiredLogs[""] != 7 {
			t.Errorf("fixture: %v", expiredLogs)
		}

		// Idempotent.
		if res, err := job.Sweep(ctx, now); err != nil || res.Logs != 0 || res.Payloads != 0 || res.Batches != 0 {
			t.Errorf("second sweep: %+v %v", res, err)
		}
	})
}

// On PostgreSQL one replica sweeps at a time.
func TestJobSkipsWhileAnotherReplicaSweeps(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		if !db.IsPostgres() {
			t.Skip("SQLite is single-process")
		}
		ctx := ctxT(t)
		conn, err := db.SQL().Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", int64(0x6c6c6d67775f7274)); err != nil {
			t.Fatal(err)
		}
		job := &retention.Job{DB: db, Log: quiet}
		if res, err := job.Sweep(ctx, time.Now()); err != nil || !res.Skipped {
			t.Fatalf("locked: %+v %v", res, err)
		}
		conn.ExecContext(ctx, "SELECT pg_advisory_unlock($1)", int64(0x6c6c6d67775f7274))
		if res, err := job.Sweep(ctx, time.Now()); err != nil || res.Skipped {
			t.Fatalf("unlocked: %+v %v", res, err)
		}
		// The sweep released its lock.
		var got bool
		conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", int64(0x6c6c6d67775f7274)).Scan(&got)
		if !got {
			t.Error("sweep kept the lock")
		}
	})
}

func TestJobRun(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		now := time.Now().UTC()
		seedRetention(t, db, now)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			(&retention.Job{DB: db, Pause: time.Millisecond, Log: quiet}).Run(ctx, 20*time.Millisecond)
		}()
		deadline := time.Now().Add(10 * time.Second)
		for {
			var n int64
			db.Model(&models.RequestLog{}).Where("organization_id = ? AND created_at < ?", "org_a", now.Add(-30*day)).Count(&n)
			if n == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d expired logs left", n)
			}
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
		<-done
	})
}
