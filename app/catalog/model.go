package catalog

import (
	"errors"
	"fmt"
	"strings"
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
	if err := applyAccess(m, fm); err != nil {
		return nil, err
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
	if err := applyAccess(m, fm); err != nil {
		return err
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

// applyAccess sets a model's status, allow-list and owner. A model id with an
// email before its first slash ("alice@example.com/gpt-4o") is private to that
// owner (Devora's private models).
func applyAccess(m *Model, fm fileModel) error {
	switch fm.Status {
	case "":
		if m.Status == "" {
			m.Status = StatusActive
		}
	case StatusActive, StatusSuspended, StatusRestricted, StatusHidden:
		m.Status = fm.Status
	default:
		return fmt.Errorf("status %q is not one of ACTIVE, SUSPENDED, RESTRICTED, HIDDEN", fm.Status)
	}
	if fm.AllowedEmails != nil {
		m.AllowedEmails = make([]string, len(fm.AllowedEmails))
		for i, e := range fm.AllowedEmails {
			if !strings.Contains(e, "@") {
				return fmt.Errorf("allowedEmails: %q is not an email address", e)
			}
			m.AllowedEmails[i] = strings.ToLower(e)
		}
	}
	if fm.AllowedOrgs != nil {
		m.AllowedOrgs = append([]string(nil), fm.AllowedOrgs...)
	}
	if m.Status == StatusRestricted && len(m.AllowedEmails) == 0 && len(m.AllowedOrgs) == 0 {
		return errors.New("a RESTRICTED model needs allowedEmails or allowedOrgs")
	}
	if owner, _, ok := strings.Cut(m.ID, "/"); ok && strings.Contains(owner, "@") {
		m.Owner = strings.ToLower(owner)
	}
	return nil
}
