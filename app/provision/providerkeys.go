package provision

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/llmgw/gateway/app/ids"
	"github.com/llmgw/gateway/models"
)

// ErrNoBox: provider keys need the secret box (AUTH_SECRET) to be stored.
var ErrNoBox = errors.New("provider keys cannot be stored without an encryption secret")

// maskSecret shows the first and last characters of an upstream key.
func maskSecret(s string) string {
	if len(s) < 12 {
		return "****"
	}
	return s[:4] + "..." + s[len(s)-4:]
}

// AddProviderKey stores an organization's own upstream credential, encrypted;
// only its masked form is ever shown or audited.
func (s *Service) AddProviderKey(ctx context.Context, orgID string, by Actor, provider, name, baseURL, secret string) (*models.ProviderKey, error) {
	if s.Box == nil {
		return nil, ErrNoBox
	}
	sealed, err := s.Box.Seal(secret)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	pk := models.ProviderKey{ID: ids.New("pk"), OrganizationID: orgID, Provider: provider, Name: name, BaseURL: baseURL,
		EncryptedKey: sealed, MaskedKey: maskSecret(secret), Status: "active", CreatedAt: now, UpdatedAt: now}
	err = s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&pk).Error; err != nil {
			return err
		}
		return audit(tx, orgID, by, "provider_key.create", "provider_key", pk.ID,
			map[string]any{"provider": provider, "name": name, "maskedKey": pk.MaskedKey})
	})
	if err != nil {
		return nil, err
	}
	return &pk, nil
}

// SetProviderKeyStatus activates or deactivates a provider key.
func (s *Service) SetProviderKeyStatus(ctx context.Context, orgID, id, status string, by Actor) error {
	return s.changeProviderKey(ctx, orgID, id, status, "provider_key.update", by)
}

// DeleteProviderKey soft-deletes a provider key.
func (s *Service) DeleteProviderKey(ctx context.Context, orgID, id string, by Actor) error {
	return s.changeProviderKey(ctx, orgID, id, "deleted", "provider_key.delete", by)
}

func (s *Service) changeProviderKey(ctx context.Context, orgID, id, status, action string, by Actor) error {
	return s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&models.ProviderKey{}).Where("id = ? AND organization_id = ? AND status <> ?", id, orgID, "deleted").
			Updates(map[string]any{"status": status, "updated_at": time.Now().UTC()})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		return audit(tx, orgID, by, action, "provider_key", id, map[string]any{"status": status})
	})
}

// ProviderKeySecret decrypts a stored provider key (for the upstream call).
func (s *Service) ProviderKeySecret(pk *models.ProviderKey) (string, error) {
	if s.Box == nil {
		return "", ErrNoBox
	}
	return s.Box.Open(pk.EncryptedKey)
}
