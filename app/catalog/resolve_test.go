package catalog

import (
	"errors"
	"reflect"
	"testing"
)

func TestResolve(t *testing.T) {
	c := mustLoad(t, exampleFile)
	cases := []struct {
		name      string
		model     string // resolved model id
		providers []string
		upstream  string // of the first offer
		pinned    bool
	}{
		// (a) root ids: every offer, in catalog order.
		{"gpt-4o-mini", "gpt-4o-mini", []string{"openai", "openrouter"}, "gpt-4o-mini", false},
		{"claude-sonnet-4-5", "claude-sonnet-4-5", []string{"anthropic", "openrouter"}, "claude-sonnet-4-5-20250929", false},
		{"echo", "echo", []string{"test"}, "echo", false},
		{"my-chat", "my-chat", []string{"openai", "acme"}, "gpt-4o-mini", false},
		// (b) pinned by root id served by the provider.
		{"anthropic/claude-sonnet-4-5", "claude-sonnet-4-5", []string{"anthropic"}, "claude-sonnet-4-5-20250929", true},
		{"openrouter/gpt-4o-mini", "gpt-4o-mini", []string{"openrouter"}, "openai/gpt-4o-mini", true},
		{"test/echo", "echo", []string{"test"}, "echo", true},
		{"test/embed", "embed", []string{"test"}, "embed", true},
		{"acme/my-chat", "my-chat", []string{"acme"}, "my-chat-v1", true},
		// (b) pinned by the provider's own model id; the rest may contain '/'.
		{"anthropic/claude-sonnet-4-5-20250929", "claude-sonnet-4-5", []string{"anthropic"}, "claude-sonnet-4-5-20250929", true},
		{"openrouter/openai/gpt-4o-mini", "gpt-4o-mini", []string{"openrouter"}, "openai/gpt-4o-mini", true},
		{"acme/my-chat-v1", "my-chat", []string{"acme"}, "my-chat-v1", true},
		{"openai/gpt-4o-2024-11-20", "gpt-4o", []string{"openai"}, "gpt-4o-2024-11-20", true},
		// (b) custom provider, unlisted model: synthesised.
		{"acme/x", "acme/x", []string{"acme"}, "x", true},
		{"acme/org/model:tag", "acme/org/model:tag", []string{"acme"}, "org/model:tag", true},
		{"acme/gpt-5", "acme/gpt-5", []string{"acme"}, "gpt-5", true}, // a root id acme does not serve
	}
	for _, tc := range cases {
		r, err := c.Resolve(tc.name)
		if err != nil {
			t.Errorf("Resolve(%q): %v", tc.name, err)
			continue
		}
		var provs []string
		for _, o := range r.Offers {
			provs = append(provs, o.Provider)
		}
		if r.Requested != tc.name || r.Model.ID != tc.model || r.Pinned != tc.pinned ||
			len(provs) != len(tc.providers) || r.Offers[0].Model != tc.upstream {
			t.Errorf("Resolve(%q) = model %s offers %v (first %s) pinned %v", tc.name, r.Model.ID, provs, r.Offers[0].Model, r.Pinned)
			continue
		}
		for i := range provs {
			if provs[i] != tc.providers[i] {
				t.Errorf("Resolve(%q) offers %v, want %v", tc.name, provs, tc.providers)
			}
		}
	}

	// The synthesised model: unknown price and limits, permissive capabilities.
	r, _ := c.Resolve("acme/x")
	want := Model{ID: "acme/x", Name: "x", OwnedBy: "acme", Capabilities: Capabilities{
		Streaming: true, Tools: true, Vision: true, Reasoning: true, JSONOutput: true}}
	got := *r.Model
	if got.ID != want.ID || got.Name != want.Name || got.OwnedBy != want.OwnedBy || got.Capabilities != want.Capabilities ||
		got.ContextLength != 0 || got.MaxOutput != 0 || len(got.Offers) != 1 || !reflect.DeepEqual(*r.Offers[0], Offer{Provider: "acme", Model: "x"}) || r.Model.Offers[0] != r.Offers[0] {
		t.Errorf("synthesised %+v offer %+v", got, *r.Offers[0])
	}

	// The caller owns the Offers slice: changing it leaves the catalog alone.
	r, _ = c.Resolve("gpt-4o-mini")
	r.Offers[0] = nil
	if m, _ := c.Model("gpt-4o-mini"); m.Offers[0] == nil {
		t.Error("Resolve returned the model's own offer slice")
	}
}

func TestResolveNotFound(t *testing.T) {
	c := mustLoad(t, exampleFile)
	for _, name := range []string{
		"nope",
		"GPT-4O",                    // case-sensitive
		"gpt-4o ",                   // no trimming
		"openai/nope",               // built-in provider, unknown model
		"groq/gpt-4o",               // root id the provider does not serve
		"anthropic/gpt-4o",          // idem
		"openai/openai/gpt-4o-mini", // openrouter's upstream id, but under openai
		"openai/",
		"acme/",          // custom provider, empty model
		"acme/bad name",  // synthesised names are still sane
		"unknown/gpt-4o", // unknown provider prefix
		"/gpt-4o",
		"gpt-4o/",
		"test/nope",
	} {
		r, err := c.Resolve(name)
		var nf *NotFoundError
		if !errors.As(err, &nf) || nf.Model != name || !errors.Is(err, ErrNotFound) || r != nil {
			t.Errorf("Resolve(%q) = %+v, %v; want not found", name, r, err)
		}
	}
	if _, err := c.Resolve(""); !errors.Is(err, ErrEmptyModel) || errors.Is(err, ErrNotFound) {
		t.Errorf("Resolve(\"\") = %v", err)
	}
}

func TestDropUnpriced(t *testing.T) {
	c := mustLoad(t, exampleFile+`
  - id: only-unpriced
    providers: [{provider: acme, model: u}]
`)
	if got := c.Unpriced(); len(got) != 2 || got[0] != "acme/acme-4o" || got[1] != "acme/u" {
		t.Fatalf("Unpriced = %v", got)
	}
	b := c.DropUnpriced()
	if !b.PricedOnly() || c.PricedOnly() {
		t.Error("PricedOnly flags")
	}
	if u := b.Unpriced(); len(u) != 0 {
		t.Errorf("after drop: %v", u)
	}
	if _, ok := b.Model("only-unpriced"); ok {
		t.Error("model without priced offers kept")
	}
	if m, _ := b.Model("gpt-4o"); len(m.Offers) != 2 {
		t.Errorf("gpt-4o offers %d", len(m.Offers))
	}
	if m, _ := c.Model("gpt-4o"); len(m.Offers) != 3 {
		t.Error("DropUnpriced modified its receiver")
	}
	for _, name := range []string{"acme/x", "acme/acme-4o", "acme/u", "only-unpriced"} {
		if _, err := b.Resolve(name); !errors.Is(err, ErrNotFound) {
			t.Errorf("billing catalog Resolve(%q) = %v", name, err)
		}
	}
	if r, err := b.Resolve("acme/my-chat-v1"); err != nil || !r.Offers[0].Price.Known {
		t.Errorf("priced custom offer: %v", err)
	}
	if len(b.Providers()) != len(c.Providers()) {
		t.Error("providers dropped")
	}
}
