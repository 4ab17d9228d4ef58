// Package billing holds the money side of the gateway: the credits ledger now,
// Stripe top-ups, plans and wallets later. Amounts are int64 nano-USD.
package billing

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/llmgw/gateway/app/ids"
	"github.com/llmgw/gateway/models"
)

// Ledger entry kinds.
const (
	KindTopUp      = "topup"
	KindUsage      = "usage"
	KindRefund     = "refund"
	KindAdjustment = "adjustment"
)

// ErrInsufficientCredits is returned when a debit would make the balance negative.
var ErrInsufficientCredits = errors.New("insufficient credits")

// ErrNoOrganization is returned for an unknown organization.
var ErrNoOrganization = errors.New("organization not found")

// Entry describes one balance change.
type Entry struct {
	OrganizationID string
	Amount         int64 // nano-USD; negative debits
	Kind           string
	Reference      string // e.g. a Stripe payment intent or a request log id
	Description    string
	// AllowNegative lets a debit take the balance below zero (usage already served).
	AllowNegative bool
}

// Apply changes the balance and writes the ledger row in one transaction. The
// balance is changed by a single conditional UPDATE, so concurrent changes
// never lose an update and a guarded debit never overdraws.
func Apply(ctx context.Context, db *gorm.DB, e Entry) (*models.CreditTransaction, error) {
	var row *models.CreditTransaction
	err := db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		q := tx.Model(&models.Organization{}).Where("id = ?", e.OrganizationID)
		if e.Amount < 0 && !e.AllowNegative {
			q = q.Where("credits_balance + ? >= 0", e.Amount)
		}
		res := q.Updates(map[string]any{
			"credits_balance": gorm.Expr("credits_balance + ?", e.Amount),
			"updated_at":      time.Now().UTC(),
		})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			var n int64
			if err := tx.Model(&models.Organization{}).Where("id = ?", e.OrganizationID).Count(&n).Error; err != nil {
				return err
			}
			if n == 0 {
				return ErrNoOrganization
			}
			return ErrInsufficientCredits
		}
		var org models.Organization
		if err := tx.Select("credits_balance").Where("id = ?", e.OrganizationID).Take(&org).Error; err != nil {
			return err
		}
		row = &models.CreditTransaction{ID: ids.New("ctx"), OrganizationID: e.OrganizationID, Amount: e.Amount,
			BalanceAfter: org.CreditsBalance, Kind: e.Kind, Reference: e.Reference, Description: e.Description,
			CreatedAt: time.Now().UTC()}
		return tx.Create(row).Error
	})
	if err != nil {
		return nil, err
	}
	return row, nil
}
