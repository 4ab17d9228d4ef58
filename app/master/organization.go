package master

import (
	"encoding/json"
	"errors"
	"regexp"
	"time"

	"github.com/gofiber/fiber/v2"
	"gorm.io/gorm"

	"github.com/llmgw/gateway/app/apierr"
	"github.com/llmgw/gateway/app/ids"
	"github.com/llmgw/gateway/app/pricing"
	"github.com/llmgw/gateway/app/retention"
	"github.com/llmgw/gateway/models"
)

// organizationView is the organization as the master API shows it: its
// policies, never its credits balance (that is billing's).
type organizationView struct {
	ID            string    `json:"id"`
	Name          string    `json:"name"`
	Status        string    `json:"status"`
	Retention     string    `json:"retention"`     // metadata-only | retain-all
	RetentionDays int       `json:"retentionDays"` // the period applied
	Jurisdiction  string    `json:"jurisdiction"`  // global | <code>-hosted | <code>-sovereign
	CreatedAt     time.Time `json:"createdAt"`
	UpdatedAt     time.Time `json:"updatedAt"`
}

func (a *API) viewOrganization(o *models.Organization) organizationView {
	level := o.RetentionLevel
	if !retention.ValidLevel(level) {
		level = retention.MetadataOnly
	}
	j := o.JurisdictionPolicy
	if j == "" {
		j = "global"
	}
	return organizationView{o.ID, o.Name, o.Status, level, a.Payloads.Days(o.RetentionDays), j, o.CreatedAt, o.UpdatedAt}
}

// getOrganization serves GET /v1/master/organization.
func (a *API) getOrganization(c *fiber.Ctx) error {
	var o models.Organization
	err := a.DB.WithContext(c.UserContext()).Where("id = ?", org(c)).Take(&o).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return apierr.NotFound("Organization not found")
	}
	if err != nil {
		return apierr.Internal("Could not read the organization.")
	}
	return c.JSON(a.viewOrganization(&o))
}

// updateOrganization serves PATCH /v1/master/organization: the data retention
// policy ({"retention": "retain-all", "retentionDays": 30}). A new level or
// period applies to requests made from now on; stored payloads keep the
// period they were stored with. Audited as organization.update, and applied
// to this process's key cache at once (other instances: Redis notice or poll).
func (a *API) updateOrganization(c *fiber.Ctx) error {
	b, err := parseBody(c.Body())
	if err != nil {
		return err
	}
	if err := b.only("retention", "retentionDays", "jurisdiction"); err != nil {
		return err
	}
	if len(b) == 0 {
		return bad("", "At least one field must be provided.")
	}
	level, err := b.enum("retention", retention.MetadataOnly, retention.RetainAll)
	if err != nil {
		return err
	}
	days, err := b.integer("retentionDays", retention.MinDays, retention.MaxDays, false)
	if err != nil {
		return err
	}
	jur, err := b.str("jurisdiction", 1, 32)
	if err != nil {
		return err
	}
	if jur.Set && !jurisdictionPolicy.MatchString(jur.V) {
		return bad("jurisdiction", "'jurisdiction' must be global, or a two-letter code followed by -hosted or -sovereign (e.g. eu-sovereign).")
	}

	orgID, by := org(c), actor(c)
	var o models.Organization
	err = a.DB.WithContext(c.UserContext()).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("id = ?", orgID).Take(&o).Error; err != nil {
			return err
		}
		changes := map[string]any{}
		// Only the policy columns: a whole-row save would race with credit
		// balance updates (billing changes credits_balance in place).
		cols := map[string]any{}
		if level.Set && level.V != o.RetentionLevel {
			o.RetentionLevel, cols["retention_level"], changes["retention"] = level.V, level.V, level.V
		}
		if days.Set && days.V != o.RetentionDays {
			o.RetentionDays, cols["retention_days"], changes["retentionDays"] = days.V, days.V, days.V
		}
		if jur.Set && jur.V != o.JurisdictionPolicy {
			o.JurisdictionPolicy, cols["jurisdiction_policy"], changes["jurisdiction"] = jur.V, jur.V, jur.V
		}
		o.UpdatedAt = time.Now().UTC()
		cols["updated_at"] = o.UpdatedAt
		if err := tx.Model(&models.Organization{}).Where("id = ?", orgID).Updates(cols).Error; err != nil {
			return err
		}
		raw, _ := json.Marshal(changes)
		return tx.Create(&models.AuditLog{ID: ids.New("aud"), OrganizationID: orgID, ActorType: by.Type, ActorID: by.ID,
			Action: "organization.update", ResourceType: "organization", ResourceID: orgID, Changes: string(raw),
			CreatedAt: o.UpdatedAt}).Error
	})
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return apierr.NotFound("Organization not found")
	}
	if err != nil {
		return apierr.Internal("Could not update the organization.")
	}
	if a.Prov != nil {
		if a.Prov.Cache != nil {
			a.Prov.Cache.PutOrganization(&o)
		}
		if a.Prov.Notify != nil {
			a.Prov.Notify()
		}
	}
	return c.JSON(a.viewOrganization(&o))
}

type payloadView struct {
	LogID           string          `json:"logId"`
	CreatedAt       time.Time       `json:"createdAt"`
	ExpiresAt       time.Time       `json:"expiresAt"`
	Tokens          int64           `json:"tokens"`
	DataStorageCost string          `json:"dataStorageCost"` // USD
	RequestBytes    int64           `json:"requestBytes"`
	ResponseBytes   int64           `json:"responseBytes"`
	Request         json.RawMessage `json:"request"`  // null: none, or too large to store (requestBytes > 0)
	Response        json.RawMessage `json:"response"` // a JSON body as JSON, anything else (SSE) as a string
}

// logPayload serves GET /v1/master/logs/{id}/payload: the stored request and
// response of one of the organization's logs, decrypted.
func (a *API) logPayload(c *fiber.Ctx) error {
	if a.Payloads == nil {
		return apierr.NotFound("Payload not found: data retention storage is not enabled on this gateway.")
	}
	p, err := a.Payloads.Get(c.UserContext(), org(c), c.Params("id"))
	if errors.Is(err, retention.ErrNotFound) {
		return apierr.NotFound("Payload not found: payloads are stored only while the organization's retention level is retain-all, and until the retention period ends.")
	}
	if err != nil {
		return apierr.Internal("Could not read the payload.")
	}
	return c.JSON(payloadView{LogID: p.LogID, CreatedAt: p.CreatedAt, ExpiresAt: p.ExpiresAt, Tokens: p.Tokens,
		DataStorageCost: pricing.FormatUSD(p.DataStorageCost), RequestBytes: p.RequestBytes, ResponseBytes: p.ResponseBytes,
		Request: rawOrString(p.Request), Response: rawOrString(p.Response)})
}

// rawOrString embeds a JSON body as is, and anything else as a JSON string.
func rawOrString(b []byte) json.RawMessage {
	if b == nil {
		return json.RawMessage("null")
	}
	if json.Valid(b) {
		return b
	}
	s, _ := json.Marshal(string(b))
	return s
}

// jurisdictionPolicy is the syntax of an organization's jurisdiction policy
// (the same as the model tiers' jurisdiction prefix).
var jurisdictionPolicy = regexp.MustCompile(`^(global|[a-z]{2}-(sovereign|hosted))$`)
