package store_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/llmgw/gateway/app/store"
	"github.com/llmgw/gateway/app/store/storetest"
)

func TestOpenRejectsOtherURLs(t *testing.T) {
	for _, u := range []string{"mysql://root:s3cret@db/x", "sqlite:///tmp/x.db", "s3cret"} {
		db, err := store.Open(u, t.TempDir())
		if err == nil {
			db.Close()
			t.Fatalf("Open(%q) succeeded", u)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("error leaks the URL: %v", err)
		}
	}
	_, err := store.Open("postgres://u:s3cret@host:notaport/db", "")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("bad postgres URL: %v", err)
	}
	if _, err := store.Open("", ""); err == nil {
		t.Error("SQLite without a data dir succeeded")
	}
}

func TestOpenSQLite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "data")
	db, err := store.Open("", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.Dialect != store.DialectSQLite || db.IsPostgres() {
		t.Errorf("dialect %q", db.Dialect)
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("data dir: %v %v, want 0700", fi.Mode(), err)
	}
	if _, err := os.Stat(filepath.Join(dir, "gateway.db")); err != nil {
		t.Error(err)
	}
	// Pragmas hold on every pooled connection, so check several at once.
	ctx := context.Background()
	conns := make([]interface{ Close() error }, 0, 4)
	for range 4 {
		c, err := db.SQL().Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		for pragma, want := range map[string]string{
			"journal_mode": "wal", "foreign_keys": "1", "busy_timeout": "5000", "synchronous": "1",
		} {
			var got string
			if err := c.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("PRAGMA %s = %s, want %s", pragma, got, want)
			}
		}
	}
	for _, c := range conns {
		c.Close()
	}
}

func TestPostgresSession(t *testing.T) {
	db := storetest.Open(t, store.DialectPostgres)
	if !db.IsPostgres() {
		t.Fatal("not postgres")
	}
	var tz string
	if err := db.Raw("SHOW TimeZone").Scan(&tz).Error; err != nil || tz != "UTC" {
		t.Errorf("session TimeZone %q %v, want UTC", tz, err)
	}
	if n := db.SQL().Stats().MaxOpenConnections; n != 20 {
		t.Errorf("MaxOpenConnections %d", n)
	}
}

func TestPing(t *testing.T) {
	for _, d := range storetest.Dialects() {
		t.Run(d, func(t *testing.T) {
			db := storetest.Open(t, d)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := db.Ping(ctx); err != nil {
				t.Fatal(err)
			}
			db.Close()
			if err := db.Ping(ctx); err == nil {
				t.Error("ping on a closed pool succeeded")
			}
		})
	}
}
