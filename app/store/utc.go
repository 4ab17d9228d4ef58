package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"time"
)

// Why a driver wrapper: columns are zone-less TIMESTAMPs. pgx encodes a
// time.Time for a TIMESTAMP parameter by dropping its zone (wall clock kept),
// and SQLite stores and compares times as text with the offset. Either way a
// non-UTC time.Time, written or used in "updated_at > ?", silently shifts or
// misorders. Normalising every argument here covers GORM, raw SQL and goose
// alike, so callers cannot forget it. Truncation to microseconds matches what
// PostgreSQL keeps, so both dialects return exactly the same value.

// UTC returns t as the database stores it: UTC, microsecond precision.
func UTC(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// normalizeArg rewrites time arguments; ok reports whether it did.
func normalizeArg(v any) (any, bool) {
	switch t := v.(type) {
	case time.Time:
		return UTC(t), true
	case *time.Time:
		if t != nil {
			return UTC(*t), true
		}
	case sql.NullTime:
		if t.Valid {
			return UTC(t.Time), true
		}
		return nil, true
	}
	return v, false
}

// dsnConnector adapts a driver without a Connector (glebarez/go-sqlite).
type dsnConnector struct {
	drv driver.Driver
	dsn string
}

func (c dsnConnector) Connect(context.Context) (driver.Conn, error) { return c.drv.Open(c.dsn) }
func (c dsnConnector) Driver() driver.Driver                        { return c.drv }

// utcConnector hands out utcConns.
type utcConnector struct{ inner driver.Connector }

func (c utcConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return utcConn{conn}, nil
}

func (c utcConnector) Driver() driver.Driver { return c.inner.Driver() }

// utcConn forwards every optional interface database/sql looks for, so the
// wrapper costs nothing but the argument check.
type utcConn struct{ driver.Conn }

var (
	_ driver.ConnBeginTx        = utcConn{}
	_ driver.ConnPrepareContext = utcConn{}
	_ driver.ExecerContext      = utcConn{}
	_ driver.QueryerContext     = utcConn{}
	_ driver.Pinger             = utcConn{}
	_ driver.SessionResetter    = utcConn{}
	_ driver.Validator          = utcConn{}
	_ driver.NamedValueChecker  = utcConn{}
)

// CheckNamedValue is called by database/sql for every argument before
// Exec/Query, whether or not a statement is prepared.
func (c utcConn) CheckNamedValue(nv *driver.NamedValue) error {
	if v, ok := normalizeArg(nv.Value); ok {
		nv.Value = v
	}
	if nvc, ok := c.Conn.(driver.NamedValueChecker); ok {
		return nvc.CheckNamedValue(nv)
	}
	return driver.ErrSkip // database/sql's default conversion
}

func (c utcConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if b, ok := c.Conn.(driver.ConnBeginTx); ok {
		return b.BeginTx(ctx, opts)
	}
	if opts.Isolation != 0 || opts.ReadOnly {
		return nil, errors.New("store: driver does not support transaction options")
	}
	return c.Conn.Begin() //nolint:staticcheck // fallback for old drivers
}

func (c utcConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if p, ok := c.Conn.(driver.ConnPrepareContext); ok {
		return p.PrepareContext(ctx, query)
	}
	return c.Conn.Prepare(query)
}

func (c utcConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if e, ok := c.Conn.(driver.ExecerContext); ok {
		return e.ExecContext(ctx, query, args)
	}
	return nil, driver.ErrSkip
}

func (c utcConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if q, ok := c.Conn.(driver.QueryerContext); ok {
		return q.QueryContext(ctx, query, args)
	}
	return nil, driver.ErrSkip
}

func (c utcConn) Ping(ctx context.Context) error {
	if p, ok := c.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c utcConn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c utcConn) IsValid() bool {
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}
