package iam

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/llmgw/gateway/app/catalog"
)

// Rule is a compiled active rule.
type Rule struct {
	Type   string
	models map[string]bool
	provs  map[string]bool
	price  Value
	nets   []netip.Prefix
}

// Set is the compiled active rules of one key; a nil or empty Set allows everything.
type Set []Rule

// Compile builds a rule set from (type, value) pairs of active rules.
func Compile(rules []struct {
	Type  string
	Value Value
}) Set {
	var out Set
	for _, r := range rules {
		c := Rule{Type: r.Type, price: r.Value}
		if len(r.Value.Models) > 0 {
			c.models = set(r.Value.Models)
		}
		if len(r.Value.Providers) > 0 {
			c.provs = set(r.Value.Providers)
		}
		for _, s := range r.Value.IPCidrs {
			if p, err := netip.ParsePrefix(strings.TrimSpace(s)); err == nil {
				c.nets = append(c.nets, normalize(p))
			}
		}
		out = append(out, c)
	}
	return out
}

// normalize turns an IPv4-mapped IPv6 range (::ffff:10.0.0.0/104) into the IPv4
// range it means, since client addresses are compared unmapped.
func normalize(p netip.Prefix) netip.Prefix {
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96).Masked()
	}
	return p.Masked()
}

func set(list []string) map[string]bool {
	m := make(map[string]bool, len(list))
	for _, s := range list {
		m[strings.ToLower(strings.TrimSpace(s))] = true
	}
	return m
}

// Denied is an IAM violation: 403 permission_denied with this message.
type Denied struct{ Msg string }

func (d *Denied) Error() string { return d.Msg }

// CheckIP applies the IP rules. ip may be invalid (unknown client address): an
// allow rule then denies, as the seed requires.
func (s Set) CheckIP(ip netip.Addr) error {
	ip = ip.Unmap() // ::ffff:1.2.3.4 matches 1.2.3.0/24
	for _, r := range s {
		switch r.Type {
		case AllowIPCIDRs:
			if !ip.IsValid() {
				return &Denied{"Access denied: the client IP address could not be determined and this key only allows listed IP ranges"}
			}
			if !contains(r.nets, ip) {
				return &Denied{fmt.Sprintf("Access denied: IP address %s is not in the allowed IP ranges", ip)}
			}
		case DenyIPCIDRs:
			if ip.IsValid() && contains(r.nets, ip) {
				return &Denied{fmt.Sprintf("Access denied: IP address %s is in a denied IP range", ip)}
			}
		}
	}
	return nil
}

func contains(nets []netip.Prefix, ip netip.Addr) bool {
	for _, n := range nets {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// Candidate is one (model, provider offer) a request could be served by.
type Candidate struct {
	ModelID string // catalog root id, e.g. gpt-4o
	Offer   *catalog.Offer
}

// Filter keeps the candidates every model, provider and pricing rule allows. When
// none is left it returns the violation of the first candidate, so the client
// learns which rule refused it.
func (s Set) Filter(requested string, cands []Candidate) ([]Candidate, error) {
	if len(s) == 0 {
		return cands, nil
	}
	var kept []Candidate
	var first error
	for _, c := range cands {
		if err := s.check(requested, c); err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		kept = append(kept, c)
	}
	if len(kept) == 0 && first != nil {
		return nil, first
	}
	return kept, nil
}

func (s Set) check(requested string, c Candidate) error {
	prov := c.Offer.Provider
	names := []string{strings.ToLower(c.ModelID), strings.ToLower(prov + "/" + c.ModelID), strings.ToLower(prov + "/" + c.Offer.Model)}
	for _, r := range s {
		switch r.Type {
		case AllowModels:
			if !anyIn(r.models, names) {
				return &Denied{fmt.Sprintf("Access denied: Model %s is not in the allowed models list", requested)}
			}
		case DenyModels:
			if anyIn(r.models, names) {
				return &Denied{fmt.Sprintf("Access denied: Model %s is in the denied models list", requested)}
			}
		case AllowProviders:
			if !r.provs[strings.ToLower(prov)] {
				return &Denied{fmt.Sprintf("Access denied: Provider %s is not in the allowed providers list", prov)}
			}
		case DenyProviders:
			if r.provs[strings.ToLower(prov)] {
				return &Denied{fmt.Sprintf("Access denied: Provider %s is in the denied providers list", prov)}
			}
		case AllowPricing:
			if !priceMatches(r.price, c.Offer.Price) {
				return &Denied{fmt.Sprintf("Access denied: Model %s does not match the allowed pricing (%s)", requested, describe(r.price))}
			}
		case DenyPricing:
			if priceMatches(r.price, c.Offer.Price) {
				return &Denied{fmt.Sprintf("Access denied: Model %s matches the denied pricing (%s)", requested, describe(r.price))}
			}
		}
	}
	return nil
}

func anyIn(m map[string]bool, names []string) bool {
	for _, n := range names {
		if m[n] {
			return true
		}
	}
	return false
}

// priceMatches: an offer matches a pricing constraint when it has the given
// pricing type and its prices are at most the given maxima. An unknown price
// matches no constraint (it cannot be shown to be free or cheap enough).
func priceMatches(v Value, p catalog.Price) bool {
	if !p.Known {
		return false
	}
	free := p.Free || (p.Input == 0 && p.Output == 0 && p.CachedInput == 0 && p.Request == 0)
	if v.PricingType == "free" && !free || v.PricingType == "paid" && free {
		return false
	}
	if v.MaxInputPrice != nil && float64(p.Input) > *v.MaxInputPrice*1e6+1e-6 {
		return false
	}
	if v.MaxOutputPrice != nil && float64(p.Output) > *v.MaxOutputPrice*1e6+1e-6 {
		return false
	}
	return true
}

func describe(v Value) string {
	var parts []string
	if v.PricingType != "" {
		parts = append(parts, v.PricingType)
	}
	if v.MaxInputPrice != nil {
		parts = append(parts, fmt.Sprintf("input ≤ $%g/1M", *v.MaxInputPrice))
	}
	if v.MaxOutputPrice != nil {
		parts = append(parts, fmt.Sprintf("output ≤ $%g/1M", *v.MaxOutputPrice))
	}
	return strings.Join(parts, ", ")
}
