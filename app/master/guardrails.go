package master

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/llmgw/gateway/app/apierr"
	"github.com/llmgw/gateway/app/guardrails"
	"github.com/llmgw/gateway/app/ids"
	"github.com/llmgw/gateway/app/secevents"
	"github.com/llmgw/gateway/models"
)

// guardrailsView is GET /v1/master/guardrails: the configuration as PUT takes
// it, plus when and by whom it was last changed (null: never configured).
type guardrailsView struct {
	Enabled   bool              `json:"enabled"`
	Rules     []guardrails.Rule `json:"rules"`
	UpdatedAt *time.Time        `json:"updatedAt"`
	UpdatedBy *string           `json:"updatedBy"`
}

// readOnlyGuardrailFields are fields of the GET document that PUT ignores,
// so a client can GET, edit and PUT the document back.
var readOnlyGuardrailFields = []string{"updatedAt", "updatedBy"}

func viewGuardrails(cfg guardrails.Config, row *models.GuardrailConfig) guardrailsView {
	v := guardrailsView{Enabled: cfg.Enabled, Rules: cfg.Rules}
	if v.Rules == nil {
		v.Rules = []guardrails.Rule{}
	}
	if row != nil {
		at, by := row.UpdatedAt, row.UpdatedBy
		v.UpdatedAt, v.UpdatedBy = &at, &by
	}
	return v
}

// getGuardrails serves GET /v1/master/guardrails: the organization's
// configuration, {"enabled": false, "rules": []} when it never saved one.
func (a *API) getGuardrails(c *fiber.Ctx) error {
	var row models.GuardrailConfig
	err := a.DB.WithContext(c.UserContext()).Where("organization_id = ?", org(c)).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return c.JSON(viewGuardrails(guardrails.Config{}, nil))
	}
	if err != nil {
		return apierr.Internal("Could not read the guardrails configuration.")
	}
	cfg, err := guardrails.Parse([]byte(row.Config))
	if err != nil {
		// Stored configurations were validated on write; one that no longer
		// parses is off on the hot path (see keys.CompileGuardrails). Say so
		// rather than show a configuration that is not in force.
		return apierr.Internal("The stored guardrails configuration is invalid (" + err.Error() + "); guardrails are off until it is saved again with PUT.")
	}
	return c.JSON(viewGuardrails(cfg, &row))
}

// putGuardrails serves PUT /v1/master/guardrails: replaces the organization's
// configuration with the body ({"enabled": true, "rules": [...]}, see
// app/guardrails for every rule type). The body is validated strictly: an
// unknown field or a field of another rule type is a 400 naming it
// ("rules[2].action"), never silently ignored. "enabled" is required so a
// forgotten field cannot switch guardrails off. Audited as
// guardrails.update, applied to this process's key cache at once and
// announced to the other instances.
func (a *API) putGuardrails(c *fiber.Ctx) error {
	b, err := parseBody(c.Body())
	if err != nil {
		return err
	}
	raw := c.Body()
	for _, f := range readOnlyGuardrailFields {
		if _, ok := b[f]; ok {
			delete(b, f)
			raw, _ = json.Marshal(b) // only the top level is re-encoded; rules stay as sent
		}
	}
	if err := b.only(append([]string{"enabled", "rules"}, readOnlyGuardrailFields...)...); err != nil {
		return err
	}
	if v, ok := b["enabled"]; !ok || isNull(v) {
		return bad("enabled", "'enabled' is required: true or false.")
	}
	cfg, err := guardrails.Parse(raw)
	if err != nil {
		return guardrailsError(err)
	}
	engine, err := guardrails.Compile(cfg)
	if err != nil {
		return guardrailsError(err)
	}
	if !engine.Active() {
		engine = nil
	}
	if cfg.Rules == nil {
		cfg.Rules = []guardrails.Rule{}
	}
	canonical, err := json.Marshal(cfg)
	if err != nil {
		return apierr.Internal("Could not encode the guardrails configuration.")
	}

	orgID, by := org(c), actor(c)
	row := models.GuardrailConfig{OrganizationID: orgID, Config: string(canonical), UpdatedAt: time.Now().UTC().Truncate(time.Microsecond), UpdatedBy: by.ID}
	err = a.DB.WithContext(c.UserContext()).Transaction(func(tx *gorm.DB) error {
		if err := tx.Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "organization_id"}},
			DoUpdates: clause.AssignmentColumns([]string{"config", "updated_at", "updated_by"}),
		}).Create(&row).Error; err != nil {
			return err
		}
		changes, _ := json.Marshal(auditGuardrails(cfg))
		return tx.Create(&models.AuditLog{ID: ids.New("aud"), OrganizationID: orgID, ActorType: by.Type, ActorID: by.ID,
			Action: "guardrails.update", ResourceType: "guardrails", ResourceID: orgID, Changes: string(changes),
			CreatedAt: row.UpdatedAt}).Error
	})
	if err != nil {
		return apierr.Internal("Could not save the guardrails configuration.")
	}
	if a.Prov != nil {
		if a.Prov.Cache != nil {
			a.Prov.Cache.PutGuardrails(orgID, engine, row.UpdatedAt)
		}
		if a.Prov.Notify != nil {
			a.Prov.Notify()
		}
	}
	return c.JSON(viewGuardrails(cfg, &row))
}

// auditGuardrails is what the audit row records of a configuration: the
// switch and each rule's type, action, name and state, not its terms,
// patterns or topics (lists of up to thousands of entries, and blocked
// terms are often confidential code names).
func auditGuardrails(cfg guardrails.Config) map[string]any {
	rules := make([]map[string]any, len(cfg.Rules))
	for i, r := range cfg.Rules {
		m := map[string]any{"type": r.Type, "action": r.Action, "enabled": r.IsEnabled()}
		if r.Name != "" {
			m["name"] = r.Name
		}
		rules[i] = m
	}
	return map[string]any{"enabled": cfg.Enabled, "rules": rules}
}

// guardrailsError turns a validation error into a 400 naming the field.
func guardrailsError(err error) error {
	var ve *guardrails.ValidationError
	if errors.As(err, &ve) {
		field := ve.Field
		if field == "config" { // the document itself
			field = ""
		}
		return apierr.BadRequest("Invalid guardrails configuration: "+ve.Error(), field)
	}
	return apierr.BadRequest("Invalid guardrails configuration: "+err.Error(), "")
}

// securityEventView is one Security Events entry, with the seed's fields
// (timestamp, rule name, category, action, matched pattern) and where it
// happened.
type securityEventView struct {
	ID             string    `json:"id"`
	Timestamp      time.Time `json:"timestamp"`
	RuleName       string    `json:"ruleName"`
	Category       string    `json:"category"`
	Action         string    `json:"action"` // blocked | redacted | warned
	MatchedPattern string    `json:"matchedPattern"`
	Entity         string    `json:"entity,omitempty"`
	MessageIndex   int       `json:"messageIndex"`
	RequestID      string    `json:"requestId"`
	ProjectID      string    `json:"projectId"`
	APIKeyID       string    `json:"apiKeyId"`
	Model          string    `json:"model"`
	Endpoint       string    `json:"endpoint"`
}

// securityEvents serves GET /v1/master/security-events, newest first with
// cursor pagination. Filters (the seed's, plus where): action (blocked,
// redacted, warned; block, redact, warn are accepted too), category (a rule
// type), projectId, apiKeyId, requestId, from, to.
func (a *API) securityEvents(c *fiber.Ctx) error {
	q := a.DB.WithContext(c.UserContext()).Model(&models.SecurityEvent{}).Where("organization_id = ?", org(c))
	if v := c.Query("action"); v != "" {
		act := secevents.NormalizeAction(strings.ToLower(v))
		if !slices.Contains(secevents.Actions, act) {
			return apierr.BadRequest("'action' must be one of: "+strings.Join(secevents.Actions, ", ")+".", "action")
		}
		q = q.Where("action = ?", act)
	}
	if v := c.Query("category"); v != "" {
		if !slices.Contains(guardrails.RuleTypes, v) {
			return apierr.BadRequest("'category' must be one of: "+strings.Join(guardrails.RuleTypes, ", ")+".", "category")
		}
		q = q.Where("category = ?", v)
	}
	for _, f := range []struct{ param, col string }{{"projectId", "project_id"}, {"apiKeyId", "api_key_id"}, {"requestId", "request_id"}} {
		if v := c.Query(f.param); v != "" {
			q = q.Where(f.col+" = ?", v)
		}
	}
	rows, next, err := findPage(c, q, "security events", func(r *models.SecurityEvent) (time.Time, string) { return r.CreatedAt, r.ID })
	if err != nil {
		return err
	}
	out := make([]securityEventView, len(rows))
	for i, r := range rows {
		out[i] = securityEventView{ID: r.ID, Timestamp: r.CreatedAt, RuleName: r.Rule, Category: r.Category, Action: r.Action,
			MatchedPattern: r.Match, Entity: r.Entity, MessageIndex: r.MessageIndex, RequestID: r.RequestID,
			ProjectID: r.ProjectID, APIKeyID: r.APIKeyID, Model: r.Model, Endpoint: r.Endpoint}
	}
	return c.JSON(fiber.Map{"securityEvents": out, "nextCursor": nullable(next)})
}
