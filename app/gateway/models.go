package gateway

import (
	"github.com/gofiber/fiber/v2"

	"github.com/llmgw/gateway/app/catalog"
)

// modelEntry is one element of GET /v1/models (OpenAI list shape plus the
// gateway's extras, which OpenAI SDKs ignore).
type modelEntry struct {
	ID            string      `json:"id"`
	Object        string      `json:"object"`
	Created       int64       `json:"created"`
	OwnedBy       string      `json:"owned_by"`
	Name          string      `json:"name,omitempty"`
	ContextLength int         `json:"context_length,omitempty"`
	Pricing       *modelPrice `json:"pricing,omitempty"`
	Capabilities  []string    `json:"capabilities,omitempty"`
	Providers     []string    `json:"providers,omitempty"`
	Available     bool        `json:"available"`
	// Status is the model's status (ACTIVE, SUSPENDED, RESTRICTED; HIDDEN
	// models are not listed), as Devora clients expect.
	Status string `json:"status"`
	// Routing is the model's routing configuration, shown to admins only.
	Routing []routeEntry `json:"routing,omitempty"`
}

// routeEntry is one provider a model is routed to (admins only: it names
// internal endpoints).
type routeEntry struct {
	Provider string   `json:"provider"`
	Model    string   `json:"model"`
	BaseURL  string   `json:"baseUrl,omitempty"`
	Regions  []string `json:"regions,omitempty"`
	Priority float64  `json:"priority"`
}

// modelPrice is in USD per 1M tokens, as decimal strings (exact).
type modelPrice struct {
	Input       string `json:"input"`
	CachedInput string `json:"cached_input,omitempty"`
	Output      string `json:"output"`
	Free        bool   `json:"free,omitempty"`
}

// Models serves GET /v1/models: every root id, then every provider/model id.
func (g *Gateway) Models(c *fiber.Ctx) error {
	id, err := g.Keys.Authenticate(c.UserContext(), bearerToken(c))
	if err != nil {
		return authError(err)
	}
	ups := g.Upstreams()
	cat := g.Catalog.Get()
	admin := isAdmin(id)
	var data []modelEntry
	for _, m := range cat.Models() {
		if !visible(id, m) {
			continue
		}
		root := modelEntry{ID: m.ID, Object: "model", Created: m.Created, OwnedBy: m.OwnedBy, Name: m.Name,
			ContextLength: m.ContextLength, Capabilities: capabilityList(m.Capabilities), Status: m.Status}
		var pinned []modelEntry
		for _, o := range m.Offers {
			up, ok := ups.Get(o.Provider)
			if admin && ok {
				re := routeEntry{Provider: o.Provider, Model: o.Model, BaseURL: up.BaseURL, Priority: up.Info.Priority}
				for _, r := range up.Info.Regions {
					if o.InRegion(r.ID) {
						re.Regions = append(re.Regions, r.ID)
					}
				}
				root.Routing = append(root.Routing, re)
			}
			root.Providers = append(root.Providers, o.Provider)
			root.Available = root.Available || ok
			if root.Pricing == nil && o.Price.Known {
				root.Pricing = priceOf(o.Price)
			}
			pinned = append(pinned, modelEntry{ID: o.Provider + "/" + m.ID, Object: "model", Created: m.Created,
				OwnedBy: o.Provider, Name: m.Name, ContextLength: m.ContextLength, Pricing: priceOf(o.Price),
				Capabilities: root.Capabilities, Providers: []string{o.Provider}, Available: ok, Status: m.Status})
		}
		data = append(data, root)
		data = append(data, pinned...)
	}
	return c.JSON(fiber.Map{"object": "list", "data": data})
}

func priceOf(p catalog.Price) *modelPrice {
	if !p.Known {
		return nil
	}
	return &modelPrice{Input: perMillion(p.Input), CachedInput: perMillion(p.CachedInput), Output: perMillion(p.Output), Free: p.Free}
}

// perMillion renders pico-USD per token as exact decimal USD per 1M tokens.
func perMillion(pico int64) string {
	whole, frac := pico/1_000_000, pico%1_000_000
	s := itoa(whole)
	if frac == 0 {
		return s
	}
	f := []byte{'0', '0', '0', '0', '0', '0'}
	for i := 5; i >= 0; i-- {
		f[i] = byte('0' + frac%10)
		frac /= 10
	}
	end := 6
	for end > 0 && f[end-1] == '0' {
		end--
	}
	return s + "." + string(f[:end])
}

func itoa(n int64) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

func capabilityList(c catalog.Capabilities) []string {
	var out []string
	add := func(ok bool, name string) {
		if ok {
			out = append(out, name)
		}
	}
	add(c.Streaming, "streaming")
	add(c.Tools, "tools")
	add(c.Vision, "vision")
	add(c.Reasoning, "reasoning")
	add(c.Embeddings, "embeddings")
	add(c.JSONOutput, "json_output")
	return out
}
