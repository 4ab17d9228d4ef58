package catalog

import (
	_ "embed"
	"fmt"
	"os"
	"sync"
)

// builtinYAML is the curated catalog shipped in the binary.
//
//go:embed models.yaml
var builtinYAML []byte

// builtinDoc parses the embedded file once; compiling it (cheap) still happens
// per load, so every Catalog owns fresh, unshared Models and Offers.
var builtinDoc = sync.OnceValues(func() (*fileDoc, error) { return parseDoc(builtinYAML) })

// Load builds a catalog from the embedded models.yaml merged with the models
// file at modelsFile (GATEWAY_MODELS_FILE; "" for none). See LoadBytes for the
// merge rules.
func Load(modelsFile string) (*Catalog, error) {
	if modelsFile == "" {
		return LoadBytes(nil)
	}
	data, err := os.ReadFile(modelsFile)
	if err != nil {
		return nil, fmt.Errorf("catalog: models file: %w", err)
	}
	c, err := build(data, modelsFile)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	return c, nil
}

// LoadBytes is Load with the models file's content instead of its path (nil or
// empty: embedded catalog only). The file has the shape of models.yaml:
//
//   - providers: custom upstreams {id, name?, kind? (default openai), baseUrl,
//     apiKey?}; the id must match ^[a-z]+$ and differ from every built-in id.
//   - models: an id not in the catalog adds a model (name defaults to the id,
//     ownedBy to the first offer's provider, capabilities to everything but
//     embeddings); an existing id overrides it: non-zero scalars and a given
//     capabilities list replace, each offer replaces the offer of the same
//     provider or is appended. Every offer names a built-in or declared provider.
//
// Unknown keys, malformed prices and unknown providers are errors: a typo must
// not silently change what is served or billed.
func LoadBytes(modelsYAML []byte) (*Catalog, error) {
	c, err := build(modelsYAML, "models file")
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	return c, nil
}

// build compiles the embedded catalog and merges the override document over
// (named src in errors) into it.
func build(over []byte, src string) (*Catalog, error) {
	base, err := builtinDoc()
	if err != nil {
		return nil, fmt.Errorf("embedded models.yaml: %w", err)
	}
	var providers []*ProviderInfo
	providerByID := map[string]*ProviderInfo{}
	var models []*Model
	modelByID := map[string]*Model{}

	for _, fp := range base.Providers {
		p, err := compileProvider(fp, false)
		if err == nil && providerByID[p.ID] != nil {
			err = fmt.Errorf("provider %q declared twice", p.ID)
		}
		if err != nil {
			return nil, fmt.Errorf("embedded models.yaml: %w", err)
		}
		providers = append(providers, p)
		providerByID[p.ID] = p
	}
	for _, fm := range base.Models {
		m, err := newModel(fm, providerByID, true)
		if err == nil && modelByID[m.ID] != nil {
			err = fmt.Errorf("declared twice")
		}
		if err != nil {
			return nil, fmt.Errorf("embedded models.yaml: model %q: %w", fm.ID, err)
		}
		models = append(models, m)
		modelByID[m.ID] = m
	}

	if len(over) > 0 {
		doc, err := parseDoc(over)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", src, err)
		}
		for _, fp := range doc.Providers {
			if b := providerByID[fp.ID]; b != nil && !b.Custom && isRoutingOnly(fp) {
				// Routing settings of a built-in provider (priority, regions, jurisdiction).
				cp := *b
				if err := applyRouting(&cp, fp); err != nil {
					return nil, fmt.Errorf("%s: provider %q: %w", src, fp.ID, err)
				}
				for i, p := range providers {
					if p == b {
						providers[i] = &cp
					}
				}
				providerByID[fp.ID] = &cp
				continue
			}
			p, err := compileCustomProvider(fp, providerByID)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", src, err)
			}
			providers = append(providers, p)
			providerByID[p.ID] = p
		}
		inFile := map[string]bool{}
		for _, fm := range doc.Models {
			if inFile[fm.ID] {
				return nil, fmt.Errorf("%s: model %q: listed twice", src, fm.ID)
			}
			inFile[fm.ID] = true
			if m := modelByID[fm.ID]; m != nil {
				err = overrideModel(m, fm, providerByID)
			} else {
				var m *Model
				if m, err = newModel(fm, providerByID, false); err == nil {
					models = append(models, m)
					modelByID[m.ID] = m
				}
			}
			if err != nil {
				return nil, fmt.Errorf("%s: model %q: %w", src, fm.ID, err)
			}
		}
	}

	// Resolve inheritance once, so every offer carries its effective limits
	// and callers never need the model to interpret an offer.
	for _, m := range models {
		for _, o := range m.Offers {
			if o.ContextLength == 0 {
				o.ContextLength = m.ContextLength
			}
			if o.MaxOutput == 0 {
				o.MaxOutput = m.MaxOutput
			}
		}
	}
	return newCatalog(providers, models, false), nil
}

func compileCustomProvider(fp fileProvider, known map[string]*ProviderInfo) (*ProviderInfo, error) {
	if p := known[fp.ID]; p != nil {
		if p.Custom {
			return nil, fmt.Errorf("provider %q declared twice", fp.ID)
		}
		return nil, fmt.Errorf("provider %q clashes with the built-in provider of that id (only priority, operator, jurisdiction and regions may be set for it)", fp.ID)
	}
	return compileProvider(fp, true)
}
