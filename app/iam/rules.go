// Package iam validates and evaluates the IAM rules of gateway API keys
// (allow/deny models, providers, pricing, IP ranges), as the seed's "API Keys &
// IAM Rules" section describes. Rules are compiled once when loaded; evaluating
// them on a request touches no database.
package iam

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
)

// Rule types.
const (
	AllowModels    = "allow_models"
	DenyModels     = "deny_models"
	AllowProviders = "allow_providers"
	DenyProviders  = "deny_providers"
	AllowPricing   = "allow_pricing"
	DenyPricing    = "deny_pricing"
	AllowIPCIDRs   = "allow_ip_cidrs"
	DenyIPCIDRs    = "deny_ip_cidrs"
)

// RuleTypes lists every valid ruleType.
var RuleTypes = []string{AllowModels, DenyModels, AllowProviders, DenyProviders, AllowPricing, DenyPricing, AllowIPCIDRs, DenyIPCIDRs}

// Value is a rule's ruleValue object. Prices are USD per 1M tokens.
type Value struct {
	Models         []string `json:"models,omitempty"`
	Providers      []string `json:"providers,omitempty"`
	PricingType    string   `json:"pricingType,omitempty"`
	MaxInputPrice  *float64 `json:"maxInputPrice,omitempty"`
	MaxOutputPrice *float64 `json:"maxOutputPrice,omitempty"`
	IPCidrs        []string `json:"ipCidrs,omitempty"`
}

// ValidationError names the offending field of a rule.
type ValidationError struct {
	Param string
	Msg   string
}

func (e *ValidationError) Error() string { return e.Msg }

func invalid(param, format string, args ...any) error {
	return &ValidationError{Param: param, Msg: fmt.Sprintf(format, args...)}
}

// ValidType reports whether t is a rule type.
func ValidType(t string) bool {
	for _, r := range RuleTypes {
		if r == t {
			return true
		}
	}
	return false
}

// ParseValue decodes and validates a ruleValue for a rule type. Unknown fields and
// fields that do not belong to the type are refused, so a typo never silently
// widens access.
func ParseValue(ruleType string, raw json.RawMessage) (Value, error) {
	var v Value
	if !ValidType(ruleType) {
		return v, invalid("ruleType", "Invalid ruleType '%s': must be one of %s.", ruleType, strings.Join(RuleTypes, ", "))
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if len(raw) == 0 || dec.Decode(&v) != nil {
		return v, invalid("ruleValue", "ruleValue must be an object with the fields of a %s rule.", ruleType)
	}
	switch ruleType {
	case AllowModels, DenyModels:
		if len(v.Models) == 0 || v.Providers != nil || v.IPCidrs != nil || pricingSet(v) {
			return v, invalid("ruleValue.models", "A %s rule needs a non-empty ruleValue.models list and nothing else.", ruleType)
		}
		if err := nonEmptyStrings("ruleValue.models", v.Models); err != nil {
			return v, err
		}
	case AllowProviders, DenyProviders:
		if len(v.Providers) == 0 || v.Models != nil || v.IPCidrs != nil || pricingSet(v) {
			return v, invalid("ruleValue.providers", "A %s rule needs a non-empty ruleValue.providers list and nothing else.", ruleType)
		}
		if err := nonEmptyStrings("ruleValue.providers", v.Providers); err != nil {
			return v, err
		}
	case AllowPricing, DenyPricing:
		if !pricingSet(v) || v.Models != nil || v.Providers != nil || v.IPCidrs != nil {
			return v, invalid("ruleValue", "A %s rule needs pricingType, maxInputPrice or maxOutputPrice.", ruleType)
		}
		if v.PricingType != "" && v.PricingType != "free" && v.PricingType != "paid" {
			return v, invalid("ruleValue.pricingType", "ruleValue.pricingType must be 'free' or 'paid'.")
		}
		for name, p := range map[string]*float64{"maxInputPrice": v.MaxInputPrice, "maxOutputPrice": v.MaxOutputPrice} {
			if p != nil && *p < 0 {
				return v, invalid("ruleValue."+name, "ruleValue.%s must not be negative.", name)
			}
		}
	case AllowIPCIDRs, DenyIPCIDRs:
		if len(v.IPCidrs) == 0 || v.Models != nil || v.Providers != nil || pricingSet(v) {
			return v, invalid("ruleValue.ipCidrs", "A %s rule needs a non-empty ruleValue.ipCidrs list and nothing else.", ruleType)
		}
		for i, c := range v.IPCidrs {
			if _, err := netip.ParsePrefix(strings.TrimSpace(c)); err != nil {
				return v, invalid(fmt.Sprintf("ruleValue.ipCidrs[%d]", i), "Invalid CIDR '%s' in ruleValue.ipCidrs: use a form like 192.0.2.0/24 or 2001:db8::/32.", c)
			}
		}
	}
	return v, nil
}

func pricingSet(v Value) bool {
	return v.PricingType != "" || v.MaxInputPrice != nil || v.MaxOutputPrice != nil
}

func nonEmptyStrings(param string, list []string) error {
	for i, s := range list {
		if strings.TrimSpace(s) == "" {
			return invalid(fmt.Sprintf("%s[%d]", param, i), "%s[%d] must not be empty.", param, i)
		}
	}
	return nil
}
