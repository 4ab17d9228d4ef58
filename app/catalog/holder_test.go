package catalog

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestHolderReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "models.yaml")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(exampleFile)
	first, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	h := NewHolder(first)
	if h.Get() != first {
		t.Fatal("Get")
	}

	// A broken edit keeps the old catalog.
	write("models:\n  - {id: x, providers: [{provider: nope, model: x}]}\n")
	if err := h.Reload(path); err == nil {
		t.Fatal("broken file reloaded")
	}
	if h.Get() != first {
		t.Fatal("broken reload replaced the catalog")
	}
	write("models: [\n")
	if err := h.Reload(path); err == nil || h.Get() != first {
		t.Fatal("unparsable file reloaded")
	}
	if err := h.Reload(filepath.Join(t.TempDir(), "gone.yaml")); err == nil || h.Get() != first {
		t.Fatal("missing file reloaded")
	}

	// A good edit replaces it.
	write("models:\n  - {id: other, providers: [{provider: openai, model: o, inputPrice: 1}]}\n")
	if err := h.Reload(path); err != nil {
		t.Fatal(err)
	}
	c := h.Get()
	if _, ok := c.Model("other"); !ok {
		t.Error("reloaded model missing")
	}
	if _, ok := c.Model("my-chat"); ok {
		t.Error("old file's model still there")
	}
	if _, ok := first.Model("my-chat"); !ok {
		t.Error("old snapshot changed")
	}

	// Billing mode survives a reload.
	write(exampleFile)
	h.Set(h.Get().DropUnpriced())
	if err := h.Reload(path); err != nil {
		t.Fatal(err)
	}
	if !h.Get().PricedOnly() || len(h.Get().Unpriced()) != 0 {
		t.Error("reload lost billing mode")
	}
}

// Readers and reloads run concurrently (go test -race).
func TestHolderConcurrent(t *testing.T) {
	h := NewHolder(mustLoad(t, ""))
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				if _, err := h.Get().Resolve("test/echo"); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			if err := h.Reload(""); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
}
