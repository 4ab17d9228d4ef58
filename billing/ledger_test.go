package billing

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmgw/gateway/app/store/storetest"
	"github.com/llmgw/gateway/models"
)

func TestLedger(t *testing.T) {
	for _, d := range storetest.Dialects() {
		t.Run(d, func(t *testing.T) {
			db := storetest.Open(t, d)
			ctx := context.Background()
			now := time.Now().UTC()
			org := models.Organization{ID: "org_1", Name: "o", Status: "active", RetentionLevel: "metadata-only", RetentionDays: 30, CreatedAt: now, UpdatedAt: now}
			if err := db.Create(&org).Error; err != nil {
				t.Fatal(err)
			}
			row, err := Apply(ctx, db.DB, Entry{OrganizationID: "org_1", Amount: 10_000_000_000, Kind: KindTopUp, Reference: "pi_1"})
			if err != nil || row.BalanceAfter != 10_000_000_000 {
				t.Fatalf("top-up: %v %+v", err, row)
			}
			if _, err := Apply(ctx, db.DB, Entry{OrganizationID: "org_1", Amount: -20_000_000_000, Kind: KindUsage}); !errors.Is(err, ErrInsufficientCredits) {
				t.Fatalf("overdraw: %v", err)
			}
			if _, err := Apply(ctx, db.DB, Entry{OrganizationID: "org_nope", Amount: 1, Kind: KindTopUp}); !errors.Is(err, ErrNoOrganization) {
				t.Fatalf("unknown org: %v", err)
			}
			// 50 concurrent debits of 1 USD against 10 USD: exactly 10 succeed.
			var wg sync.WaitGroup
			var mu sync.Mutex
			ok := 0
			for i := 0; i < 50; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := Apply(ctx, db.DB, Entry{OrganizationID: "org_1", Amount: -1_000_000_000, Kind: KindUsage}); err == nil {
						mu.Lock()
						ok++
						mu.Unlock()
					} else if !errors.Is(err, ErrInsufficientCredits) && !isBusy(err) {
						t.Errorf("debit: %v", err)
					}
				}()
			}
			wg.Wait()
			var final models.Organization
			db.Take(&final, "id = ?", "org_1")
			var sum int64
			db.Model(&models.CreditTransaction{}).Where("organization_id = ?", "org_1").Select("COALESCE(SUM(amount),0)").Scan(&sum)
			if final.CreditsBalance < 0 || final.CreditsBalance != sum || final.CreditsBalance != 10_000_000_000-int64(ok)*1_000_000_000 {
				t.Fatalf("balance %d, ledger sum %d, debits %d", final.CreditsBalance, sum, ok)
			}
		})
	}
}

// isBusy tolerates SQLite's writer lock under heavy contention: the debit was
// refused whole, never half-applied (the balance/ledger check above proves it).
func isBusy(err error) bool {
	s := err.Error()
	return strings.Contains(s, "database is locked") || strings.Contains(s, "SQLITE_BUSY")
}
