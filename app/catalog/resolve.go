package catalog

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNotFound matches (errors.Is) every *NotFoundError.
var ErrNotFound = errors.New("model not found")

// ErrEmptyModel is returned by Resolve for an empty name: a malformed request
// (400), not an unknown model (404).
var ErrEmptyModel = errors.New("model name is empty")

// NotFoundError says a requested model name resolves to nothing; the server maps
// it to 404 model_not_found.
type NotFoundError struct {
	Model string // the name as requested
}

func (e *NotFoundError) Error() string { return fmt.Sprintf("model %q not found", e.Model) }

// Is makes errors.Is(err, ErrNotFound) true.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// Resolve maps a requested model name to the offers that may serve it:
//
//  1. a catalog root id ("gpt-4o") gives that model with all its offers in
//     catalog order, Pinned false;
//  2. otherwise the name is split at its first '/'; if the prefix is a provider
//     id the request is pinned to that provider, and the rest is either a root
//     id the provider serves ("openrouter/gpt-4o-mini") or the provider's own
//     model id of one of its offers ("anthropic/claude-sonnet-4-5-20250929",
//     "openrouter/openai/gpt-4o-mini"): that single offer, Pinned true;
//  3. for a custom provider any other rest is passed through unvalidated as a
//     synthesised model with an unknown price (not in a PricedOnly catalog);
//  4. anything else is a *NotFoundError.
//
// Names are case-sensitive. The returned Model and Offers are shared and
// read-only; the Offers slice itself belongs to the caller.
func (c *Catalog) Resolve(name string) (*Resolution, error) {
	if name == "" {
		return nil, ErrEmptyModel
	}
	if m, ok := c.modelByID[name]; ok {
		return &Resolution{Requested: name, Model: m, Offers: append([]*Offer(nil), m.Offers...)}, nil
	}
	providerID, rest, ok := strings.Cut(name, "/")
	p, known := c.providerByID[providerID]
	if !ok || !known || rest == "" {
		return nil, &NotFoundError{Model: name}
	}
	if res := c.resolvePinned(name, p, rest); res != nil {
		return res, nil
	}
	// "provider/model:region" pins one of the provider's regions. Model ids may
	// contain colons themselves ("llama3:8b"), so this is only tried when the
	// whole name did not resolve and the suffix is a region of the provider.
	if i := strings.LastIndexByte(rest, ':'); i > 0 {
		if _, ok := p.Region(rest[i+1:]); ok {
			if res := c.resolvePinned(name, p, rest[:i]); res != nil && res.Offers[0].InRegion(rest[i+1:]) {
				res.Region = rest[i+1:]
				return res, nil
			}
		}
	}
	return nil, &NotFoundError{Model: name}
}

func (c *Catalog) resolvePinned(name string, p *ProviderInfo, rest string) *Resolution {
	pin := func(m *Model, o *Offer) *Resolution {
		return &Resolution{Requested: name, Model: m, Offers: []*Offer{o}, Pinned: true}
	}
	// A root id first: the catalog's own names are what clients are told.
	if m, ok := c.modelByID[rest]; ok {
		for _, o := range m.Offers {
			if o.Provider == p.ID {
				return pin(m, o)
			}
		}
	}
	if hit, ok := c.byUpstream[upstreamKey{p.ID, rest}]; ok {
		return pin(hit.model, hit.offer)
	}
	if p.Custom && !c.pricedOnly && validName(rest) {
		return pin(customModel(p, rest))
	}
	return nil
}

// InRegion reports whether the offer is served in the provider's region id.
func (o *Offer) InRegion(id string) bool {
	if o.Regions == nil {
		return true
	}
	for _, r := range o.Regions {
		if r == id {
			return true
		}
	}
	return false
}

// customModel synthesises a model a custom provider serves but the catalog does
// not list. The gateway cannot know its limits or price: lengths stay 0
// (unknown), the price unknown, and capabilities permissive so the upstream, not
// the gateway, decides what the model supports.
func customModel(p *ProviderInfo, upstream string) (*Model, *Offer) {
	o := &Offer{Provider: p.ID, Model: upstream}
	return &Model{
		ID:           p.ID + "/" + upstream,
		Name:         upstream,
		OwnedBy:      p.ID,
		Capabilities: uncheckedCapabilities,
		Offers:       []*Offer{o},
	}, o
}
