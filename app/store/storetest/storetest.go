// Package storetest opens throw-away, fully migrated databases for tests of
// any package, on both dialects:
//
//	for _, d := range storetest.Dialects() {
//		t.Run(d, func(t *testing.T) {
//			db := storetest.Open(t, d)
//			...
//		})
//	}
//
// PostgreSQL tests need a server: TEST_DATABASE_URL (default
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable) names a
// database the test user can connect to and that has CREATEDB. An
// unreachable server fails the test: CI must never go green by skipping.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, for the admin connection
	"github.com/llmgw/gateway/app/store"
)

// DefaultPostgresURL is used when TEST_DATABASE_URL is unset.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// Dialects lists the dialects every storage test must pass on.
func Dialects() []string { return []string{store.DialectSQLite, store.DialectPostgres} }

// Open returns a freshly migrated, empty database of the given dialect,
// closed (and for PostgreSQL dropped) when the test ends.
func Open(t testing.TB, dialect string) *store.DB {
	t.Helper()
	db := OpenEmpty(t, dialect)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := store.MigrateContext(ctx, db); err != nil {
		t.Fatalf("storetest: migrate %s: %v", dialect, err)
	}
	return db
}

// OpenEmpty is Open without the migrations (for migration tests).
func OpenEmpty(t testing.TB, dialect string) *store.DB {
	t.Helper()
	db, err := store.Open(NewDatabase(t, dialect))
	if err != nil {
		t.Fatalf("storetest: open %s: %v", dialect, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// NewDatabase creates a new empty database and returns the arguments for
// store.Open: ("", a temp dir) for SQLite, (a postgres:// URL, "") for
// PostgreSQL. Open it several times to get independent pools on the same
// database (e.g. to test concurrent migrations); close what you open.
func NewDatabase(t testing.TB, dialect string) (databaseURL, dataDir string) {
	t.Helper()
	switch dialect {
	case store.DialectSQLite:
		return "", t.TempDir()
	case store.DialectPostgres:
		return createPostgresDB(t), ""
	default:
		t.Fatalf("storetest: unknown dialect %q (want one of %v)", dialect, Dialects())
		return "", ""
	}
}

// createPostgresDB creates gw_test_<random> and drops it at cleanup.
func createPostgresDB(t testing.TB) string {
	t.Helper()
	adminURL := os.Getenv("TEST_DATABASE_URL")
	if adminURL == "" {
		adminURL = DefaultPostgresURL
	}
	admin, err := sql.Open("pgx", adminURL)
	if err != nil {
		t.Fatalf("storetest: invalid TEST_DATABASE_URL: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		admin.Close()
		t.Fatalf("storetest: PostgreSQL is unreachable (TEST_DATABASE_URL=%s): %v\n"+
			"Start it or point TEST_DATABASE_URL at a server; PostgreSQL tests never skip.", redact(adminURL), err)
	}

	name := "gw_test_" + randomHex(8)
	// The name is ours (hex), so formatting it into DDL is safe.
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close()
		t.Fatalf("storetest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		// Cleanups run last-in first-out, so pools opened on this database
		// after NewDatabase are closed by now; FORCE ends any a test leaked.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("storetest: drop database %s: %v", name, err)
		}
		admin.Close()
	})

	u, err := url.Parse(adminURL)
	if err != nil {
		t.Fatalf("storetest: TEST_DATABASE_URL must be a postgres:// URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// redact hides a password in a URL for error messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable)"
	}
	return u.Redacted()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
