package provision

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/llmgw/gateway/app/keys"
	"github.com/llmgw/gateway/models"
)

// ErrExpiredNeedsNewExpiry: an expired key is reactivated only with a new future expiry.
var ErrExpiredNeedsNewExpiry = errors.New("an expired API key can only be reactivated together with a new future expiresAt")

// KeyPatch changes an API key; unset fields are left alone, Null clears a limit.
type KeyPatch struct {
	Description              Opt[string]
	Status                   Opt[string] // active | inactive
	UsageLimit               Opt[int64]  // nano-USD
	PeriodUsageLimit         Opt[int64]
	PeriodUsageDurationValue Opt[int]
	PeriodUsageDurationUnit  Opt[string]
	ExpiresAt                Opt[time.Time]
	RateLimitRPM             Opt[int]
	RateLimitTPM             Opt[int]
}

// NewKey describes an API key to create.
type NewKey struct {
	ProjectID   string
	Description string
	Test        bool
	Patch       KeyPatch // limits, expiry, rate limits set at creation
}

// ListKeys returns the non-deleted keys of the organization (optionally of one project).
func (s *Service) ListKeys(ctx context.Context, orgID, projectID string) ([]models.APIKey, error) {
	q := s.DB.WithContext(ctx).Where("organization_id = ? AND status <> ?", orgID, "deleted")
	if projectID != "" {
		q = q.Where("project_id = ?", projectID)
	}
	var out []models.APIKey
	return out, q.Order("created_at").Find(&out).Error
}

// GetKey returns a non-deleted key of the organization.
func (s *Service) GetKey(ctx context.Context, orgID, id string) (*models.APIKey, error) {
	var k models.APIKey
	err := s.DB.WithContext(ctx).Where("id = ? AND organization_id = ? AND status <> ?", id, orgID, "deleted").Take(&k).Error
	return &k, notFound(err)
}

// AddKey issues a key in a project of the organization; the token is returned once.
func (s *Service) AddKey(ctx context.Context, orgID string, by Actor, nk NewKey) (*models.APIKey, string, error) {
	var k models.APIKey
	var token string
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var p models.Project
		if err := tx.Where("id = ? AND organization_id = ? AND status <> ?", nk.ProjectID, orgID, "deleted").Take(&p).Error; err != nil {
			return notFound(err)
		}
		k, token = newAPIKey(s.Hasher, p, nk.Description, by.ID, nk.Test, time.Now().UTC())
		changes := map[string]any{"description": k.Description, "projectId": p.ID, "test": nk.Test}
		applyLimits(&k, nk.Patch, changes, k.CreatedAt)
		if err := tx.Create(&k).Error; err != nil {
			return err
		}
		return audit(tx, orgID, by, "api_key.create", "api_key", k.ID, changes)
	})
	if err != nil {
		return nil, "", err
	}
	s.notifyKey(&k)
	return &k, token, nil
}

// UpdateKey applies a patch. Status changes and limit changes are audited under
// their own action names, as the seed's audit log lists them.
func (s *Service) UpdateKey(ctx context.Context, orgID, id string, by Actor, kp KeyPatch) (*models.APIKey, error) {
	var k models.APIKey
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("id = ? AND organization_id = ? AND status <> ?", id, orgID, "deleted").Take(&k).Error; err != nil {
			return notFound(err)
		}
		now := time.Now().UTC()
		expiry := k.ExpiresAt
		if kp.ExpiresAt.Set {
			expiry = kp.ExpiresAt.Ptr()
		}
		if kp.Status.Set && kp.Status.V == "active" && expiry != nil && !expiry.After(now) {
			return ErrExpiredNeedsNewExpiry
		}
		status, desc, limits := map[string]any{}, map[string]any{}, map[string]any{}
		setOpt(&k.Status, kp.Status, "status", status)
		setOpt(&k.Description, kp.Description, "description", desc)
		applyLimits(&k, kp, limits, now)
		k.UpdatedAt = now
		if err := tx.Save(&k).Error; err != nil {
			return err
		}
		for action, ch := range map[string]map[string]any{"api_key.update_status": status, "api_key.update": desc, "api_key.update_limit": limits} {
			if len(ch) > 0 {
				if err := audit(tx, orgID, by, action, "api_key", k.ID, ch); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.notifyKey(&k)
	return &k, nil
}

// applyLimits sets spend limits, expiry and rate limits. Changing the period
// configuration starts a new window.
func applyLimits(k *models.APIKey, kp KeyPatch, changes map[string]any, now time.Time) {
	setNullable(&k.UsageLimit, kp.UsageLimit, "usageLimit", changes)
	before := len(changes)
	setNullable(&k.PeriodUsageLimit, kp.PeriodUsageLimit, "periodUsageLimit", changes)
	setNullable(&k.PeriodUsageDurationValue, kp.PeriodUsageDurationValue, "periodUsageDurationValue", changes)
	setNullable(&k.PeriodUsageDurationUnit, kp.PeriodUsageDurationUnit, "periodUsageDurationUnit", changes)
	if len(changes) > before {
		_, valueChanged := changes["periodUsageDurationValue"]
		_, unitChanged := changes["periodUsageDurationUnit"]
		if valueChanged || unitChanged || k.PeriodStart == nil {
			k.PeriodUsage = 0
			k.PeriodStart = &now
		}
	}
	if kp.ExpiresAt.Set {
		k.ExpiresAt = kp.ExpiresAt.Ptr()
		changes["expiresAt"] = k.ExpiresAt
	}
	setNullable(&k.RateLimitRPM, kp.RateLimitRPM, "rateLimitRpm", changes)
	setNullable(&k.RateLimitTPM, kp.RateLimitTPM, "rateLimitTpm", changes)
}

// DeleteKey soft-deletes a key: it is refused on its next request.
func (s *Service) DeleteKey(ctx context.Context, orgID, id string, by Actor) error {
	var k models.APIKey
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("id = ? AND organization_id = ? AND status <> ?", id, orgID, "deleted").Take(&k).Error; err != nil {
			return notFound(err)
		}
		k.Status, k.UpdatedAt = "deleted", time.Now().UTC()
		if err := tx.Save(&k).Error; err != nil {
			return err
		}
		return audit(tx, orgID, by, "api_key.delete", "api_key", k.ID, nil)
	})
	if err != nil {
		return err
	}
	s.notifyKey(&k)
	return nil
}

// RollKey replaces a key's token: the old token is invalid at once, the new one
// is returned once. Limits, rules and spend stay with the key.
func (s *Service) RollKey(ctx context.Context, orgID, id string, by Actor) (*models.APIKey, string, error) {
	var k models.APIKey
	var oldHash, token string
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("id = ? AND organization_id = ? AND status <> ?", id, orgID, "deleted").Take(&k).Error; err != nil {
			return notFound(err)
		}
		oldHash = k.TokenHash
		token = keys.NewAPIKey()
		if k.Test {
			token = keys.NewTestKey()
		}
		k.TokenHash, k.MaskedToken, k.UpdatedAt = s.Hasher.Hash(token), keys.Mask(token), time.Now().UTC()
		if err := tx.Save(&k).Error; err != nil {
			return err
		}
		return audit(tx, orgID, by, "api_key.roll", "api_key", k.ID, nil)
	})
	if err != nil {
		return nil, "", err
	}
	if s.Cache != nil {
		s.Cache.Forget(oldHash)
	}
	s.notifyKey(&k)
	return &k, token, nil
}
