package store

import (
	"errors"
	"strings"

	gosqlite "github.com/glebarez/go-sqlite"
	"github.com/jackc/pgx/v5/pgconn"
)

// IsDataError reports whether err was caused by the values in the statement
// (constraint violation, value out of range, invalid text, index row too
// large), so retrying the same statement can never succeed. Everything else
// (connection lost, database busy, read-only after a failover, disk full) is
// treated as transient: callers holding data should retry, not drop it.
func IsDataError(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && len(pgErr.Code) == 5 {
		switch pgErr.Code[:2] {
		case "22", // data exception
			"23", // integrity constraint violation
			"54": // program limit exceeded (e.g. index row size)
			return true
		}
		return false
	}
	// pgx rejects client-side a value it cannot encode for the parameter's
	// type (say an int beyond INTEGER): the server never sees it, so there
	// is no SQLSTATE, only this wrapped message.
	if strings.Contains(err.Error(), "failed to encode args[") {
		return true
	}
	var sqErr *gosqlite.Error
	if errors.As(err, &sqErr) {
		// Extended result codes keep the primary code in the low byte.
		switch sqErr.Code() & 0xff {
		case 18, // SQLITE_TOOBIG
			19, // SQLITE_CONSTRAINT
			20, // SQLITE_MISMATCH
			25: // SQLITE_RANGE
			return true
		}
	}
	return false
}
