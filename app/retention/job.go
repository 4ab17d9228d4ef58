package retention

import (
	"context"
	"database/sql/driver"
	"fmt"
	"log/slog"
	"time"

	"gorm.io/gorm"

	"github.com/llmgw/gateway/app/store"
	"github.com/llmgw/gateway/models"
)

// Job deletes what the retention periods no longer cover:
//
//   - request_logs older than their organization's retention period (the
//     current one: a log row carries no period of its own), together with
//     their stored payloads ("request logs and associated data");
//   - request_payloads past their own expires_at, fixed when they were
//     stored ("existing stored data follows the retention period active when
//     it was created"), even if the organization's period grew since.
//
// usage_hourly rollups are kept: they are the metadata-only analytics (no
// payload, no per-request row) and what usage and billing questions read.
// Audit logs and the credits ledger are not request data and are kept too.
//
// Deletes go in batches of BatchSize rows, each its own short transaction,
// with Pause between them so the request-log writer (SQLite has one writer)
// is never held off for long. Several replicas may run the job: on
// PostgreSQL one sweep at a time runs (advisory lock), the others skip.
type Job struct {
	DB          *store.DB
	BatchSize   int           // rows per DELETE (default 1000)
	Pause       time.Duration // between batches (default 100ms; negative: none)
	DefaultDays int           // period of organizations without one, and of logs without an organization (default 30)
	Log         *slog.Logger
}

// Result counts what one sweep deleted.
type Result struct {
	Logs     int64 // request_logs rows
	Payloads int64 // request_payloads rows (with their logs or expired)
	Batches  int   // DELETE transactions that removed rows
	Skipped  bool  // another replica holds the sweep lock
}

// sweepLockID is the PostgreSQL advisory lock key of the sweep ("llmgw_rt").
const sweepLockID int64 = 0x6c6c6d67775f7274

// Run sweeps at once, then every interval, until ctx ends.
func (j *Job) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		res, err := j.Sweep(ctx, time.Now())
		switch {
		case err != nil && ctx.Err() == nil:
			j.logger().Warn("retention job failed", "error", err, "logs_deleted", res.Logs, "payloads_deleted", res.Payloads)
		case res.Logs > 0 || res.Payloads > 0:
			j.logger().Info("retention job deleted expired data", "logs", res.Logs, "payloads", res.Payloads, "batches", res.Batches)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Sweep deletes everything expired at now.
func (j *Job) Sweep(ctx context.Context, now time.Time) (res Result, err error) {
	if j.DB.IsPostgres() {
		conn, err := j.DB.SQL().Conn(ctx)
		if err != nil {
			return res, fmt.Errorf("retention: lock: %w", err)
		}
		defer conn.Close()
		var got bool
		if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", sweepLockID).Scan(&got); err != nil {
			return res, fmt.Errorf("retention: lock: %w", err)
		}
		if !got {
			res.Skipped = true
			return res, nil
		}
		defer func() {
			uctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err := conn.ExecContext(uctx, "SELECT pg_advisory_unlock($1)", sweepLockID); err != nil {
				_ = conn.Raw(func(any) error { return driver.ErrBadConn }) // drop the session, and the lock with it
			}
		}()
	}

	var orgs []models.Organization
	if err := j.DB.WithContext(ctx).Select("id", "retention_days").Order("id").Find(&orgs).Error; err != nil {
		return res, fmt.Errorf("retention: list organizations: %w", err)
	}
	// Rows of unauthenticated requests have no organization.
	orgs = append(orgs, models.Organization{ID: ""})
	def := EffectiveDays(j.DefaultDays, DefaultDays)
	for _, o := range orgs {
		cutoff := now.Add(-time.Duration(EffectiveDays(o.RetentionDays, def)) * 24 * time.Hour)
		if err := j.deleteLogs(ctx, o.ID, cutoff, &res); err != nil {
			return res, err
		}
	}
	return res, j.deleteExpiredPayloads(ctx, now, &res)
}

// deleteLogs removes the organization's logs created before cutoff, oldest
// first, with their payloads (index: request_logs (organization_id, created_at)).
func (j *Job) deleteLogs(ctx context.Context, orgID string, cutoff time.Time, res *Result) error {
	n := j.batchSize()
	for {
		var ids []string
		if err := j.DB.WithContext(ctx).Model(&models.RequestLog{}).
			Where("organization_id = ? AND created_at < ?", orgID, cutoff).
			Order("created_at").Limit(n).Pluck("id", &ids).Error; err != nil {
			return fmt.Errorf("retention: select expired logs: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		err := j.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			p := tx.Where("log_id IN ?", ids).Delete(&models.RequestPayload{})
			if p.Error != nil {
				return p.Error
			}
			l := tx.Where("id IN ?", ids).Delete(&models.RequestLog{})
			if l.Error != nil {
				return l.Error
			}
			res.Payloads += p.RowsAffected
			res.Logs += l.RowsAffected
			return nil
		})
		if err != nil {
			return fmt.Errorf("retention: delete expired logs: %w", err)
		}
		res.Batches++
		if len(ids) < n {
			return nil
		}
		if err := j.pause(ctx); err != nil {
			return err
		}
	}
}

// deleteExpiredPayloads removes payloads past their own expiry.
func (j *Job) deleteExpiredPayloads(ctx context.Context, now time.Time, res *Result) error {
	n := j.batchSize()
	for {
		var ids []string
		if err := j.DB.WithContext(ctx).Model(&models.RequestPayload{}).Where("expires_at <= ?", now).
			Order("expires_at").Limit(n).Pluck("log_id", &ids).Error; err != nil {
			return fmt.Errorf("retention: select expired payloads: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		d := j.DB.WithContext(ctx).Where("log_id IN ?", ids).Delete(&models.RequestPayload{})
		if d.Error != nil {
			return fmt.Errorf("retention: delete expired payloads: %w", d.Error)
		}
		res.Payloads += d.RowsAffected
		res.Batches++
		if len(ids) < n {
			return nil
		}
		if err := j.pause(ctx); err != nil {
			return err
		}
	}
}

func (j *Job) batchSize() int {
	if j.BatchSize <= 0 {
		return 1000
	}
	return j.BatchSize
}

func (j *Job) pause(ctx context.Context) error {
	d := j.Pause
	if d == 0 {
		d = 100 * time.Millisecond
	}
	if d < 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (j *Job) logger() *slog.Logger {
	if j.Log == nil {
		return slog.Default()
	}
	return j.Log
}
