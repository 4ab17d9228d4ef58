package usage

import (
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/llmgw/gateway/app/store"
	"github.com/llmgw/gateway/models"
	"gorm.io/gorm/schema"
)

// Bound parameters per statement. The SQLite driver binds each parameter
// with a linear search over all arguments (quadratic per statement), so
// small statements are much faster there: 999 (SQLite's historical limit)
// measured ~5x faster than 32000 for a 500-row batch. PostgreSQL (limit
// 65535) is flat above a few thousand; staying moderate keeps the
// statements pgx prepares and caches per connection small.
const (
	pgMaxParams     = 8000
	sqliteMaxParams = 999
)

// batchWriter turns a slice of rows into one transaction. It works at the
// database/sql level: one multi-row INSERT per chunk is far cheaper than
// GORM's per-statement reflection and hooks, and the RETURNING clause is
// needed to make retries idempotent.
type batchWriter struct {
	db        *store.DB
	pg        bool
	fields    []*schema.Field // request_logs columns, in model order
	insertSQL string          // "INSERT INTO request_logs (...) VALUES "
	maxParams int             // bound parameters per statement
	rowsPer   int             // rows per INSERT statement
	failpoint func(stage string, rows []*models.RequestLog) error
}

func newBatchWriter(db *store.DB, failpoint func(string, []*models.RequestLog) error) *batchWriter {
	// The column list comes from the model through GORM's naming, so a
	// field added to models.RequestLog (and to a migration) is written
	// without touching this package.
	s, err := schema.Parse(&models.RequestLog{}, &sync.Map{}, db.NamingStrategy)
	if err != nil {
		panic(fmt.Sprintf("usage: parse models.RequestLog: %v", err)) // a programming error
	}
	b := &batchWriter{db: db, pg: db.IsPostgres(), failpoint: failpoint}
	names := make([]string, 0, len(s.Fields))
	for _, f := range s.Fields {
		if f.DBName == "" {
			continue
		}
		b.fields = append(b.fields, f)
		names = append(names, f.DBName)
	}
	b.insertSQL = "INSERT INTO request_logs (" + strings.Join(names, ", ") + ") VALUES "
	b.maxParams = sqliteMaxParams
	if b.pg {
		b.maxParams = pgMaxParams
	}
	b.rowsPer = b.maxParams / len(names)
	return b
}

func (b *batchWriter) fail(stage string, rows []*models.RequestLog) error {
	if b.failpoint == nil {
		return nil
	}
	return b.failpoint(stage, rows)
}

// write stores rows and their rollups in one transaction.
//
// Idempotence: a commit can succeed while the client sees an error (the
// connection drops before the reply). The retry then finds the rows
// already there: ON CONFLICT (id) DO NOTHING skips them and RETURNING
// tells which rows were really inserted, so only those are added to the
// rollups and nothing is counted twice.
func (b *batchWriter) write(ctx context.Context, rows []*models.RequestLog) (err error) {
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()

	tx, err := b.db.SQL().BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err := b.fail("begin", rows); err != nil {
		return err
	}

	inserted := make(map[string]struct{}, len(rows))
	for start := 0; start < len(rows); start += b.rowsPer {
		if err := b.insertLogs(ctx, tx, rows[start:min(start+b.rowsPer, len(rows))], inserted); err != nil {
			return err
		}
	}
	if err := b.fail("after-logs", rows); err != nil {
		return err
	}

	if err := b.upsertRollups(ctx, tx, aggregate(rows, inserted)); err != nil {
		return err
	}
	if err := b.fail("before-commit", rows); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return b.fail("after-commit", rows)
}

func (b *batchWriter) insertLogs(ctx context.Context, tx *sql.Tx, rows []*models.RequestLog, inserted map[string]struct{}) error {
	var q strings.Builder
	q.Grow(len(b.insertSQL) + len(rows)*len(b.fields)*5 + 64)
	q.WriteString(b.insertSQL)
	args := make([]any, 0, len(rows)*len(b.fields))
	for i, r := range rows {
		if i > 0 {
			q.WriteByte(',')
		}
		rv := reflect.ValueOf(r)
		q.WriteByte('(')
		for j, f := range b.fields {
			if j > 0 {
				q.WriteByte(',')
			}
			v, _ := f.ValueOf(ctx, rv)
			if s, ok := v.(string); ok {
				v = cleanText(s)
			}
			args = append(args, v)
			b.placeholder(&q, len(args))
		}
		q.WriteByte(')')
	}
	q.WriteString(" ON CONFLICT (id) DO NOTHING RETURNING id")

	res, err := tx.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return fmt.Errorf("insert request_logs: %w", err)
	}
	defer res.Close()
	for res.Next() {
		var id string
		if err := res.Scan(&id); err != nil {
			return fmt.Errorf("insert request_logs: %w", err)
		}
		inserted[id] = struct{}{}
	}
	if err := res.Err(); err != nil {
		return fmt.Errorf("insert request_logs: %w", err)
	}
	return nil
}

// rollupCols is the usage_hourly column order used by upsertRollups.
const rollupCols = "hour, organization_id, project_id, api_key_id, model, provider, " +
	"requests, errors, prompt_tokens, completion_tokens, cached_tokens, total_tokens, cost, unpriced_requests"

// rollupUpsertTail adds to an existing row instead of replacing it. The
// syntax is valid on PostgreSQL and on SQLite >= 3.24.
const rollupUpsertTail = ` ON CONFLICT (hour, organization_id, project_id, api_key_id, model, provider) DO UPDATE SET
 requests = usage_hourly.requests + excluded.requests,
 errors = usage_hourly.errors + excluded.errors,
 prompt_tokens = usage_hourly.prompt_tokens + excluded.prompt_tokens,
 completion_tokens = usage_hourly.completion_tokens + excluded.completion_tokens,
 cached_tokens = usage_hourly.cached_tokens + excluded.cached_tokens,
 total_tokens = usage_hourly.total_tokens + excluded.total_tokens,
 cost = usage_hourly.cost + excluded.cost,
 unpriced_requests = usage_hourly.unpriced_requests + excluded.unpriced_requests`

const rollupNCols = 14

func (b *batchWriter) upsertRollups(ctx context.Context, tx *sql.Tx, rollups []models.UsageHourly) error {
	per := b.maxParams / rollupNCols
	for start := 0; start < len(rollups); start += per {
		chunk := rollups[start:min(start+per, len(rollups))]
		var q strings.Builder
		q.WriteString("INSERT INTO usage_hourly (" + rollupCols + ") VALUES ")
		args := make([]any, 0, len(chunk)*rollupNCols)
		for i, u := range chunk {
			if i > 0 {
				q.WriteByte(',')
			}
			args = append(args, u.Hour, u.OrganizationID, u.ProjectID, u.APIKeyID, u.Model, u.Provider,
				u.Requests, u.Errors, u.PromptTokens, u.CompletionTokens, u.CachedTokens, u.TotalTokens,
				u.Cost, u.UnpricedRequests)
			q.WriteByte('(')
			for j := rollupNCols; j > 0; j-- {
				b.placeholder(&q, len(args)-j+1)
				if j > 1 {
					q.WriteByte(',')
				}
			}
			q.WriteByte(')')
		}
		q.WriteString(rollupUpsertTail)
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("upsert usage_hourly: %w", err)
		}
	}
	return nil
}

// placeholder writes the n-th (1-based) bind parameter in the dialect's
// syntax.
func (b *batchWriter) placeholder(q *strings.Builder, n int) {
	if !b.pg {
		q.WriteByte('?')
		return
	}
	q.WriteByte('$')
	q.WriteString(strconv.Itoa(n))
}
