// Package catalog is the gateway's model and provider catalog: which models exist,
// which providers serve them under which upstream ids, at what price, with what
// capabilities. It is data (an embedded YAML file plus GATEWAY_MODELS_FILE), held
// in memory and swapped atomically on reload.
package catalog

// Price is a price list in integer pico-USD (1e-12 USD) per token, so that every
// published per-million price (e.g. $0.075 / 1M = 75,000 pico per token) is exact.
// Known is false when no price was given: such an offer is never silently billed $0.
type Price struct {
	Input       int64 // per non-cached prompt token
	CachedInput int64 // per prompt token read from the provider's cache
	CacheWrite  int64 // per prompt token written into the provider's cache
	Output      int64 // per completion token (reasoning included)
	Request     int64 // flat per request
	Free        bool  // explicitly free (all zero and Known)
	Known       bool
}

// Capabilities of a model (or of one provider's offer of it).
type Capabilities struct {
	Streaming  bool
	Tools      bool
	Vision     bool
	Reasoning  bool
	Embeddings bool
	JSONOutput bool
}

// ProviderInfo is an upstream provider the gateway can call.
type ProviderInfo struct {
	ID      string // lower-case id, e.g. "openai", "google-ai-studio", "acme"
	Name    string
	Kind    string // adapter kind: "openai" (OpenAI-compatible), "test", later "anthropic", "google"
	BaseURL string // default API root without version segment
	APIKey  string // set only for custom providers declared with a key in the models file
	Custom  bool   // declared in GATEWAY_MODELS_FILE: models under it are not validated
	// Aliases are other names clients pin the provider by ("mistral-ai").
	Aliases []string
	// Priority nudges routing (seed "Provider Priority"): its score is adjusted
	// by (1 - priority); 0 removes the provider from routing. Default 1.
	Priority float64
	// Operator is the jurisdiction of the company running the provider ("us",
	// "eu", ...); Jurisdiction is where its default endpoint is hosted.
	Operator     string
	Jurisdiction string
	// Regions are the provider's regional endpoints, pinned as
	// "provider/model:region"; none means one global endpoint.
	Regions []*Region
}

// Region is one regional endpoint of a provider.
type Region struct {
	ID           string // e.g. "eu-west-1"
	Jurisdiction string // where it is hosted, e.g. "eu"
	BaseURL      string // "" = the provider's base URL
}

// Region returns the provider's region of that id.
func (p *ProviderInfo) Region(id string) (*Region, bool) {
	for _, r := range p.Regions {
		if r.ID == id {
			return r, true
		}
	}
	return nil, false
}

// Offer is one provider serving a model.
type Offer struct {
	Provider      string // provider id
	Model         string // the provider's own model id
	Price         Price
	ContextLength int // 0: inherit the model's
	MaxOutput     int // 0: inherit the model's
	// Regions restricts the offer to these provider regions (nil: all of them).
	Regions []string
}

// Model is a catalog model, identified by its root id (e.g. "gpt-4o").
type Model struct {
	ID            string
	Name          string
	OwnedBy       string // e.g. "openai", "anthropic" (the model's family owner)
	Created       int64  // unix seconds, for /v1/models
	ContextLength int
	MaxOutput     int
	Capabilities  Capabilities
	Offers        []*Offer
	// Status is ACTIVE (default), SUSPENDED or HIDDEN (403 for everyone),
	// or RESTRICTED (only AllowedEmails and ULTRA users).
	Status        string
	AllowedEmails []string
	AllowedOrgs   []string // organization ids allowed to use a RESTRICTED model
	// Owner is the email of a private model ("alice@example.com/gpt-4o"):
	// only its owner and ULTRA users may use or see it.
	Owner string
}

// Model statuses.
const (
	StatusActive     = "ACTIVE"
	StatusSuspended  = "SUSPENDED"
	StatusRestricted = "RESTRICTED"
	StatusHidden     = "HIDDEN"
)

// Resolution is the outcome of resolving a requested model name.
type Resolution struct {
	// Requested is the name as the client sent it.
	Requested string
	// Model is the catalog model; for an unlisted model of a custom provider it is
	// synthesised (ID "provider/model", one offer with an unknown price).
	Model *Model
	// Offers are the candidate provider offers, in catalog order. A pinned
	// request ("provider/model") has exactly one.
	Offers []*Offer
	// Pinned is true when the client named the provider.
	Pinned bool
	// Region is set when the client pinned one ("provider/model:region").
	Region string
}
