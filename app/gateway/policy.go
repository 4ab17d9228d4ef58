package gateway

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/llmgw/gateway/app/apierr"
	"github.com/llmgw/gateway/app/catalog"
	"github.com/llmgw/gateway/app/keys"
	"github.com/llmgw/gateway/app/routing"
)

// checkAccess applies a model's status (Devora's table): SUSPENDED and HIDDEN
// models answer 403 for everyone; RESTRICTED models and private models
// ("owner@example.com/model") only to their allowed users and ULTRA users.
func checkAccess(id *keys.Identity, requested string, m *catalog.Model) error {
	email, ultra := "", false
	if id != nil && id.User != nil {
		email, ultra = strings.ToLower(id.User.Email), id.User.Role == "ULTRA"
	}
	switch m.Status {
	case catalog.StatusSuspended:
		return modelDenied(requested, "is currently suspended")
	case catalog.StatusHidden:
		return modelDenied(requested, "is not available")
	case catalog.StatusRestricted:
		if !ultra && !slices.Contains(m.AllowedEmails, email) && (id == nil || !slices.Contains(m.AllowedOrgs, id.Key.OrganizationID)) {
			return modelDenied(requested, "is restricted")
		}
	}
	if m.Owner != "" && !ultra && email != m.Owner {
		return modelDenied(requested, "is private")
	}
	return nil
}

// isAdmin: the key's creator administers the gateway (role admin or ULTRA).
func isAdmin(id *keys.Identity) bool {
	return id != nil && id.User != nil && (id.User.Role == "admin" || id.User.Role == "ULTRA")
}

func modelDenied(model, why string) error {
	return apierr.Forbidden(fmt.Sprintf("Model '%s' %s.", model, why)).WithCode("model_not_allowed")
}

// visible reports whether /v1/models lists the model for this identity:
// HIDDEN models only to admins, private models to their owner (and ULTRA).
func visible(id *keys.Identity, m *catalog.Model) bool {
	if m.Status == catalog.StatusHidden {
		return isAdmin(id)
	}
	if m.Owner == "" {
		return true
	}
	return id != nil && id.User != nil && (id.User.Role == "ULTRA" || strings.EqualFold(id.User.Email, m.Owner))
}

// tier is a TechVera model tier: "{jurisdiction}/{model}",
// "{jurisdiction}-{strategy}/{model}" or "{jurisdiction}/{strategy}".
type tier struct {
	policy   string // global | <code>-hosted | <code>-sovereign
	strategy string // the routing field's vocabulary: "" | price | throughput | latency | auto
	model    string // "" when the tier chooses the model too
}

var tierPattern = regexp.MustCompile(`^(global|[a-z]{2}-(?:sovereign|hosted))(?:-(cheapest|fastest|lowest-latency|balanced))?$`)

// tierStrategies maps TechVera strategy names onto routing strategies.
var tierStrategies = map[string]string{"cheapest": "price", "fastest": "throughput", "lowest-latency": "latency", "balanced": "auto"}

// parseTier recognises a jurisdiction tier; ok is false for any other name
// (including a provider pin such as "mistral/mistral-large").
func parseTier(name string) (tier, bool) {
	prefix, rest, found := strings.Cut(name, "/")
	if !found || rest == "" {
		return tier{}, false
	}
	m := tierPattern.FindStringSubmatch(prefix)
	if m == nil {
		return tier{}, false
	}
	t := tier{policy: m[1], strategy: tierStrategies[m[2]], model: rest}
	if s, ok := tierStrategies[rest]; ok && m[2] == "" {
		t.strategy, t.model = s, "" // tier 3: the gateway chooses the model as well
	}
	return t, true
}

// allowedIn reports whether a candidate may serve a request under a
// jurisdiction policy: "<j>-sovereign" needs an operator and hosting in <j>,
// "<j>-hosted" hosting in <j> whoever operates it, "global" anything.
func allowedIn(policy string, c routing.Candidate) bool {
	if policy == "" || policy == "global" {
		return true
	}
	code, kind, _ := strings.Cut(policy, "-")
	if c.Hosting() != code {
		return false
	}
	return kind == "hosted" || c.Upstream.Info.Operator == code
}

// allowedFor: the candidate satisfies both the request's jurisdiction tier and
// its organization's jurisdiction policy.
func (g *Gateway) allowedFor(rc *reqCtx, c routing.Candidate) bool {
	return rc.id.Key.Test || allowedIn(rc.jurisdiction, c) && allowedIn(rc.id.Org.Jurisdiction(), c)
}

func (g *Gateway) inJurisdictions(rc *reqCtx, cands []routing.Candidate) []routing.Candidate {
	out := cands[:0:0]
	for _, c := range cands {
		if g.allowedFor(rc, c) {
			out = append(out, c)
		}
	}
	return out
}

func inJurisdiction(policy string, cands []routing.Candidate) []routing.Candidate {
	out := cands[:0:0]
	for _, c := range cands {
		if allowedIn(policy, c) {
			out = append(out, c)
		}
	}
	return out
}

// chooseModel picks the model of a tier-3 request: the cheapest active,
// public model of the right kind with a provider allowed under the policy
// (throughput and latency are not known before traffic exists, so every
// strategy starts from price and the selector then orders that model's
// providers by the strategy).
func (g *Gateway) chooseModel(rc *reqCtx, t tier, needEmbeddings bool) (string, error) {
	best := g.cheapestModel(rc, func(m *catalog.Model) bool {
		if needEmbeddings {
			return m.Capabilities.Embeddings
		}
		return chatModel(m)
	}, nil)
	if best == "" {
		return "", apierr.BadRequest(fmt.Sprintf("No configured model is available under the jurisdiction policy '%s'.", t.policy), "model").WithCode("jurisdiction_unavailable")
	}
	return best, nil
}
