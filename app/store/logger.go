package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// gormLogger routes GORM's few messages to slog and never logs argument
// values: queries can carry prompts, API key hashes or secrets. Only failed
// queries are logged, as parameterised SQL ("... WHERE id = $1") plus the
// error; successful and slow queries are not logged at all.
type gormLogger struct{ level logger.LogLevel }

func newGormLogger() logger.Interface { return gormLogger{level: logger.Error} }

func (l gormLogger) LogMode(level logger.LogLevel) logger.Interface {
	l.level = level
	return l
}

// Info is dropped: GORM's info messages are about its own setup.
func (l gormLogger) Info(context.Context, string, ...any) {}

func (l gormLogger) Warn(ctx context.Context, msg string, args ...any) {
	if l.level >= logger.Warn {
		slog.WarnContext(ctx, "gorm: "+fmt.Sprintf(msg, args...))
	}
}

func (l gormLogger) Error(ctx context.Context, msg string, args ...any) {
	if l.level >= logger.Error {
		slog.ErrorContext(ctx, "gorm: "+fmt.Sprintf(msg, args...))
	}
}

var pgPlaceholder = regexp.MustCompile(`\$(\d+)\$`)

// maxLoggedSQL keeps a huge batched statement from flooding the log.
const maxLoggedSQL = 300

func (l gormLogger) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), err error) {
	if err == nil || l.level < logger.Error ||
		errors.Is(err, gorm.ErrRecordNotFound) || errors.Is(err, context.Canceled) {
		return
	}
	sql, _ := fc() // parameterised, thanks to ParamsFilter below
	// GORM's Explain marks unfilled PostgreSQL placeholders as "$1$".
	sql = pgPlaceholder.ReplaceAllString(sql, "$$$1")
	if len(sql) > maxLoggedSQL {
		sql = sql[:maxLoggedSQL] + "..."
	}
	slog.ErrorContext(ctx, "database query failed",
		"err", err, "sql", sql, "elapsed", time.Since(begin))
}

// ParamsFilter makes GORM hand Trace the SQL without interpolated values.
func (l gormLogger) ParamsFilter(_ context.Context, sql string, _ ...any) (string, []any) {
	return sql, nil
}
