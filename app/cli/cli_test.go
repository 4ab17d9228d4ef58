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

func run(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(args, &out, &errb)
	if code != 0 {
		return errb.String(), code
	}
	return out.String(), code
}

func TestKeysAndMasterKeysCommands(t *testing.T) {
	t.Setenv("DATA_DIR", t.TempDir())
	t.Setenv("DATABASE_URL", "")
	out, code := run(t, "setup", "--email", "ops@example.com")
	if code != 0 {
		t.Fatal(out)
	}
	var setup map[string]string
	_ = json.Unmarshal([]byte(out), &setup)

	out, code = run(t, "keys", "create", "--project", setup["projectId"], "--description", "ci key", "--usage-limit", "12.5", "--expires-in", "24h", "--test")
	var k map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &k) != nil || !strings.HasPrefix(k["token"].(string), "llmgtwy_test_") || k["usageLimit"] != "12.50" || k["expiresAt"] == nil {
		t.Fatalf("keys create: %d %s", code, out)
	}
	id := k["id"].(string)
	out, _ = run(t, "keys", "list", "--project", setup["projectId"])
	if strings.Count(out, `"id"`) != 2 || strings.Contains(out, "llmgtwy_test_"+"x") || strings.Contains(out, `"token"`) {
		t.Fatalf("keys list: %s", out)
	}
	out, code = run(t, "keys", "update", id, "--status", "inactive", "--usage-limit", "none")
	if code != 0 || !strings.Contains(out, `"status": "inactive"`) || strings.Contains(out, "usageLimit") {
		t.Fatalf("keys update: %s", out)
	}
	out, code = run(t, "keys", "roll", id)
	if code != 0 || !strings.Contains(out, `"token": "llmgtwy_test_`) {
		t.Fatalf("keys roll: %s", out)
	}
	if out, code = run(t, "keys", "delete", id); code != 0 {
		t.Fatalf("keys delete: %s", out)
	}
	if out, code = run(t, "keys", "update", "ak_missing", "--status", "active"); code == 0 {
		t.Fatalf("update of a missing key succeeded: %s", out)
	}

	// Master keys: setup made one; 9 more reach the limit of 10 active.
	for i := 0; i < 9; i++ {
		if out, code := run(t, "master-keys", "create", "--org", setup["organizationId"]); code != 0 {
			t.Fatalf("master key %d: %s", i, out)
		}
	}
	if out, code := run(t, "master-keys", "create", "--org", setup["organizationId"]); code == 0 || !strings.Contains(out, "at most 10") {
		t.Fatalf("11th master key: %d %s", code, out)
	}
	out, _ = run(t, "master-keys", "list", "--org", setup["organizationId"])
	var mks []map[string]any
	_ = json.Unmarshal([]byte(out), &mks)
	if len(mks) != 10 {
		t.Fatalf("list = %s", out)
	}
	if out, code := run(t, "master-keys", "revoke", mks[0]["id"].(string)); code != 0 {
		t.Fatal(out)
	}
	if out, code := run(t, "master-keys", "create", "--org", setup["organizationId"]); code != 0 {
		t.Fatalf("after revoking one: %s", out)
	}
}
