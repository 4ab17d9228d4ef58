package provision

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/llmgw/gateway/models"
)

// MaxActiveMasterKeys is the seed's per-organization limit.
const MaxActiveMasterKeys = 10

// ErrTooManyMasterKeys: the organization already has the maximum of active master keys.
var ErrTooManyMasterKeys = errors.New("an organization may have at most 10 active master keys")

// AddMasterKey issues a master key for an organization; the token is returned once.
func (s *Service) AddMasterKey(ctx context.Context, orgID, name string, by Actor) (*models.MasterKey, string, error) {
	var mk models.MasterKey
	var token string
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var org models.Organization
		if err := tx.Where("id = ? AND status <> ?", orgID, "deleted").Take(&org).Error; err != nil {
			return notFound(err)
		}
		var n int64
		if err := tx.Model(&models.MasterKey{}).Where("organization_id = ? AND status = ?", orgID, "active").Count(&n).Error; err != nil {
			return err
		}
		if n >= MaxActiveMasterKeys {
			return ErrTooManyMasterKeys
		}
		mk, token = newMasterKey(s.Hasher, orgID, by.ID, time.Now().UTC())
		if name != "" {
			mk.Name = name
		}
		if err := tx.Create(&mk).Error; err != nil {
			return err
		}
		return audit(tx, orgID, by, "master_key.create", "master_key", mk.ID, map[string]any{"name": mk.Name})
	})
	if err != nil {
		return nil, "", err
	}
	return &mk, token, nil
}

// ListMasterKeys returns an organization's non-deleted master keys.
func (s *Service) ListMasterKeys(ctx context.Context, orgID string) ([]models.MasterKey, error) {
	var out []models.MasterKey
	return out, s.DB.WithContext(ctx).Where("organization_id = ? AND status <> ?", orgID, "deleted").Order("created_at").Find(&out).Error
}

// RevokeMasterKey deletes a master key: management access with it stops at once.
func (s *Service) RevokeMasterKey(ctx context.Context, id string, by Actor) error {
	return s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var mk models.MasterKey
		if err := tx.Where("id = ? AND status <> ?", id, "deleted").Take(&mk).Error; err != nil {
			return notFound(err)
		}
		if err := tx.Model(&mk).Updates(map[string]any{"status": "deleted", "updated_at": time.Now().UTC()}).Error; err != nil {
			return err
		}
		return audit(tx, mk.OrganizationID, by, "master_key.delete", "master_key", mk.ID, nil)
	})
}

// KeyOrganization returns the organization of an API key (for the CLI, which
// acts on any organization of its database).
func (s *Service) KeyOrganization(ctx context.Context, keyID string) (string, error) {
	var k models.APIKey
	err := s.DB.WithContext(ctx).Select("organization_id").Where("id = ?", keyID).Take(&k).Error
	return k.OrganizationID, notFound(err)
}

// ProjectOrganization returns the organization of a project.
func (s *Service) ProjectOrganization(ctx context.Context, projectID string) (string, error) {
	var p models.Project
	err := s.DB.WithContext(ctx).Select("organization_id").Where("id = ?", projectID).Take(&p).Error
	return p.OrganizationID, notFound(err)
}
