package catalog

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const exampleFile = `
providers:
  - {id: acme, baseUrl: "http://127.0.0.1:9000/", apiKey: "sk-acme"}
models:
  - id: my-chat
    name: My chat
    providers:
      - {provider: openai, model: gpt-4o-mini, inputPrice: 0.15, outputPrice: 0.60}
      - {provider: acme, model: my-chat-v1, inputPrice: 0.10, outputPrice: 0.40}
  - id: gpt-4o
    contextLength: 64000
    providers:
      - {provider: openai, model: gpt-4o-2024-11-20, inputPrice: 2.0, outputPrice: 8}
      - {provider: acme, model: acme-4o, maxOutput: 1000}
  - id: unlisted
    capabilities: []
    providers:
      - {provider: acme, model: unlisted-v2, requestPrice: 0.001}
`

func TestOverrides(t *testing.T) {
	c := mustLoad(t, exampleFile)

	acme, ok := c.Provider("acme")
	if !ok || !acme.Custom || acme.Kind != "openai" || acme.BaseURL != "http://127.0.0.1:9000" || acme.APIKey != "sk-acme" || acme.Name != "acme" {
		t.Fatalf("acme = %+v", acme)
	}
	if ps := c.Providers(); ps[len(ps)-1] != acme {
		t.Error("custom providers come after the built-ins")
	}

	// A new model with defaults.
	m, ok := c.Model("my-chat")
	if !ok {
		t.Fatal("my-chat missing")
	}
	if m.Name != "My chat" || m.OwnedBy != "openai" || m.Capabilities != uncheckedCapabilities || len(m.Offers) != 2 {
		t.Errorf("my-chat = %+v", *m)
	}
	if p := m.Offers[1].Price; p != (Price{Input: 100_000, Output: 400_000, Known: true}) {
		t.Errorf("my-chat@acme price %+v", p)
	}
	if ms := c.Models(); ms[len(ms)-2] != m {
		t.Error("new models come after the built-ins in file order")
	}

	// A built-in overridden: scalar replaced, others kept, offer replaced, offer appended.
	m, _ = c.Model("gpt-4o")
	if m.ContextLength != 64000 || m.MaxOutput != 16384 || m.Name != "GPT-4o" || !m.Capabilities.Vision {
		t.Errorf("gpt-4o = %+v", *m)
	}
	if len(m.Offers) != 3 {
		t.Fatalf("gpt-4o offers %d", len(m.Offers))
	}
	if o := m.Offers[0]; o.Provider != "openai" || o.Model != "gpt-4o-2024-11-20" ||
		o.Price != (Price{Input: 2_000_000, Output: 8_000_000, Known: true}) || o.ContextLength != 64000 {
		t.Errorf("replaced offer %+v", *o)
	}
	if o := m.Offers[1]; o.Provider != "openrouter" || o.Price.Input != 2_500_000 {
		t.Errorf("untouched offer %+v", *o)
	}
	if o := m.Offers[2]; o.Provider != "acme" || o.Price.Known || o.MaxOutput != 1000 || o.ContextLength != 64000 {
		t.Errorf("appended offer %+v", *o)
	}
	if got := c.Unpriced(); len(got) != 1 || got[0] != "acme/acme-4o" {
		t.Errorf("Unpriced = %v", got)
	}

	m, _ = c.Model("unlisted")
	if m.Capabilities != (Capabilities{}) || m.Offers[0].Price != (Price{Request: 1_000_000_000, Known: true}) {
		t.Errorf("unlisted = %+v %+v", *m, m.Offers[0].Price)
	}

	// The embedded catalog is parsed anew for every load: no leaking overrides.
	plain := mustLoad(t, "")
	if m, _ := plain.Model("gpt-4o"); m.ContextLength != 128000 || len(m.Offers) != 2 {
		t.Errorf("override leaked into a later load: %+v", *m)
	}
}

func TestOverridePriceKinds(t *testing.T) {
	c := mustLoad(t, `
models:
  - id: gpt-4o-mini
    providers:
      - {provider: openai, model: gpt-4o-mini, free: true}
      - {provider: openrouter, model: openai/gpt-4o-mini}
`)
	m, _ := c.Model("gpt-4o-mini")
	if p := m.Offers[0].Price; p != (Price{Known: true, Free: true}) {
		t.Errorf("free price %+v", p)
	}
	if p := m.Offers[1].Price; p.Known {
		t.Errorf("offer without prices must be unknown, got %+v", p)
	}
	if got := c.Unpriced(); len(got) != 1 || got[0] != "openrouter/openai/gpt-4o-mini" {
		t.Errorf("Unpriced = %v", got)
	}
}

func TestOverrideErrors(t *testing.T) {
	cases := []struct{ name, file, want string }{
		{"unknown provider", `
models:
  - {id: x, providers: [{provider: nope, model: x, inputPrice: 1}]}`, `unknown provider "nope"`},
		{"bad provider id", `
providers: [{id: Acme1, baseUrl: "http://h"}]`, `^[a-z]+$`},
		{"dash in provider id", `
providers: [{id: my-acme, baseUrl: "http://h"}]`, `^[a-z]+$`},
		{"clash with built-in", `
providers: [{id: openai, baseUrl: "http://h"}]`, `clashes with the built-in`},
		{"provider twice", `
providers: [{id: acme, baseUrl: "http://h"}, {id: acme, baseUrl: "http://h"}]`, `declared twice`},
		{"missing baseUrl", `
providers: [{id: acme}]`, `baseUrl is required`},
		{"bad baseUrl", `
providers: [{id: acme, baseUrl: "ftp://h"}]`, `http(s) URL`},
		{"relative baseUrl", `
providers: [{id: acme, baseUrl: "localhost:9000"}]`, `http(s) URL`},
		{"test kind", `
providers: [{id: acme, kind: test, baseUrl: "http://h"}]`, `kind "test"`},
		{"unknown key", `
models:
  - {id: gpt-4o, providers: [{provider: openai, model: gpt-4o, inputprice: 1}]}`, `inputprice`},
		{"unknown top key", `modles: []`, `modles`},
		{"negative price", `
models:
  - {id: x, providers: [{provider: openai, model: x, outputPrice: -1}]}`, `model "x": provider "openai": outputPrice`},
		{"too precise", `
models:
  - {id: x, providers: [{provider: openai, model: x, inputPrice: 0.0000001}]}`, `more than 6 decimal places`},
		{"price not a number", `
models:
  - {id: x, providers: [{provider: openai, model: x, inputPrice: [1]}]}`, `must be a number`},
		{"null price", `
models:
  - {id: x, providers: [{provider: openai, model: x, inputPrice: }]}`, `inputPrice (line 3, USD per 1M tokens): must be a number`},
		{"free and priced", `
models:
  - {id: x, providers: [{provider: openai, model: x, free: true, inputPrice: 1}]}`, `free`},
		{"no offers", `
models:
  - {id: x}`, `no providers`},
		{"offer without model", `
models:
  - {id: x, providers: [{provider: openai}]}`, `model ""`},
		{"provider twice in a model", `
models:
  - {id: x, providers: [{provider: openai, model: a}, {provider: openai, model: b}]}`, `listed twice`},
		{"model twice", `
models:
  - {id: x, providers: [{provider: openai, model: a}]}
  - {id: x, providers: [{provider: openai, model: a}]}`, `listed twice`},
		{"bad model id", `
models:
  - {id: "a b", providers: [{provider: openai, model: a}]}`, `model id`},
		{"unknown capability", `
models:
  - {id: x, capabilities: [telepathy], providers: [{provider: openai, model: a}]}`, `telepathy`},
		{"negative context", `
models:
  - {id: gpt-4o, contextLength: -1}`, `negative`},
		{"two documents", "models: []\n---\nmodels: []\n", `more than one`},
		{"not a mapping", `[1, 2]`, ``},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadBytes([]byte(tc.file))
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestLoadFile(t *testing.T) {
	c, err := Load("")
	if err != nil || len(c.Models()) == 0 {
		t.Fatalf("Load(\"\") = %v", err)
	}
	path := filepath.Join(t.TempDir(), "models.yaml")
	if err := os.WriteFile(path, []byte(exampleFile), 0o600); err != nil {
		t.Fatal(err)
	}
	if c, err := Load(path); err != nil {
		t.Fatal(err)
	} else if _, ok := c.Model("my-chat"); !ok {
		t.Error("file model missing")
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if err := os.WriteFile(path, []byte("models: [{id: x, providers: [{provider: zz, model: x}]}]"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("error should name the file: %v", err)
	}
}

func TestEmptyFile(t *testing.T) {
	for _, f := range []string{"", "\n", "# only a comment\n", "~", "{}"} {
		if _, err := LoadBytes([]byte(f)); err != nil {
			t.Errorf("LoadBytes(%q): %v", f, err)
		}
	}
}
