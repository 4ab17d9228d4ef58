package catalog

// Catalog is an immutable snapshot of providers and models. Every pointer it
// hands out (providers, models, offers) is shared with concurrent readers and
// must be treated as read-only; a change is a new Catalog swapped into a Holder.
type Catalog struct {
	providers    []*ProviderInfo
	providerByID map[string]*ProviderInfo
	models       []*Model
	modelByID    map[string]*Model
	// byUpstream finds the model an offer belongs to from the provider's own
	// model id, for pinned names like "anthropic/claude-sonnet-4-5-20250929".
	byUpstream map[upstreamKey]pinned
	pricedOnly bool
}

type upstreamKey struct{ provider, model string }

type pinned struct {
	model *Model
	offer *Offer
}

// newCatalog indexes providers and models (already validated, in catalog order).
func newCatalog(providers []*ProviderInfo, models []*Model, pricedOnly bool) *Catalog {
	c := &Catalog{
		providers:    providers,
		providerByID: make(map[string]*ProviderInfo, len(providers)),
		models:       models,
		modelByID:    make(map[string]*Model, len(models)),
		byUpstream:   make(map[upstreamKey]pinned),
		pricedOnly:   pricedOnly,
	}
	for _, p := range providers {
		c.providerByID[p.ID] = p
	}
	for _, p := range providers {
		for _, a := range p.Aliases {
			if _, taken := c.providerByID[a]; !taken { // a real id always wins
				c.providerByID[a] = p
			}
		}
	}
	for _, m := range models {
		c.modelByID[m.ID] = m
		for _, o := range m.Offers {
			k := upstreamKey{o.Provider, o.Model}
			if _, dup := c.byUpstream[k]; !dup { // aliases: the first model in order wins
				c.byUpstream[k] = pinned{m, o}
			}
		}
	}
	return c
}

// Providers lists built-in providers (embedded order) then custom ones (file
// order).
func (c *Catalog) Providers() []*ProviderInfo {
	return append([]*ProviderInfo(nil), c.providers...)
}

// Provider looks a provider up by id.
func (c *Catalog) Provider(id string) (*ProviderInfo, bool) {
	p, ok := c.providerByID[id]
	return p, ok
}

// Models lists the catalog's models in a stable order: embedded order, then
// models added by the models file in file order.
func (c *Catalog) Models() []*Model {
	return append([]*Model(nil), c.models...)
}

// Model looks a model up by its root id (no provider prefix; see Resolve).
func (c *Catalog) Model(id string) (*Model, bool) {
	m, ok := c.modelByID[id]
	return m, ok
}

// Unpriced lists "provider/model" (the offer's upstream id, which is also a
// valid pinned name) of every offer whose price is unknown, in catalog order
// without duplicates. While billing is off the server warns about them at
// start-up; they are served with an unknown cost. Unlisted models of custom
// providers are always unpriced too and are not listed here.
func (c *Catalog) Unpriced() []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range c.models {
		for _, o := range m.Offers {
			name := o.Provider + "/" + o.Model
			if !o.Price.Known && !seen[name] {
				seen[name] = true
				out = append(out, name)
			}
		}
	}
	return out
}

// DropUnpriced returns a copy of the catalog for billing mode, in which nothing
// can be served that cannot be billed: offers with an unknown price are
// removed, models left without offers are removed, and Resolve no longer
// synthesises unlisted models of custom providers (they answer not found). The
// receiver is not modified. Holder.Reload keeps this mode across reloads.
func (c *Catalog) DropUnpriced() *Catalog {
	models := make([]*Model, 0, len(c.models))
	for _, m := range c.models {
		var offers []*Offer
		for _, o := range m.Offers {
			if o.Price.Known {
				offers = append(offers, o)
			}
		}
		if len(offers) == 0 {
			continue
		}
		cp := *m
		cp.Offers = offers
		models = append(models, &cp)
	}
	return newCatalog(c.providers, models, true)
}

// PricedOnly reports whether the catalog was made by DropUnpriced.
func (c *Catalog) PricedOnly() bool { return c.pricedOnly }
