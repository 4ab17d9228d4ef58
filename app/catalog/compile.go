package catalog

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode"

	"gopkg.in/yaml.v3"
)

var (
	// Built-in ids may contain dashes ("google-ai-studio").
	builtinIDPattern = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	// Custom ids are plain lower-case words: they become the prefix of pinned
	// names ("acme/x") and the <PROVIDER> of LLM_<PROVIDER>_API_KEY, so they must
	// be unambiguous in both.
	customIDPattern = regexp.MustCompile(`^[a-z]+$`)
)

// Adapter kinds a provider may declare. "test" is the in-process test adapter
// and only built in.
var (
	builtinKinds = map[string]bool{"openai": true, "anthropic": true, "google": true, "azure": true, "test": true}
	customKinds  = map[string]bool{"openai": true, "anthropic": true, "google": true, "azure": true}
)

// compileProvider validates one provider entry. custom is true for entries of
// GATEWAY_MODELS_FILE, which have their own, stricter rules.
func compileProvider(fp fileProvider, custom bool) (*ProviderInfo, error) {
	p := &ProviderInfo{ID: fp.ID, Name: fp.Name, Kind: fp.Kind, APIKey: fp.APIKey, Custom: custom}
	if custom {
		if !customIDPattern.MatchString(p.ID) {
			return nil, fmt.Errorf("provider id %q must match ^[a-z]+$", p.ID)
		}
		if p.Kind == "" {
			p.Kind = "openai"
		}
		if !customKinds[p.Kind] {
			return nil, fmt.Errorf("provider %q: kind %q is not one of openai, anthropic, google, azure", p.ID, p.Kind)
		}
		if p.Name == "" {
			p.Name = p.ID
		}
	} else {
		if !builtinIDPattern.MatchString(p.ID) {
			return nil, fmt.Errorf("provider id %q is invalid", p.ID)
		}
		if !builtinKinds[p.Kind] || p.Name == "" {
			return nil, fmt.Errorf("provider %q: needs a name and a known kind (got %q)", p.ID, p.Kind)
		}
		if p.APIKey != "" { // the embedded file ships in the binary
			return nil, fmt.Errorf("provider %q: built-in providers take keys from the environment, not apiKey", p.ID)
		}
	}
	if err := applyRouting(p, fp); err != nil {
		return nil, fmt.Errorf("provider %q: %w", p.ID, err)
	}
	for _, a := range fp.Aliases {
		if !builtinIDPattern.MatchString(a) || a == p.ID {
			return nil, fmt.Errorf("provider %q: alias %q is invalid", p.ID, a)
		}
		p.Aliases = append(p.Aliases, a)
	}
	if (p.Kind == "test" || p.Kind == "azure" && !custom) && fp.BaseURL == "" {
		return p, nil // in-process, or (Azure) a per-resource URL only the operator knows
	}
	u, err := normalizeBaseURL(fp.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("provider %q: %w", p.ID, err)
	}
	p.BaseURL = u
	return p, nil
}

var (
	jurisdictionPattern = regexp.MustCompile(`^[a-z]{2,8}$`)
	regionPattern       = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
)

// isRoutingOnly: a models-file entry that only sets routing fields, which is
// how a built-in provider's priority, regions and jurisdiction are configured.
func isRoutingOnly(fp fileProvider) bool {
	return fp.Name == "" && fp.Kind == "" && fp.BaseURL == "" && fp.APIKey == ""
}

// applyRouting validates and sets the routing fields of a provider entry.
func applyRouting(p *ProviderInfo, fp fileProvider) error {
	p.Priority = 1
	if fp.Priority != nil {
		if *fp.Priority < 0 || *fp.Priority > 2 {
			return fmt.Errorf("priority %v must be between 0 (disabled) and 2", *fp.Priority)
		}
		p.Priority = *fp.Priority
	}
	for _, j := range []string{fp.Operator, fp.Jurisdiction} {
		if j != "" && !jurisdictionPattern.MatchString(j) {
			return fmt.Errorf("jurisdiction %q must be a lower-case code such as eu or us", j)
		}
	}
	if fp.Operator != "" {
		p.Operator = fp.Operator
	}
	if fp.Jurisdiction != "" {
		p.Jurisdiction = fp.Jurisdiction
	}
	if fp.Regions == nil {
		return nil
	}
	p.Regions = nil
	for _, fr := range fp.Regions {
		if !regionPattern.MatchString(fr.ID) {
			return fmt.Errorf("region id %q must be lower-case words joined by dashes", fr.ID)
		}
		if _, dup := p.Region(fr.ID); dup {
			return fmt.Errorf("region %q listed twice", fr.ID)
		}
		if !jurisdictionPattern.MatchString(fr.Jurisdiction) {
			return fmt.Errorf("region %q needs a jurisdiction code such as eu or us", fr.ID)
		}
		r := &Region{ID: fr.ID, Jurisdiction: fr.Jurisdiction}
		if fr.BaseURL != "" {
			u, err := normalizeBaseURL(fr.BaseURL)
			if err != nil {
				return fmt.Errorf("region %q: %w", fr.ID, err)
			}
			r.BaseURL = u
		}
		p.Regions = append(p.Regions, r)
	}
	return nil
}

// normalizeBaseURL checks that s is an absolute http(s) URL and drops trailing
// slashes, so adapters can append "/v1/..." without doubling them.
func normalizeBaseURL(s string) (string, error) {
	if s == "" {
		return "", errors.New("baseUrl is required")
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("baseUrl %q: %w", s, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("baseUrl %q must be an http(s) URL without query or fragment", s)
	}
	return strings.TrimRight(s, "/"), nil
}

// compileOffer validates one offer against the providers known so far.
func compileOffer(fo fileOffer, providers map[string]*ProviderInfo) (*Offer, error) {
	if fo.Provider == "" {
		return nil, errors.New("offer without provider")
	}
	if _, ok := providers[fo.Provider]; !ok {
		return nil, fmt.Errorf("unknown provider %q (neither built in nor declared under providers:)", fo.Provider)
	}
	if !validName(fo.Model) {
		return nil, fmt.Errorf("provider %q: model %q must be non-empty without spaces or control characters", fo.Provider, fo.Model)
	}
	if fo.ContextLength < 0 || fo.MaxOutput < 0 {
		return nil, fmt.Errorf("provider %q: contextLength and maxOutput must not be negative", fo.Provider)
	}
	price, err := compilePrice(fo)
	if err != nil {
		return nil, fmt.Errorf("provider %q: %w", fo.Provider, err)
	}
	for _, r := range fo.Regions {
		if _, ok := providers[fo.Provider].Region(r); !ok {
			return nil, fmt.Errorf("provider %q has no region %q (declare it under the provider's regions)", fo.Provider, r)
		}
	}
	return &Offer{
		Provider:      fo.Provider,
		Model:         fo.Model,
		Price:         price,
		ContextLength: fo.ContextLength,
		MaxOutput:     fo.MaxOutput,
		Regions:       fo.Regions,
	}, nil
}

// compilePrice converts the price fields exactly. Any price field makes the
// price Known; none and no "free: true" leaves it unknown, never silently $0.
func compilePrice(fo fileOffer) (Price, error) {
	var p Price
	fields := []struct {
		name  string
		n     yaml.Node
		scale int
		dst   *int64
	}{
		{"inputPrice", fo.InputPrice, perTokenScale, &p.Input},
		{"cachedInputPrice", fo.CachedInputPrice, perTokenScale, &p.CachedInput},
		{"cacheWritePrice", fo.CacheWritePrice, perTokenScale, &p.CacheWrite},
		{"outputPrice", fo.OutputPrice, perTokenScale, &p.Output},
		{"requestPrice", fo.RequestPrice, perRequestScale, &p.Request},
	}
	for _, f := range fields {
		if f.n.Kind == 0 { // key absent
			continue
		}
		v, err := priceValue(&f.n, f.scale)
		if err != nil {
			unit := "USD per 1M tokens"
			if f.scale == perRequestScale {
				unit = "USD per request"
			}
			return Price{}, fmt.Errorf("%s (line %d, %s): %w", f.name, f.n.Line, unit, err)
		}
		*f.dst = v
		p.Known = true
	}
	if fo.Free {
		if p != (Price{Known: p.Known}) {
			return Price{}, errors.New("free: true contradicts a non-zero price")
		}
		return Price{Known: true, Free: true}, nil
	}
	return p, nil
}

func priceValue(n *yaml.Node, scale int) (int64, error) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		return 0, errors.New("must be a number")
	}
	return parseDecimal(n.Value, scale)
}

var capabilityNames = map[string]func(*Capabilities){
	"streaming":   func(c *Capabilities) { c.Streaming = true },
	"tools":       func(c *Capabilities) { c.Tools = true },
	"vision":      func(c *Capabilities) { c.Vision = true },
	"reasoning":   func(c *Capabilities) { c.Reasoning = true },
	"embeddings":  func(c *Capabilities) { c.Embeddings = true },
	"json_output": func(c *Capabilities) { c.JSONOutput = true },
}

func parseCapabilities(names []string) (Capabilities, error) {
	var c Capabilities
	for _, n := range names {
		set, ok := capabilityNames[n]
		if !ok {
			return Capabilities{}, fmt.Errorf("unknown capability %q (streaming, tools, vision, reasoning, embeddings, json_output)", n)
		}
		set(&c)
	}
	return c, nil
}

// uncheckedCapabilities is what models the gateway cannot vouch for get
// (custom providers' unlisted models, file models without a capabilities
// list): everything a chat model may do, so requests are passed through and
// the upstream decides. Embeddings stay off because a chat model answering
// /v1/embeddings is the likelier mistake.
var uncheckedCapabilities = Capabilities{Streaming: true, Tools: true, Vision: true, Reasoning: true, JSONOutput: true}

// validName accepts ids that are safe to echo in JSON and logs and cannot be
// confused with another id: non-empty, no whitespace nor control characters.
func validName(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == unicode.ReplacementChar {
			return false
		}
	}
	return true
}
