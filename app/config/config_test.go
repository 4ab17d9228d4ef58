package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	c, err := LoadFrom(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 8080 || !c.Embedded() || c.DataDir != "./data" || c.MaxBodyBytes != 32<<20 || c.UpstreamTimeout.Seconds() != 600 {
		t.Fatalf("defaults = %+v", c)
	}
}

func TestProviderEnv(t *testing.T) {
	c, _ := LoadFrom(env(map[string]string{
		"LLM_OPENAI_API_KEY":            " k1, k2 ,,k3 ",
		"LLM_GOOGLE_AI_STUDIO_API_KEY":  "g",
		"LLM_GOOGLE_AI_STUDIO_BASE_URL": "http://127.0.0.1:9/",
	}))
	if got := c.ProviderKeys("openai"); strings.Join(got, "|") != "k1|k2|k3" {
		t.Fatalf("pool = %q", got)
	}
	if got := c.ProviderKeys("google-ai-studio"); len(got) != 1 || got[0] != "g" {
		t.Fatalf("google keys = %q", got)
	}
	if got := c.ProviderBaseURL("google-ai-studio"); got != "http://127.0.0.1:9" {
		t.Fatalf("base = %q", got)
	}
}

func TestInvalidValues(t *testing.T) {
	for _, m := range []map[string]string{
		{"PORT": "eighty"},
		{"GATEWAY_UPSTREAM_TIMEOUT": "soon"},
		{"DATABASE_URL": "mysql://x"},
	} {
		if _, err := LoadFrom(env(m)); err == nil {
			t.Errorf("%v accepted", m)
		}
	}
}

func TestPostgresRequiresSecrets(t *testing.T) {
	c, _ := LoadFrom(env(map[string]string{"DATABASE_URL": "postgres://x@127.0.0.1/db"}))
	err := c.EnsureSecrets()
	if err == nil || !strings.Contains(err.Error(), "AUTH_SECRET") || !strings.Contains(err.Error(), "GATEWAY_API_KEY_HASH_SECRET") {
		t.Fatalf("err = %v", err)
	}
}

func TestEmbeddedSecretsArePersisted(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	c, _ := LoadFrom(env(map[string]string{"DATA_DIR": dir}))
	if err := c.EnsureSecrets(); err != nil {
		t.Fatal(err)
	}
	if len(c.GeneratedSecrets) != 2 || len(c.AuthSecret) != 64 || c.AuthSecret == c.KeyHashSecret {
		t.Fatalf("secrets: %+v", c)
	}
	fi, err := os.Stat(filepath.Join(dir, "api_key_hash_secret"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret file: %v %v", fi, err)
	}
	again, _ := LoadFrom(env(map[string]string{"DATA_DIR": dir}))
	if err := again.EnsureSecrets(); err != nil || again.KeyHashSecret != c.KeyHashSecret || again.AuthSecret != c.AuthSecret {
		t.Fatalf("secrets not stable across restarts")
	}
}

// TestREADMEDocumentsEveryOption keeps the README's configuration table honest.
func TestREADMEDocumentsEveryOption(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, o := range Options {
		if !strings.Contains(readme, "| `"+o.Env+"` |") {
			t.Errorf("README's configuration table lacks %s", o.Env)
		}
	}
}
