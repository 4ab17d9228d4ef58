package catalog

import (
	"errors"
	"fmt"
)

// compileOffers compiles a model's offer list. A provider may appear only once
// per model: a pinned "provider/<root id>" must designate exactly one offer.
func compileOffers(fos []fileOffer, providers map[string]*ProviderInfo) ([]*Offer, error) {
	offers := make([]*Offer, 0, len(fos))
	seen := make(map[string]bool, len(fos))
	for _, fo := range fos {
		o, err := compileOffer(fo, providers)
		if err != nil {
			return nil, err
		}
		if seen[o.Provider] {
			return nil, fmt.Errorf("provider %q listed twice", o.Provider)
		}
		seen[o.Provider] = true
		offers = append(offers, o)
	}
	return offers, nil
}

func checkSizes(fm fileModel) error {
	if fm.ContextLength < 0 || fm.MaxOutput < 0 || fm.Created < 0 {
		return errors.New("created, contextLength and maxOutput must not be negative")
	}
	return nil
}

// newModel compiles a model that is not in the catalog yet. Built-in entries
// must be complete (the embedded file is curated); a file may leave out
// everything but id and providers.
func newModel(fm fileModel, providers map[string]*ProviderInfo, builtin bool) (*Model, error) {
	if !validName(fm.ID) {
		return nil, fmt.Errorf("model id %q must be non-empty without spaces or control characters", fm.ID)
	}
	if err := checkSizes(fm); err != nil {
		return nil, err
	}
	offers, err := compileOffers(fm.Providers, providers)
	if err != nil {
		return nil, err
	}
	if len(offers) == 0 {
		return nil, errors.New("no providers")
	}
	m := &Model{
		ID:            fm.ID,
		Name:          fm.Name,
		OwnedBy:       fm.OwnedBy,
		Created:       fm.Created,
		ContextLength: fm.ContextLength,
		MaxOutput:     fm.MaxOutput,
		Offers:        offers,
	}
	switch {
	case fm.Capabilities != nil:
		if m.Capabilities, err = parseCapabilities(*fm.Capabilities); err != nil {
			return nil, err
		}
	case builtin:
		return nil, errors.New("built-in model needs capabilities")
	default:
		m.Capabilities = uncheckedCapabilities
	}
	if builtin {
		if m.Name == "" || m.OwnedBy == "" || m.Created == 0 {
			return nil, errors.New("built-in model needs name, ownedBy and created")
		}
		for _, o := range offers {
			if !o.Price.Known { // the server must be able to bill every built-in
				return nil, fmt.Errorf("provider %q: built-in offer without a price", o.Provider)
			}
		}
	}
	if m.Name == "" {
		m.Name = m.ID
	}
	if m.OwnedBy == "" {
		m.OwnedBy = offers[0].Provider
	}
	return m, nil
}

// overrideModel applies a file entry to an existing model: non-zero scalars and
// a given capabilities list replace the model's; each offer replaces the offer
// of the same provider (entirely — prices the file leaves out become unknown,
// never inherited from an outdated entry) or is appended.
func overrideModel(m *Model, fm fileModel, providers map[string]*ProviderInfo) error {
	if err := checkSizes(fm); err != nil {
		return err
	}
	offers, err := compileOffers(fm.Providers, providers)
	if err != nil {
		return err
	}
	if fm.Capabilities != nil {
		if m.Capabilities, err = parseCapabilities(*fm.Capabilities); err != nil {
			return err
		}
	}
	if fm.Name != "" {
		m.Name = fm.Name
	}
	if fm.OwnedBy != "" {
		m.OwnedBy = fm.OwnedBy
	}
	if fm.Created != 0 {
		m.Created = fm.Created
	}
	if fm.ContextLength != 0 {
		m.ContextLength = fm.ContextLength
	}
	if fm.MaxOutput != 0 {
		m.MaxOutput = fm.MaxOutput
	}
next:
	for _, o := range offers {
		for i, old := range m.Offers {
			if old.Provider == o.Provider {
				m.Offers[i] = o
				continue next
			}
		}
		m.Offers = append(m.Offers, o)
	}
	return nil
}
