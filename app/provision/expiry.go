package provision

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/llmgw/gateway/models"
)

// System is the actor of automatic changes (the expiry job).
var System = Actor{Type: "system", ID: "expiry"}

// ExpireKeys marks active keys whose expiresAt has passed as inactive, so
// listings show what the gateway already enforces (an expired key is refused
// at once, whatever its status). Each key is audited as a status change.
func (s *Service) ExpireKeys(ctx context.Context, now time.Time) (int, error) {
	var due []models.APIKey
	if err := s.DB.WithContext(ctx).Where("status = ? AND expires_at IS NOT NULL AND expires_at <= ?", "active", now.UTC()).
		Limit(500).Find(&due).Error; err != nil {
		return 0, err
	}
	n := 0
	for i := range due {
		k := &due[i]
		err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			res := tx.Model(&models.APIKey{}).Where("id = ? AND status = ?", k.ID, "active").
				Updates(map[string]any{"status": "inactive", "updated_at": now.UTC()})
			if res.Error != nil || res.RowsAffected == 0 {
				return res.Error // changed meanwhile: nothing to do
			}
			k.Status, k.UpdatedAt = "inactive", now.UTC()
			n++
			return audit(tx, k.OrganizationID, System, "api_key.update_status", "api_key", k.ID,
				map[string]any{"status": "inactive", "reason": "expired"})
		})
		if err != nil {
			return n, err
		}
		if k.Status == "inactive" {
			s.notifyKey(k)
		}
	}
	return n, nil
}
