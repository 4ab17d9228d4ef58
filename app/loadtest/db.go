package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
)

// benchDB is the throw-away PostgreSQL database of one benchmark run.
type benchDB struct {
	admin *sql.DB // on the server's maintenance database
	db    *sql.DB // on the bench database
	name  string
	url   string
}

// createBenchDB creates gw_bench_<random> on the server of adminURL.
func createBenchDB(ctx context.Context, adminURL string) (*benchDB, error) {
	admin, err := sql.Open("pgx", adminURL)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := admin.PingContext(pctx); err != nil {
		admin.Close()
		return nil, fmt.Errorf("PostgreSQL at %s is unreachable (set -pg): %w", redact(adminURL), err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "gw_bench_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(pctx, "CREATE DATABASE "+name); err != nil { // name is ours: safe in DDL
		admin.Close()
		return nil, fmt.Errorf("create database %s: %w", name, err)
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		admin.Close()
		return nil, err
	}
	u.Path = "/" + name
	bdb := &benchDB{admin: admin, name: name, url: u.String()}
	bdb.db, err = sql.Open("pgx", bdb.url)
	if err != nil {
		bdb.drop()
		return nil, err
	}
	return bdb, nil
}

// drop removes the database, ending any session still on it.
func (b *benchDB) drop() error {
	if b.db != nil {
		b.db.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := b.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+b.name+" WITH (FORCE)")
	b.admin.Close()
	return err
}

// logRows counts the request-log rows written so far.
func (b *benchDB) logRows(ctx context.Context) (int64, error) {
	var n int64
	err := b.db.QueryRowContext(ctx, "SELECT count(*) FROM request_logs").Scan(&n)
	return n, err
}

// stallLogs holds an ACCESS EXCLUSIVE lock on request_logs for d: every
// log write of the gateway waits (its database stops answering for the
// request log) while everything else keeps working. It returns when the
// lock is taken; done is closed when it is released.
func (b *benchDB) stallLogs(ctx context.Context, d time.Duration) (done <-chan error, err error) {
	tx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, "LOCK TABLE request_logs IN ACCESS EXCLUSIVE MODE"); err != nil {
		tx.Rollback()
		return nil, err
	}
	ch := make(chan error, 1)
	go func() {
		select {
		case <-time.After(d):
		case <-ctx.Done():
		}
		ch <- tx.Commit()
	}()
	return ch, nil
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
