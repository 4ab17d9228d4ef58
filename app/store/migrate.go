package store

import (
	"context"
	"database/sql/driver"
	"fmt"
	"path"
	"sync"
	"time"

	"github.com/llmgw/gateway/migrations"
	"github.com/pressly/goose/v3"
)

// migrationLockID is the PostgreSQL advisory lock key held while migrating,
// so replicas starting together apply each migration once. It is an
// arbitrary constant; it only has to differ from other advisory locks the
// gateway may take.
const migrationLockID int64 = 0x6c6c6d67775f6d67 // "llmgw_mg"

// sqliteMigrateMu serialises migrations within the process. SQLite is the
// single-process embedded mode, so no cross-process lock is needed.
var sqliteMigrateMu sync.Mutex

// Migrate applies every pending migration. It is idempotent and, on
// PostgreSQL, safe to run from several processes at once: they serialise on
// an advisory lock and the later ones find nothing to do.
func Migrate(db *DB) error { return MigrateContext(context.Background(), db) }

// MigrateContext is Migrate with a deadline for acquiring the lock and
// applying the migrations.
func MigrateContext(ctx context.Context, db *DB) error {
	return db.withMigrationLock(ctx, func(p *goose.Provider) error {
		if _, err := p.Up(ctx); err != nil {
			return fmt.Errorf("store: migrate up: %w", err)
		}
		return nil
	})
}

// MigrateDownTo rolls back migrations until the schema is at version (0 drops
// everything). For the CLI and tests; it destroys data.
func MigrateDownTo(ctx context.Context, db *DB, version int64) error {
	return db.withMigrationLock(ctx, func(p *goose.Provider) error {
		if _, err := p.DownTo(ctx, version); err != nil {
			return fmt.Errorf("store: migrate down to %d: %w", version, err)
		}
		return nil
	})
}

// MigrationState is one migration file and whether it is applied.
type MigrationState struct {
	Version   int64
	Name      string // file name, e.g. 00001_init.sql
	Applied   bool
	AppliedAt time.Time // zero when pending
}

// MigrationStatus lists every known migration, oldest first, for a
// "migrate status" command.
func MigrationStatus(ctx context.Context, db *DB) ([]MigrationState, error) {
	var out []MigrationState
	err := db.withMigrationLock(ctx, func(p *goose.Provider) error {
		st, err := p.Status(ctx)
		if err != nil {
			return fmt.Errorf("store: migration status: %w", err)
		}
		for _, s := range st {
			out = append(out, MigrationState{
				Version:   s.Source.Version,
				Name:      path.Base(s.Source.Path),
				Applied:   s.State == goose.StateApplied,
				AppliedAt: s.AppliedAt,
			})
		}
		return nil
	})
	return out, err
}

// Version returns the schema version of the database (0 when empty) and
// the latest version this binary knows; current < latest means Migrate has
// work to do, current > latest means the binary is older than the schema.
func Version(ctx context.Context, db *DB) (current, latest int64, err error) {
	err = db.withMigrationLock(ctx, func(p *goose.Provider) error {
		current, latest, err = p.GetVersions(ctx)
		if err != nil {
			return fmt.Errorf("store: migration version: %w", err)
		}
		return nil
	})
	return current, latest, err
}

// withMigrationLock runs fn with a goose provider while holding the
// migration lock. Status queries take it too: goose creates its version
// table on first use, which would race with a concurrent Migrate.
func (db *DB) withMigrationLock(ctx context.Context, fn func(*goose.Provider) error) error {
	dialect := goose.DialectSQLite3
	if db.IsPostgres() {
		dialect = goose.DialectPostgres
	}
	// Never p.Close(): it would close our shared pool.
	p, err := goose.NewProvider(dialect, db.sqlDB, migrations.FS, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("store: load migrations: %w", err)
	}
	if !db.IsPostgres() {
		sqliteMigrateMu.Lock()
		defer sqliteMigrateMu.Unlock()
		return fn(p)
	}

	// Session-level advisory lock on a dedicated connection: it blocks (no
	// polling) until the holder finishes, and is released by PostgreSQL if
	// this process dies. goose's own session locker polls every 5s.
	conn, err := db.sqlDB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: migration lock: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrationLockID); err != nil {
		return fmt.Errorf("store: acquire migration lock: %w", err)
	}
	defer func() {
		// Use a fresh context: ctx may be what expired. If unlocking fails
		// the lock dies with the session anyway, so make sure it does.
		uctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := conn.ExecContext(uctx, "SELECT pg_advisory_unlock($1)", migrationLockID); err != nil {
			// ErrBadConn makes database/sql discard the session.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	return fn(p)
}
