package provision

import (
	"context"
	"encoding/json"
	"time"

	"gorm.io/gorm"

	"github.com/llmgw/gateway/app/iam"
	"github.com/llmgw/gateway/app/ids"
	"github.com/llmgw/gateway/app/keys"
	"github.com/llmgw/gateway/models"
)

// RulePatch changes an IAM rule.
type RulePatch struct {
	RuleType  Opt[string]
	RuleValue Opt[json.RawMessage]
	Status    Opt[string]
}

// ListRules returns the IAM rules of a key of the organization.
func (s *Service) ListRules(ctx context.Context, orgID, keyID string) ([]models.IAMRule, error) {
	if _, err := s.GetKey(ctx, orgID, keyID); err != nil {
		return nil, err
	}
	var out []models.IAMRule
	return out, s.DB.WithContext(ctx).Where("api_key_id = ?", keyID).Order("created_at").Find(&out).Error
}

// AddRule validates and adds an IAM rule to a key.
func (s *Service) AddRule(ctx context.Context, orgID, keyID string, by Actor, ruleType string, value json.RawMessage, status string) (*models.IAMRule, error) {
	v, err := iam.ParseValue(ruleType, value)
	if err != nil {
		return nil, err
	}
	canon, _ := json.Marshal(v)
	now := time.Now().UTC()
	r := models.IAMRule{ID: ids.New("iam"), APIKeyID: keyID, RuleType: ruleType, RuleValue: string(canon), Status: status, CreatedAt: now, UpdatedAt: now}
	err = s.ruleTx(ctx, orgID, keyID, func(tx *gorm.DB) error {
		if err := tx.Create(&r).Error; err != nil {
			return err
		}
		return audit(tx, orgID, by, "api_key.iam_rule.create", "iam_rule", r.ID, map[string]any{"apiKeyId": keyID, "ruleType": ruleType, "ruleValue": v, "status": status})
	})
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// UpdateRule changes a rule; the resulting type and value are validated together.
func (s *Service) UpdateRule(ctx context.Context, orgID, keyID, ruleID string, by Actor, rp RulePatch) (*models.IAMRule, error) {
	var r models.IAMRule
	err := s.ruleTx(ctx, orgID, keyID, func(tx *gorm.DB) error {
		if err := tx.Where("id = ? AND api_key_id = ?", ruleID, keyID).Take(&r).Error; err != nil {
			return notFound(err)
		}
		changes := map[string]any{}
		typ, raw := r.RuleType, json.RawMessage(r.RuleValue)
		if rp.RuleType.Set {
			typ = rp.RuleType.V
		}
		if rp.RuleValue.Set {
			raw = rp.RuleValue.V
		}
		v, err := iam.ParseValue(typ, raw)
		if err != nil {
			return err
		}
		canon, _ := json.Marshal(v)
		if typ != r.RuleType {
			changes["ruleType"] = typ
		}
		if string(canon) != r.RuleValue {
			changes["ruleValue"] = v
		}
		setOpt(&r.Status, rp.Status, "status", changes)
		r.RuleType, r.RuleValue, r.UpdatedAt = typ, string(canon), time.Now().UTC()
		if err := tx.Save(&r).Error; err != nil {
			return err
		}
		return audit(tx, orgID, by, "api_key.iam_rule.update", "iam_rule", r.ID, changes)
	})
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// DeleteRule permanently removes a rule.
func (s *Service) DeleteRule(ctx context.Context, orgID, keyID, ruleID string, by Actor) error {
	return s.ruleTx(ctx, orgID, keyID, func(tx *gorm.DB) error {
		res := tx.Where("id = ? AND api_key_id = ?", ruleID, keyID).Delete(&models.IAMRule{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		return audit(tx, orgID, by, "api_key.iam_rule.delete", "iam_rule", ruleID, map[string]any{"apiKeyId": keyID})
	})
}

// ruleTx runs a rule change for a key of the organization and bumps the key's
// updated_at in the same transaction: that is how other instances' key caches
// learn that the key's rules changed (even when a rule was deleted).
func (s *Service) ruleTx(ctx context.Context, orgID, keyID string, fn func(tx *gorm.DB) error) error {
	var k models.APIKey
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("id = ? AND organization_id = ? AND status <> ?", keyID, orgID, "deleted").Take(&k).Error; err != nil {
			return notFound(err)
		}
		if err := fn(tx); err != nil {
			return err
		}
		k.UpdatedAt = time.Now().UTC()
		return tx.Model(&models.APIKey{}).Where("id = ?", keyID).Update("updated_at", k.UpdatedAt).Error
	})
	if err != nil {
		return err
	}
	if s.Cache != nil {
		rules, err := keys.LoadRules(ctx, s.DB, []string{keyID})
		if err != nil {
			return err
		}
		s.Cache.PutKeyRules(&k, rules[keyID])
	}
	s.broadcast()
	return nil
}
