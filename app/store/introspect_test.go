package store_test

import (
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/llmgw/gateway/app/store"
)

// column is one column as both dialects can describe it.
type column struct {
	Name     string
	Type     string // canonical: TEXT, INTEGER, BIGINT, BOOLEAN, TIMESTAMP
	NotNull  bool
	Default  string // canonical literal, "" when none
	Position int
}

// index is one explicitly created index (primary keys excluded).
type index struct {
	Name    string
	Unique  bool
	Columns string // comma separated, in index order
}

// tables lists application tables (goose's version table is goose's own,
// created with dialect-specific DDL, so it is left out).
func tables(t *testing.T, db *store.DB) []string {
	t.Helper()
	var names []string
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`
	if db.IsPostgres() {
		q = `SELECT table_name FROM information_schema.tables
		     WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`
	}
	if err := db.Raw(q).Scan(&names).Error; err != nil {
		t.Fatal(err)
	}
	out := names[:0]
	for _, n := range names {
		if n != "goose_db_version" {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

var pgTypes = map[string]string{
	"text": "TEXT", "integer": "INTEGER", "bigint": "BIGINT",
	"boolean": "BOOLEAN", "timestamp without time zone": "TIMESTAMP",
}

// pgCast matches the "::text" PostgreSQL appends to literal defaults.
var pgCast = regexp.MustCompile(`::[a-z ]+$`)

func columns(t *testing.T, db *store.DB, table string) []column {
	t.Helper()
	var cols []column
	if db.IsPostgres() {
		var rows []struct {
			ColumnName    string
			DataType      string
			IsNullable    string
			ColumnDefault *string
			Ordinal       int
		}
		err := db.Raw(`SELECT column_name, data_type, is_nullable, column_default, ordinal_position AS ordinal
			FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ?
			ORDER BY ordinal_position`, table).Scan(&rows).Error
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			typ, ok := pgTypes[r.DataType]
			if !ok {
				t.Errorf("%s.%s: non-portable PostgreSQL type %q", table, r.ColumnName, r.DataType)
			}
			def := ""
			if r.ColumnDefault != nil {
				def = pgCast.ReplaceAllString(*r.ColumnDefault, "")
			}
			cols = append(cols, column{r.ColumnName, typ, r.IsNullable == "NO", strings.ToLower(def), r.Ordinal})
		}
		return cols
	}
	var rows []struct {
		Cid       int
		Name      string
		Type      string
		Notnull   int
		DfltValue *string
		Pk        int
	}
	if err := db.Raw(`SELECT cid, name, type, "notnull", dflt_value, pk FROM pragma_table_info(?)`, table).Scan(&rows).Error; err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		def := ""
		if r.DfltValue != nil {
			def = *r.DfltValue
		}
		// SQLite reports "NOT NULL PRIMARY KEY" columns of a composite key
		// as nullable-free only through pk; PostgreSQL forces NOT NULL.
		notNull := r.Notnull == 1 || r.Pk > 0
		cols = append(cols, column{r.Name, strings.ToUpper(r.Type), notNull, strings.ToLower(def), r.Cid + 1})
	}
	return cols
}

// pgIndexCols extracts "(a, b)" from a pg_indexes definition.
var pgIndexCols = regexp.MustCompile(`\(([^()]*)\)\s*$`)

func indexes(t *testing.T, db *store.DB, table string) []index {
	t.Helper()
	var out []index
	if db.IsPostgres() {
		var rows []struct{ Indexname, Indexdef string }
		err := db.Raw(`SELECT indexname, indexdef FROM pg_indexes
			WHERE schemaname = current_schema() AND tablename = ? AND indexname NOT LIKE '%\_pkey'`, table).Scan(&rows).Error
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			m := pgIndexCols.FindStringSubmatch(r.Indexdef)
			if m == nil {
				t.Fatalf("cannot parse %q", r.Indexdef)
			}
			out = append(out, index{r.Indexname, strings.HasPrefix(r.Indexdef, "CREATE UNIQUE"),
				strings.ReplaceAll(m[1], " ", "")})
		}
	} else {
		var rows []struct {
			Name   string
			Unique int
			Origin string
		}
		if err := db.Raw(`SELECT name, "unique", origin FROM pragma_index_list(?)`, table).Scan(&rows).Error; err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if r.Origin != "c" { // "pk"/"u": implicit indexes of constraints
				continue
			}
			var cols []string
			if err := db.Raw(`SELECT name FROM pragma_index_info(?) ORDER BY seqno`, r.Name).Scan(&cols).Error; err != nil {
				t.Fatal(err)
			}
			out = append(out, index{r.Name, r.Unique == 1, strings.Join(cols, ",")})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
