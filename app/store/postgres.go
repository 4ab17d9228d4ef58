package store

import (
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
)

// Pool sizing for PostgreSQL. Each gateway replica keeps at most
// pgMaxOpenConns connections, so N replicas stay well under the default
// max_connections (100) for small N; lifetimes let connections follow a
// failover or a PgBouncer/DNS change.
const (
	pgMaxOpenConns    = 20
	pgMaxIdleConns    = 10
	pgConnMaxLifetime = 30 * time.Minute
	pgConnMaxIdleTime = 5 * time.Minute
)

func openPostgres(databaseURL string) (*DB, error) {
	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		// Parse errors quote the URL (password redaction is best effort),
		// and this error ends up in logs: say what, not the URL.
		return nil, errors.New("store: invalid PostgreSQL URL (expected postgres://user:password@host:5432/dbname?sslmode=...)")
	}
	// TIMESTAMP columns hold UTC; a UTC session makes server-side
	// now()/CURRENT_TIMESTAMP casts agree with that.
	cfg.RuntimeParams["timezone"] = "UTC"

	sqlDB := sql.OpenDB(utcConnector{stdlib.GetConnector(*cfg)})
	sqlDB.SetMaxOpenConns(pgMaxOpenConns)
	sqlDB.SetMaxIdleConns(pgMaxIdleConns)
	sqlDB.SetConnMaxLifetime(pgConnMaxLifetime)
	sqlDB.SetConnMaxIdleTime(pgConnMaxIdleTime)

	gdb, err := gorm.Open(postgres.New(postgres.Config{Conn: sqlDB}), gormConfig())
	if err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("store: open postgres: %w", err)
	}
	return newDB(gdb, sqlDB, DialectPostgres)
}
