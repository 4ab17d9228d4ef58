// Package orgkeys serves organizations' own provider keys (bring your own key)
// from memory: decrypted once when loaded, grouped into a key pool per
// organization and provider, reloaded by polling. The request path never
// touches the database or the cipher.
package orgkeys

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"gorm.io/gorm"

	"github.com/llmgw/gateway/app/routing"
	"github.com/llmgw/gateway/app/secretbox"
	"github.com/llmgw/gateway/models"
)

// Entry is an organization's keys for one provider.
type Entry struct {
	Pool    *routing.KeyPool
	BaseURL string // "" = the provider's own
}

type table map[string]map[string]Entry // org -> provider -> entry

// Cache holds every active organization provider key.
type Cache struct {
	db  *gorm.DB
	box *secretbox.Box
	log *slog.Logger
	cur atomic.Pointer[table]
}

// New builds an empty cache; call Load before serving.
func New(db *gorm.DB, box *secretbox.Box, log *slog.Logger) *Cache {
	c := &Cache{db: db, box: box, log: log}
	c.cur.Store(&table{})
	return c
}

// Load reads every active provider key. Pools of keys still configured keep
// their health (a rejected key stays out until restart).
func (c *Cache) Load(ctx context.Context) error {
	var rows []models.ProviderKey
	if err := c.db.WithContext(ctx).Where("status = ?", "active").Order("created_at, id").Find(&rows).Error; err != nil {
		return err
	}
	secrets := map[string]map[string][]string{}
	base := map[string]map[string]string{}
	for _, r := range rows {
		s, err := c.box.Open(r.EncryptedKey)
		if err != nil {
			c.log.Warn("provider key cannot be decrypted (AUTH_SECRET changed?)", "provider_key", r.ID)
			continue
		}
		if secrets[r.OrganizationID] == nil {
			secrets[r.OrganizationID], base[r.OrganizationID] = map[string][]string{}, map[string]string{}
		}
		secrets[r.OrganizationID][r.Provider] = append(secrets[r.OrganizationID][r.Provider], s)
		if base[r.OrganizationID][r.Provider] == "" {
			base[r.OrganizationID][r.Provider] = r.BaseURL
		}
	}
	prev := *c.cur.Load()
	next := table{}
	for org, byProvider := range secrets {
		next[org] = map[string]Entry{}
		for provider, ss := range byProvider {
			var old *routing.KeyPool
			if e, ok := prev[org][provider]; ok {
				old = e.Pool
			}
			next[org][provider] = Entry{Pool: routing.NewKeyPool(ss, old), BaseURL: base[org][provider]}
		}
	}
	c.cur.Store(&next)
	return nil
}

// Get returns the organization's keys for a provider (nil-safe).
func (c *Cache) Get(orgID, provider string) (Entry, bool) {
	if c == nil {
		return Entry{}, false
	}
	e, ok := (*c.cur.Load())[orgID][provider]
	return e, ok
}

// Run reloads every interval until ctx ends.
func (c *Cache) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := c.Load(ctx); err != nil && ctx.Err() == nil {
				c.log.Warn("organization provider keys refresh failed", "error", err)
			}
		}
	}
}
