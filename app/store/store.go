// Package store opens the gateway database and owns its schema lifecycle.
//
// Two backends sit behind the same GORM handle: an embedded SQLite file (no
// DATABASE_URL: a single binary works out of the box) and PostgreSQL (for
// several gateway replicas). The schema is identical on both; it is created
// only by the goose migrations in /migrations (see Migrate), never by GORM.
//
// Time contract: every time.Time bound as a query argument is converted to
// UTC and truncated to microseconds at the driver level (see utc.go), and
// times read back are UTC. Columns are zone-less TIMESTAMPs on both sides.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Dialect names, as found in DB.Dialect.
const (
	DialectSQLite   = "sqlite"
	DialectPostgres = "postgres"
)

// DB is the gateway's database handle: the embedded *gorm.DB is safe for
// concurrent use and is what repositories query through.
type DB struct {
	*gorm.DB
	// Dialect is DialectSQLite or DialectPostgres; use it for the rare
	// statement that cannot be written portably.
	Dialect string

	sqlDB *sql.DB
}

// Open connects to the database named by databaseURL:
//
//   - "" opens (creating if needed) the embedded SQLite file {dataDir}/gateway.db,
//     creating dataDir with mode 0700;
//   - postgres:// or postgresql:// opens a PostgreSQL connection pool;
//   - anything else is an error.
//
// Open does not migrate: call Migrate before serving.
func Open(databaseURL, dataDir string) (*DB, error) {
	switch {
	case databaseURL == "":
		return openSQLite(dataDir)
	case strings.HasPrefix(databaseURL, "postgres://"), strings.HasPrefix(databaseURL, "postgresql://"):
		return openPostgres(databaseURL)
	default:
		// Never echo the URL: it may carry a password. The scheme is safe
		// to show when there is one.
		what := "database URL"
		if scheme, _, ok := strings.Cut(databaseURL, "://"); ok && len(scheme) <= 20 && !strings.ContainsAny(scheme, "@:/") {
			what = fmt.Sprintf("database URL scheme %q", scheme)
		}
		return nil, fmt.Errorf("store: unsupported %s: use postgres:// or postgresql://, or leave DATABASE_URL empty for the embedded SQLite database", what)
	}
}

// gormConfig is shared by both dialects.
func gormConfig() *gorm.Config {
	return &gorm.Config{
		Logger: newGormLogger(),
		// Microsecond precision is what PostgreSQL keeps; truncating here
		// makes an in-memory model equal to what is read back, on both sides.
		NowFunc: func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) },
		// pgx already caches prepared statements per connection; a second
		// GORM-level cache only adds memory and breaks behind PgBouncer.
		PrepareStmt: false,
		// The schema is owned by the migrations; never let GORM create FKs.
		DisableForeignKeyConstraintWhenMigrating: true,
	}
}

// newDB wraps an opened gorm handle, closing the pool if that fails.
func newDB(gdb *gorm.DB, sqlDB *sql.DB, dialect string) (*DB, error) {
	if err := sqlDB.PingContext(context.Background()); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("store: connect to %s: %w", dialect, err)
	}
	return &DB{DB: gdb, Dialect: dialect, sqlDB: sqlDB}, nil
}

// SQL returns the underlying connection pool (for database/sql level work
// such as batched inserts).
func (db *DB) SQL() *sql.DB { return db.sqlDB }

// Ping checks that the database answers, for /health. Give ctx a short
// deadline: a hung database must not hang the health check.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.sqlDB.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping %s: %w", db.Dialect, err)
	}
	return nil
}

// Close closes the connection pool.
func (db *DB) Close() error { return db.sqlDB.Close() }

// IsPostgres reports whether the database is PostgreSQL.
func (db *DB) IsPostgres() bool { return db.Dialect == DialectPostgres }

var errNoDataDir = errors.New("store: dataDir is required for the embedded SQLite database (DATABASE_URL is empty)")
