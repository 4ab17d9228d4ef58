package server

import (
	"context"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/llmgw/gateway/models"
)

// creditsCache answers "has this organization ever bought credits?" for the
// free-model limit tier, from memory, asking the database at most once a minute
// per organization (a purchase lifts the tier within a minute).
type creditsCache struct {
	db  *gorm.DB
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]creditsEntry
}

type creditsEntry struct {
	bought bool
	until  time.Time
}

func (c *creditsCache) HasPurchasedCredits(ctx context.Context, orgID string) (bool, error) {
	c.mu.Lock()
	e, ok := c.m[orgID]
	c.mu.Unlock()
	if ok && time.Now().Before(e.until) {
		return e.bought, nil
	}
	var n int64
	err := c.db.WithContext(ctx).Model(&models.CreditTransaction{}).
		Where("organization_id = ? AND kind = ? AND amount > 0", orgID, "topup").Limit(1).Count(&n).Error
	if err != nil {
		return false, err
	}
	c.mu.Lock()
	c.m[orgID] = creditsEntry{bought: n > 0, until: time.Now().Add(c.ttl)}
	c.mu.Unlock()
	return n > 0, nil
}
