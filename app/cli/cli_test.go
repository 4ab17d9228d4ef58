package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestHelpListsCommands(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"help"}, {"-h"}} {
		var out, errb bytes.Buffer
		if code := Main(args, &out, &errb); code != 0 {
			t.Fatalf("%v: exit %d", args, code)
		}
		for _, c := range []string{"serve", "setup", "migrate"} {
			if !strings.Contains(out.String(), c) {
				t.Errorf("%v: help lacks %s", args, c)
			}
		}
	}
	var out, errb bytes.Buffer
	if code := Main([]string{"frobnicate"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "unknown command") {
		t.Fatalf("unknown command: exit %d, %s", code, errb.String())
	}
}

func TestSetupAndMigrateOnEmbeddedDatabase(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DATA_DIR", dir)
	t.Setenv("DATABASE_URL", "")
	var out, errb bytes.Buffer
	if code := Main([]string{"setup", "--email", "Me@Example.com"}, &out, &errb); code != 0 {
		t.Fatalf("setup: exit %d: %s", code, errb.String())
	}
	var res map[string]string
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("setup output %q: %v", out.String(), err)
	}
	if !strings.HasPrefix(res["organizationId"], "org_") || !strings.HasPrefix(res["projectId"], "proj_") ||
		!strings.HasPrefix(res["masterKey"], "llmgmk_") || !strings.HasPrefix(res["apiKey"], "llmgtwy_") {
		t.Fatalf("setup = %v", res)
	}
	if !strings.Contains(errb.String(), "GATEWAY_API_KEY_HASH_SECRET is not set") {
		t.Errorf("no warning about the generated secret: %s", errb.String())
	}
	// Running it again reuses the organization and project, with fresh keys.
	out.Reset()
	if code := Main([]string{"setup", "--email", "me@example.com"}, &out, &errb); code != 0 {
		t.Fatal(errb.String())
	}
	var again map[string]string
	_ = json.Unmarshal(out.Bytes(), &again)
	if again["organizationId"] != res["organizationId"] || again["projectId"] != res["projectId"] || again["apiKey"] == res["apiKey"] {
		t.Fatalf("second setup = %v", again)
	}
	out.Reset()
	if code := Main([]string{"migrate"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "version") {
		t.Fatalf("migrate: %d %s %s", code, out.String(), errb.String())
	}
	if code := Main([]string{"setup"}, &out, &errb); code != 1 {
		t.Fatalf("setup without email: exit %d", code)
	}
}

func TestPostgresWithoutSecretsRefusesToStart(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	t.Setenv("AUTH_SECRET", "")
	t.Setenv("GATEWAY_API_KEY_HASH_SECRET", "")
	var out, errb bytes.Buffer
	if code := Main([]string{"serve"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "AUTH_SECRET") {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
}
