package keys

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	"gorm.io/gorm"

	"github.com/llmgw/gateway/app/iam"
	"github.com/llmgw/gateway/models"
)

// Identity is what a gateway API key authenticates as. Snapshots are immutable:
// a change replaces the pointer, so readers never see a half-updated key.
type Identity struct {
	Key     *models.APIKey
	Project *models.Project
	Rules   iam.Set // active IAM rules; empty: unrestricted
}

// Auth failures (all map to 401 invalid_api_key).
var (
	ErrInvalidKey  = errors.New("invalid API key")
	ErrInactiveKey = errors.New("API key is inactive")
	ErrExpiredKey  = errors.New("API key has expired")
	ErrProjectOff  = errors.New("project is not active")
)

// Cache serves gateway API key lookups from memory. It loads every key at start,
// then polls for rows changed since the last poll (an indexed query off the
// request path). Changes made in this process are applied at once through Put,
// so a key deactivated here is refused on its very next request; other
// processes see it within one poll interval (or at once via Redis, later).
type Cache struct {
	db     *gorm.DB
	hasher *Hasher
	log    *slog.Logger

	mu       sync.RWMutex
	byHash   map[string]*models.APIKey
	projects map[string]*models.Project
	rules    map[string]iam.Set        // key id -> active rules
	byID     map[string]*models.APIKey // newest version seen of each key, deleted ones included
	missing  map[string]time.Time      // hash -> until: negative cache for unknown tokens

	keyMark, projMark time.Time
	group             singleflight.Group
	now               func() time.Time
}

// NegativeTTL bounds how long an unknown token is answered from memory before
// the database is asked again (protects the DB from floods of bad keys).
const NegativeTTL = 5 * time.Second

// overlap re-reads rows this much older than the newest seen, so a row committed
// late with an earlier updated_at is not missed.
const overlap = 2 * time.Second

// NewCache builds an empty cache; call Load before serving.
func NewCache(db *gorm.DB, hasher *Hasher, log *slog.Logger) *Cache {
	return &Cache{
		db: db, hasher: hasher, log: log,
		byHash:   map[string]*models.APIKey{},
		projects: map[string]*models.Project{},
		rules:    map[string]iam.Set{},
		byID:     map[string]*models.APIKey{},
		missing:  map[string]time.Time{},
		now:      time.Now,
	}
}

// Load reads every key and project changed since the last load (all of them the
// first time).
func (c *Cache) Load(ctx context.Context) error {
	c.mu.RLock()
	keyMark, projMark := c.keyMark, c.projMark
	c.mu.RUnlock()

	var projects []models.Project
	if err := c.db.WithContext(ctx).Where("updated_at > ?", projMark.Add(-overlap)).Find(&projects).Error; err != nil {
		return err
	}
	var keys []models.APIKey
	if err := c.db.WithContext(ctx).Where("updated_at > ?", keyMark.Add(-overlap)).Find(&keys).Error; err != nil {
		return err
	}
	ids := make([]string, len(keys))
	for i := range keys {
		ids[i] = keys[i].ID
	}
	rules, err := LoadRules(ctx, c.db, ids)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range projects {
		p := projects[i]
		c.putProjectLocked(&p)
		if p.UpdatedAt.After(c.projMark) {
			c.projMark = p.UpdatedAt
		}
	}
	for i := range keys {
		k := keys[i]
		if c.putLocked(&k) {
			c.rules[k.ID] = rules[k.ID]
		}
		if k.UpdatedAt.After(c.keyMark) {
			c.keyMark = k.UpdatedAt
		}
	}
	return nil
}

// Run polls for changes every interval until ctx ends.
func (c *Cache) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := c.Load(ctx); err != nil && ctx.Err() == nil {
				c.log.Warn("key cache refresh failed", "error", err)
			}
		}
	}
}

// Put applies a key change made in this process immediately.
func (c *Cache) Put(k *models.APIKey) {
	cp := *k
	c.mu.Lock()
	c.putLocked(&cp)
	c.mu.Unlock()
}

// Forget drops a token hash (a rolled key's old token) at once.
func (c *Cache) Forget(hash string) {
	c.mu.Lock()
	delete(c.byHash, hash)
	c.mu.Unlock()
}

// PutKeyRules applies a change of a key's IAM rules made in this process,
// together with the key version that change produced.
func (c *Cache) PutKeyRules(k *models.APIKey, rules iam.Set) {
	cp := *k
	c.mu.Lock()
	if c.putLocked(&cp) {
		c.rules[k.ID] = rules
	}
	c.mu.Unlock()
}

// LoadRules reads and compiles the active IAM rules of the given keys.
func LoadRules(ctx context.Context, db *gorm.DB, keyIDs []string) (map[string]iam.Set, error) {
	out := map[string]iam.Set{}
	for start := 0; start < len(keyIDs); start += 500 {
		end := min(start+500, len(keyIDs))
		var rows []models.IAMRule
		if err := db.WithContext(ctx).Where("api_key_id IN ? AND status = ?", keyIDs[start:end], "active").Order("created_at").Find(&rows).Error; err != nil {
			return nil, err
		}
		pending := map[string][]struct {
			Type  string
			Value iam.Value
		}{}
		for _, r := range rows {
			v, err := iam.ParseValue(r.RuleType, json.RawMessage(r.RuleValue))
			if err != nil {
				continue // validated on write; a corrupt row must not open access, nor block loading
			}
			pending[r.APIKeyID] = append(pending[r.APIKeyID], struct {
				Type  string
				Value iam.Value
			}{r.RuleType, v})
		}
		for id, rs := range pending {
			out[id] = iam.Compile(rs)
		}
	}
	return out, nil
}

// PutProject applies a project change made in this process immediately.
func (c *Cache) PutProject(p *models.Project) {
	cp := *p
	c.mu.Lock()
	c.putProjectLocked(&cp)
	c.mu.Unlock()
}

// putProjectLocked keeps the newest version: a poll that read the database just
// before a local change committed must not undo it.
func (c *Cache) putProjectLocked(p *models.Project) {
	if cur, ok := c.projects[p.ID]; ok && cur.UpdatedAt.After(p.UpdatedAt) {
		return
	}
	c.projects[p.ID] = p
}

// putLocked stores a key version unless a newer one is already known (see
// putProjectLocked); it reports whether it did.
func (c *Cache) putLocked(k *models.APIKey) bool {
	old, ok := c.byID[k.ID]
	if ok && old.UpdatedAt.After(k.UpdatedAt) {
		return false
	}
	if ok && old.TokenHash != k.TokenHash {
		delete(c.byHash, old.TokenHash) // rolled: the old token dies wherever the change is seen
	}
	c.byID[k.ID] = k
	if k.Status == "deleted" {
		delete(c.byHash, k.TokenHash)
		return true
	}
	c.byHash[k.TokenHash] = k
	delete(c.missing, k.TokenHash)
	return true
}

// Authenticate resolves a token to its identity. The common case is one HMAC and
// one map read; an unknown token costs one database query per NegativeTTL.
func (c *Cache) Authenticate(ctx context.Context, token string) (*Identity, error) {
	if token == "" {
		return nil, ErrInvalidKey
	}
	h := c.hasher.Hash(token)
	c.mu.RLock()
	k := c.byHash[h]
	until, known := c.missing[h]
	c.mu.RUnlock()
	if k == nil {
		if known && c.now().Before(until) {
			return nil, ErrInvalidKey
		}
		var err error
		if k, err = c.fetch(ctx, h); err != nil {
			return nil, err
		}
	}
	return c.check(k)
}

func (c *Cache) check(k *models.APIKey) (*Identity, error) {
	if k.Status != "active" {
		return nil, ErrInactiveKey
	}
	if k.ExpiresAt != nil && !c.now().Before(*k.ExpiresAt) {
		return nil, ErrExpiredKey
	}
	c.mu.RLock()
	p := c.projects[k.ProjectID]
	rules := c.rules[k.ID]
	c.mu.RUnlock()
	if p == nil || p.Status != "active" {
		return nil, ErrProjectOff
	}
	return &Identity{Key: k, Project: p, Rules: rules}, nil
}

// fetch asks the database for a token not in memory (e.g. created by another
// instance since the last poll). Concurrent misses for one hash share a query.
func (c *Cache) fetch(ctx context.Context, hash string) (*models.APIKey, error) {
	v, err, _ := c.group.Do(hash, func() (any, error) {
		var k models.APIKey
		err := c.db.WithContext(ctx).Where("token_hash = ?", hash).Take(&k).Error
		if errors.Is(err, gorm.ErrRecordNotFound) || (err == nil && k.Status == "deleted") {
			c.mu.Lock()
			if len(c.missing) > 100_000 { // bound memory under a flood of random keys
				c.missing = map[string]time.Time{}
			}
			c.missing[hash] = c.now().Add(NegativeTTL)
			c.mu.Unlock()
			return nil, ErrInvalidKey
		}
		if err != nil {
			return nil, err
		}
		var p models.Project
		if err := c.db.WithContext(ctx).Where("id = ?", k.ProjectID).Take(&p).Error; err == nil {
			c.PutProject(&p)
		}
		rules, err := LoadRules(ctx, c.db, []string{k.ID})
		if err != nil {
			return nil, err
		}
		c.PutKeyRules(&k, rules[k.ID])
		return &k, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*models.APIKey), nil
}
