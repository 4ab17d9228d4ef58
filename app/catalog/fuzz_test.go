package catalog

import (
	"errors"
	"testing"
)

func FuzzResolve(f *testing.F) {
	for _, s := range []string{"", "gpt-4o", "test/echo", "acme/x", "acme/", "openai/", "/", "//", "openrouter/openai/gpt-4o-mini", "a\x00/b", "acme/\xff"} {
		f.Add(s)
	}
	c := mustLoad(f, exampleFile)
	billing := c.DropUnpriced()
	f.Fuzz(func(t *testing.T, name string) {
		for _, cat := range []*Catalog{c, billing} {
			r, err := cat.Resolve(name)
			if err != nil {
				if r != nil || !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrEmptyModel) {
					t.Fatalf("Resolve(%q) = %v, %v", name, r, err)
				}
				continue
			}
			if r.Model == nil || len(r.Offers) == 0 || r.Requested != name || r.Pinned && len(r.Offers) != 1 {
				t.Fatalf("Resolve(%q) = %+v", name, r)
			}
			if _, ok := cat.Provider(r.Offers[0].Provider); !ok {
				t.Fatalf("Resolve(%q): offer of unknown provider %q", name, r.Offers[0].Provider)
			}
			if cat.PricedOnly() && !r.Offers[0].Price.Known {
				t.Fatalf("billing catalog resolved %q to an unpriced offer", name)
			}
		}
	})
}

func FuzzLoadModelsFile(f *testing.F) {
	f.Add([]byte(exampleFile))
	f.Add(builtinYAML)
	f.Add([]byte("models:\n  - {id: gpt-4o, providers: [{provider: openai, model: x, inputPrice: 1e-6}]}\n"))
	f.Add([]byte("providers: [{id: a, baseUrl: 'http://h'}]\nmodels: [{id: m, providers: [{provider: a, model: m, free: true}]}]"))
	f.Add([]byte("a: &a [*a, *a]"))
	f.Add([]byte("models: [{id: x, providers: [{provider: openai, model: x, inputPrice: !!binary AAAA}]}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := LoadBytes(data)
		if err != nil {
			return
		}
		// Whatever loaded is self-consistent: every model resolves to itself and
		// every offer names a provider.
		for _, m := range c.Models() {
			r, err := c.Resolve(m.ID)
			if err != nil || r.Model != m {
				t.Fatalf("model %q does not resolve to itself: %v", m.ID, err)
			}
			for _, o := range m.Offers {
				if _, ok := c.Provider(o.Provider); !ok {
					t.Fatalf("offer of unknown provider %q", o.Provider)
				}
			}
		}
		_ = c.Unpriced()
		_ = c.DropUnpriced()
	})
}
