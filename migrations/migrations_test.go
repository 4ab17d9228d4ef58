package migrations

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"
)

// These checks are static; app/store's tests run the files on both
// databases and compare the resulting schemas.

var fileName = regexp.MustCompile(`^\d{5}_[a-z0-9_]+\.sql$`)

// nonPortable lists SQL that one of the two databases rejects or treats
// differently. Matched case-insensitively outside comments.
var nonPortable = []string{
	"SERIAL", "AUTOINCREMENT", "IDENTITY", "TIMESTAMPTZ", "WITH TIME ZONE",
	"JSONB", "BYTEA", "BLOB", "NOW()", "CURRENT_TIMESTAMP", "DATETIME(",
	"IF NOT EXISTS", // hides drift: a migration must know what exists
}

func TestMigrationFiles(t *testing.T) {
	files, err := fs.Glob(FS, "*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations embedded: %v", err)
	}
	versions := map[string]bool{}
	for _, name := range files {
		if !fileName.MatchString(name) {
			t.Errorf("%s: want 00001_snake_case.sql", name)
		}
		if versions[name[:5]] {
			t.Errorf("%s: duplicate version %s", name, name[:5])
		}
		versions[name[:5]] = true

		raw, err := fs.ReadFile(FS, name)
		if err != nil {
			t.Fatal(err)
		}
		text := string(raw)
		up := strings.Index(text, "-- +goose Up")
		down := strings.Index(text, "-- +goose Down")
		if up < 0 || down < up {
			t.Errorf("%s: needs a -- +goose Up section followed by a -- +goose Down section", name)
		}
		for i, line := range strings.Split(text, "\n") {
			code, _, _ := strings.Cut(line, "--")
			upper := strings.ToUpper(code)
			for _, bad := range nonPortable {
				if strings.Contains(upper, bad) {
					t.Errorf("%s:%d: non-portable %q", name, i+1, bad)
				}
			}
		}
	}
}
