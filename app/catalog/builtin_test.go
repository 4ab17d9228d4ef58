package catalog

import (
	"strings"
	"testing"
)

func mustLoad(t testing.TB, file string) *Catalog {
	t.Helper()
	c, err := LoadBytes([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestBuiltinProviders(t *testing.T) {
	c := mustLoad(t, "")
	want := []struct{ id, kind, baseURL string }{
		{"openai", "openai", "https://api.openai.com"},
		{"anthropic", "anthropic", "https://api.anthropic.com"},
		{"google-ai-studio", "google", "https://generativelanguage.googleapis.com"},
		{"mistral", "openai", "https://api.mistral.ai"},
		{"groq", "openai", "https://api.groq.com/openai"},
		{"deepseek", "openai", "https://api.deepseek.com"},
		{"xai", "openai", "https://api.x.ai"},
		{"together", "openai", "https://api.together.xyz"},
		{"openrouter", "openai", "https://openrouter.ai/api"},
		{"azure", "azure", ""}, // per-resource URL from LLM_AZURE_BASE_URL
		{"test", "test", ""},
	}
	if got := len(c.Providers()); got != len(want) {
		t.Errorf("%d built-in providers, want %d", got, len(want))
	}
	for i, w := range want {
		p, ok := c.Provider(w.id)
		if !ok {
			t.Errorf("provider %s missing", w.id)
			continue
		}
		if p.Kind != w.kind || p.BaseURL != w.baseURL || p.Custom || p.APIKey != "" || p.Name == "" {
			t.Errorf("provider %s = %+v", w.id, *p)
		}
		if c.Providers()[i] != p {
			t.Errorf("provider %s not in position %d", w.id, i)
		}
	}
}

func TestBuiltinModels(t *testing.T) {
	c := mustLoad(t, "")
	caps := func(names ...string) Capabilities {
		cp, err := parseCapabilities(names)
		if err != nil {
			t.Fatal(err)
		}
		return cp
	}
	type want struct {
		id, provider, upstream string
		in, cached, write, out int64
		ctx, maxOut            int
		caps                   Capabilities // zero: not checked
	}
	chat := caps("streaming", "tools", "vision", "json_output")
	reasoning := caps("streaming", "tools", "vision", "reasoning", "json_output")
	claude := caps("streaming", "tools", "vision", "reasoning")
	wants := []want{
		{"gpt-4o", "openai", "gpt-4o", 2_500_000, 1_250_000, 0, 10_000_000, 128000, 16384, chat},
		{"gpt-4o-mini", "openai", "gpt-4o-mini", 150_000, 75_000, 0, 600_000, 128000, 16384, chat},
		{"gpt-4o-mini", "openrouter", "openai/gpt-4o-mini", 150_000, 75_000, 0, 600_000, 128000, 16384, chat},
		{"gpt-4.1", "openai", "gpt-4.1", 2_000_000, 500_000, 0, 8_000_000, 1047576, 32768, chat},
		{"gpt-4.1-mini", "openai", "gpt-4.1-mini", 400_000, 100_000, 0, 1_600_000, 1047576, 32768, chat},
		{"gpt-4.1-nano", "openai", "gpt-4.1-nano", 100_000, 25_000, 0, 400_000, 1047576, 32768, chat},
		{"gpt-5", "openai", "gpt-5", 1_250_000, 125_000, 0, 10_000_000, 400000, 128000, reasoning},
		{"gpt-5-mini", "openai", "gpt-5-mini", 250_000, 25_000, 0, 2_000_000, 400000, 128000, reasoning},
		{"o4-mini", "openai", "o4-mini", 1_100_000, 275_000, 0, 4_400_000, 200000, 100000, reasoning},
		{"text-embedding-3-small", "openai", "text-embedding-3-small", 20_000, 0, 0, 0, 8191, 0, caps("embeddings")},
		{"text-embedding-3-large", "openai", "text-embedding-3-large", 130_000, 0, 0, 0, 8191, 0, caps("embeddings")},
		{"claude-sonnet-4-5", "anthropic", "claude-sonnet-4-5-20250929", 3_000_000, 300_000, 3_750_000, 15_000_000, 200000, 64000, claude},
		{"claude-haiku-4-5", "anthropic", "claude-haiku-4-5-20251001", 1_000_000, 100_000, 1_250_000, 5_000_000, 200000, 64000, claude},
		{"claude-opus-4-1", "anthropic", "claude-opus-4-1-20250805", 15_000_000, 1_500_000, 18_750_000, 75_000_000, 200000, 32000, claude},
		{"gemini-2.5-pro", "google-ai-studio", "gemini-2.5-pro", 1_250_000, 310_000, 0, 10_000_000, 1048576, 65536, reasoning},
		{"gemini-2.5-flash", "google-ai-studio", "gemini-2.5-flash", 300_000, 75_000, 0, 2_500_000, 1048576, 65536, reasoning},
		{"gemini-2.0-flash", "google-ai-studio", "gemini-2.0-flash", 100_000, 25_000, 0, 400_000, 1048576, 8192, chat},
	}
	for _, w := range wants {
		m, ok := c.Model(w.id)
		if !ok {
			t.Errorf("model %s missing", w.id)
			continue
		}
		if m.ContextLength != w.ctx || m.MaxOutput != w.maxOut || m.Capabilities != w.caps {
			t.Errorf("%s: ctx %d max %d caps %+v", w.id, m.ContextLength, m.MaxOutput, m.Capabilities)
		}
		o := offerOf(m, w.provider)
		if o == nil {
			t.Errorf("%s: no %s offer", w.id, w.provider)
			continue
		}
		wp := Price{Input: w.in, CachedInput: w.cached, CacheWrite: w.write, Output: w.out, Known: true}
		if o.Model != w.upstream || o.Price != wp {
			t.Errorf("%s@%s: %+v, want model %s price %+v", w.id, w.provider, *o, w.upstream, wp)
		}
		if o.ContextLength != w.ctx || o.MaxOutput != w.maxOut {
			t.Errorf("%s@%s: offer limits %d/%d not inherited", w.id, w.provider, o.ContextLength, o.MaxOutput)
		}
	}

	for _, id := range []string{"echo", "embed"} {
		m, ok := c.Model(id)
		if !ok || len(m.Offers) != 1 {
			t.Fatalf("test model %s: %+v", id, m)
		}
		o := m.Offers[0]
		if o.Provider != "test" || o.Model != id || o.Price != (Price{Known: true, Free: true}) {
			t.Errorf("test model %s offer %+v", id, *o)
		}
	}
	echo, _ := c.Model("echo")
	if echo.Capabilities != caps("streaming", "tools") || echo.ContextLength != 128000 || echo.MaxOutput != 4096 {
		t.Errorf("echo = %+v", *echo)
	}
	if embed, _ := c.Model("embed"); embed.Capabilities != caps("embeddings") {
		t.Errorf("embed caps = %+v", embed.Capabilities)
	}
}

// Invariants of the whole embedded catalog, so a new entry cannot break them.
func TestBuiltinInvariants(t *testing.T) {
	c := mustLoad(t, "")
	if u := c.Unpriced(); len(u) != 0 {
		t.Errorf("built-in unpriced offers: %v", u)
	}
	multi := 0
	for _, m := range c.Models() {
		if m.Name == "" || m.OwnedBy == "" || m.Created <= 0 || len(m.Offers) == 0 {
			t.Errorf("incomplete model %+v", *m)
		}
		if m.ContextLength <= 0 {
			t.Errorf("%s: no context length", m.ID)
		}
		if len(m.Offers) > 1 {
			multi++
		}
		for _, o := range m.Offers {
			p, ok := c.Provider(o.Provider)
			if !ok || p.Custom {
				t.Errorf("%s: offer of provider %q", m.ID, o.Provider)
			}
			// Every offer is reachable pinned, by root id and by upstream id.
			for _, name := range []string{o.Provider + "/" + m.ID, o.Provider + "/" + o.Model} {
				r, err := c.Resolve(name)
				if err != nil || r.Offers[0] != o || r.Model != m || !r.Pinned {
					t.Errorf("Resolve(%q) = %+v, %v", name, r, err)
				}
			}
		}
	}
	if multi < 3 {
		t.Errorf("only %d models with several offers", multi)
	}
	// Stable order: the embedded file's.
	ids := make([]string, 0)
	for _, m := range c.Models() {
		ids = append(ids, m.ID)
	}
	if got := strings.Join(ids[:3], ","); got != "gpt-4o,gpt-4o-mini,gpt-4.1" {
		t.Errorf("order starts %s", got)
	}
}

func offerOf(m *Model, provider string) *Offer {
	for _, o := range m.Offers {
		if o.Provider == provider {
			return o
		}
	}
	return nil
}
