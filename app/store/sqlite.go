package store

import (
	"database/sql"
	"database/sql/driver"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/glebarez/sqlite"
	"gorm.io/gorm"
)

// sqliteFile is the database file name inside the data directory.
const sqliteFile = "gateway.db"

// sqliteParams are applied by the driver on every new connection:
//   - WAL lets readers proceed while the log writer commits;
//   - busy_timeout makes writers wait for the lock instead of failing;
//   - foreign_keys is off by default in SQLite and must be on per connection;
//   - synchronous=NORMAL is durable in WAL mode except for the last commits
//     on power loss, and much faster than FULL;
//   - _txlock=immediate takes the write lock at BEGIN: a deferred transaction
//     that reads then writes can fail with SQLITE_BUSY without waiting.
const sqliteParams = "_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)" +
	"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"

// sqliteMaxConns bounds the pool: WAL allows many readers but one writer, so
// more connections would only queue on the write lock.
const sqliteMaxConns = 8

func openSQLite(dataDir string) (*DB, error) {
	if dataDir == "" {
		return nil, errNoDataDir
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("store: create data dir: %w", err)
	}
	path := filepath.Join(dataDir, sqliteFile)
	// The driver splits the DSN at the first '?', so a path containing one
	// would silently open another file.
	if strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("store: data dir %q must not contain '?'", dataDir)
	}
	drv, err := sqliteDriver()
	if err != nil {
		return nil, err
	}
	sqlDB := sql.OpenDB(utcConnector{dsnConnector{drv: drv, dsn: path + "?" + sqliteParams}})
	sqlDB.SetMaxOpenConns(sqliteMaxConns)
	sqlDB.SetMaxIdleConns(sqliteMaxConns)

	gdb, err := gorm.Open(&sqlite.Dialector{Conn: sqlDB}, gormConfig())
	if err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("store: open sqlite %s: %w", path, err)
	}
	return newDB(gdb, sqlDB, DialectSQLite)
}

// sqliteDriver returns the pure-Go SQLite driver registered by
// github.com/glebarez/go-sqlite, so it can be wrapped (see utc.go).
func sqliteDriver() (driver.Driver, error) {
	db, err := sql.Open(sqlite.DriverName, "")
	if err != nil {
		return nil, fmt.Errorf("store: sqlite driver: %w", err)
	}
	defer db.Close()
	return db.Driver(), nil
}
