// Package migrations holds the versioned goose SQL migrations that own the
// database schema. GORM never auto-migrates: models/ mirrors these files.
//
// One set of files runs unchanged on SQLite and PostgreSQL, so they use only
// portable types: TEXT, INTEGER, BIGINT, BOOLEAN, TIMESTAMP. Times are stored
// in UTC (app/store normalises every bound time.Time), because TIMESTAMP has
// no zone on either side and SQLite compares them as text.
//
// Rules for new files: never edit an applied file, add 0000N_name.sql with
// both "-- +goose Up" and "-- +goose Down" sections, no SERIAL/IDENTITY/
// AUTOINCREMENT (not portable), no DB-side time defaults (CURRENT_TIMESTAMP
// follows the PostgreSQL session time zone), and run
// `go test ./app/store/` which checks both dialects end up identical.
package migrations

import "embed"

// FS holds every migration file, at the root of the FS.
//
//go:embed *.sql
var FS embed.FS
