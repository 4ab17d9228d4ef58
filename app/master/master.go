// Package master serves the management API under /v1/master/*, authenticated by
// an organization's master key (llmgmk_...), as the seed's "Master Keys" section
// describes. Every change goes through the provision service, which writes the
// audit row and updates the gateway's in-memory key cache.
package master

import (
	"errors"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"gorm.io/gorm"

	"github.com/llmgw/gateway/app/apierr"
	"github.com/llmgw/gateway/app/catalog"
	"github.com/llmgw/gateway/app/iam"
	"github.com/llmgw/gateway/app/keys"
	"github.com/llmgw/gateway/app/provision"
	"github.com/llmgw/gateway/app/retention"
	"github.com/llmgw/gateway/models"
)

// API is the management API.
type API struct {
	DB     *gorm.DB
	Prov   *provision.Service
	Hasher *keys.Hasher
	// Payloads reads retained request/response payloads (data retention);
	// nil: GET /logs/{id}/payload answers 404.
	Payloads *retention.Store
	// Catalog gives the providers' operator and hosting jurisdictions to the
	// audit export; nil: those columns stay empty.
	Catalog func() *catalog.Catalog
	// OnProviderKeys is called after an organization provider key changed
	// (the server reloads its in-memory keys).
	OnProviderKeys func()
	// ExportBatchSize is how many log rows the audit export reads per query
	// (0: 1,000).
	ExportBatchSize int
}

// Register mounts the routes on r (the /v1/master group).
func (a *API) Register(r fiber.Router) {
	r.Use(a.authenticate)
	r.Get("/projects", a.listProjects)
	r.Post("/projects", a.createProject)
	r.Patch("/projects/:id", a.updateProject)
	r.Delete("/projects/:id", a.deleteProject)
	r.Get("/keys", a.listKeys)
	r.Post("/keys", a.createKey)
	r.Get("/keys/:id", a.getKey)
	r.Patch("/keys/:id", a.updateKey)
	r.Delete("/keys/:id", a.deleteKey)
	r.Post("/keys/:id/roll", a.rollKey)
	r.Get("/keys/:id/iam", a.listRules)
	r.Post("/keys/:id/iam", a.createRule)
	r.Patch("/keys/:id/iam/:ruleId", a.updateRule)
	r.Delete("/keys/:id/iam/:ruleId", a.deleteRule)
	r.Get("/provider-keys", a.listProviderKeys)
	r.Post("/provider-keys", a.createProviderKey)
	r.Patch("/provider-keys/:id", a.updateProviderKey)
	r.Delete("/provider-keys/:id", a.deleteProviderKey)
	r.Get("/audit-logs", a.auditLogs)
	r.Get("/audit-logs/export", a.exportAuditLogs)
	r.Get("/usage", a.usage)
	r.Get("/logs", a.logs)
	r.Get("/logs/:id/payload", a.logPayload)
	r.Get("/organization", a.getOrganization)
	r.Patch("/organization", a.updateOrganization)
	r.Get("/guardrails", a.getGuardrails)
	r.Put("/guardrails", a.putGuardrails)
	r.Get("/security-events", a.securityEvents)
}

// authenticate resolves the master key. Management traffic is light, so the
// key is looked up in the database each time: a revoked key stops at once on
// every instance.
func (a *API) authenticate(c *fiber.Ctx) error {
	h := c.Get(fiber.HeaderAuthorization)
	token := ""
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		token = strings.TrimSpace(h[7:])
	}
	if !strings.HasPrefix(token, keys.MasterKeyPrefix) {
		return apierr.Unauthorized("Unauthorized: a master key (Authorization: Bearer llmgmk_...) is required.")
	}
	var mk models.MasterKey
	err := a.DB.WithContext(c.UserContext()).Where("token_hash = ?", a.Hasher.Hash(token)).Take(&mk).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return apierr.Unauthorized("Unauthorized: invalid master key.")
	}
	if err != nil {
		return apierr.Unavailable("Authentication is temporarily unavailable.")
	}
	if mk.Status != "active" {
		return apierr.Unauthorized("Unauthorized: master key is inactive.")
	}
	// Best effort and coarse (once a minute): last use is informative only.
	if mk.LastUsedAt == nil || time.Since(*mk.LastUsedAt) > time.Minute {
		now := time.Now().UTC()
		a.DB.Model(&models.MasterKey{}).Where("id = ?", mk.ID).Update("last_used_at", now)
	}
	c.Locals("org", mk.OrganizationID)
	c.Locals("actor", provision.Actor{Type: "master_key", ID: mk.ID})
	return c.Next()
}

func org(c *fiber.Ctx) string            { return c.Locals("org").(string) }
func actor(c *fiber.Ctx) provision.Actor { return c.Locals("actor").(provision.Actor) }

// fail maps service errors to API errors.
func fail(err error, what string) error {
	var ve *iam.ValidationError
	switch {
	case errors.Is(err, provision.ErrNotFound):
		return apierr.NotFound(what + " not found")
	case errors.Is(err, provision.ErrExpiredNeedsNewExpiry):
		return apierr.BadRequest("An expired API key can only be reactivated with a new future expiresAt.", "expiresAt")
	case errors.As(err, &ve):
		return apierr.BadRequest(ve.Msg, ve.Param)
	}
	var ae *apierr.Error
	if errors.As(err, &ae) {
		return ae
	}
	return apierr.Internal("Internal server error.")
}

func message(c *fiber.Ctx, msg string) error { return c.JSON(fiber.Map{"message": msg}) }
