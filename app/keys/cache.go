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

	"github.com/llmgw/gateway/app/guardrails"
	"github.com/llmgw/gateway/app/iam"
	"github.com/llmgw/gateway/models"
)

// Identity is what a gateway API key authenticates as. Snapshots are immutable:
// a change replaces the pointer, so readers never see a half-updated key.
type Identity struct {
	Key     *models.APIKey
	Project *models.Project
	Rules   iam.Set // active IAM rules; empty: unrestricted
	// User is the person who created the key (nil for keys made by a master
	// key or the CLI): model access (private and RESTRICTED models) follows it.
	User *models.User
	// Org holds the key's organization settings the hot path needs (data
	// retention, guardrails). Nil until the cache has seen the organization: treat it as
	// the defaults (Org's methods are nil-safe).
	Org *Org
}

// Org is the in-memory part of an organization: only settings the request
// path reads, never the credits balance (which changes under it).
type Org struct {
	ID             string
	Status         string
	RetentionLevel string // metadata-only | retain-all
	RetentionDays  int    // 0: the default period
	// JurisdictionPolicy restricts which providers may serve the organization.
	JurisdictionPolicy string
	UpdatedAt          time.Time
	// Guardrails is the organization's compiled guardrails configuration
	// (nil: none, disabled, or a stored configuration that does not compile).
	// Use GuardrailsEngine, which is nil-safe.
	Guardrails *guardrails.Engine
}

// GuardrailsEngine returns the organization's guardrails engine, nil when it
// has none (also for a nil Org). A nil engine is valid: its Check and
// CheckText check nothing and Active reports false.
func (o *Org) GuardrailsEngine() *guardrails.Engine {
	if o == nil {
		return nil
	}
	return o.Guardrails
}

// RetainAll reports whether request and response payloads are stored (the
// "retain-all" retention level); false for a nil Org.
func (o *Org) RetainAll() bool { return o != nil && o.RetentionLevel == "retain-all" }

// Retention returns the level and period to record with a request; a nil Org
// gives the defaults ("metadata-only", 0 meaning the default period).
func (o *Org) Retention() (level string, days int) {
	if o == nil || o.RetentionLevel == "" {
		return "metadata-only", 0
	}
	return o.RetentionLevel, o.RetentionDays
}

func orgOf(m *models.Organization) *Org {
	return &Org{ID: m.ID, Status: m.Status, RetentionLevel: m.RetentionLevel, RetentionDays: m.RetentionDays,
		JurisdictionPolicy: m.JurisdictionPolicy, UpdatedAt: m.UpdatedAt}
}

// Jurisdiction is the organization's jurisdiction policy ("global" for a nil
// Org or an unset policy).
func (o *Org) Jurisdiction() string {
	if o == nil || o.JurisdictionPolicy == "" {
		return "global"
	}
	return o.JurisdictionPolicy
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
	users    map[string]*models.User   // creators of keys, for model access
	orgs     map[string]*Org           // organizations of keys, for data retention and guardrails
	guards   map[string]*guardState    // organization id -> compiled guardrails, attached to its Org
	missing  map[string]time.Time      // hash -> until: negative cache for unknown tokens

	keyMark, projMark, userMark, orgMark, guardMark time.Time
	group                                           singleflight.Group
	now                                             func() time.Time
}

// guardState is the compiled form of one guardrail_configs row.
type guardState struct {
	engine    *guardrails.Engine // nil: disabled or broken
	updatedAt time.Time
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
		users:    map[string]*models.User{},
		orgs:     map[string]*Org{},
		guards:   map[string]*guardState{},
		missing:  map[string]time.Time{},
		now:      time.Now,
	}
}

// Load reads every key, project, user, organization and guardrails
// configuration changed since the last load (all of them the first time).
func (c *Cache) Load(ctx context.Context) error {
	c.mu.RLock()
	keyMark, projMark, userMark, orgMark, guardMark := c.keyMark, c.projMark, c.userMark, c.orgMark, c.guardMark
	c.mu.RUnlock()

	var orgs []models.Organization
	if err := c.db.WithContext(ctx).Select(orgColumns).Where("updated_at > ?", orgMark.Add(-overlap)).Find(&orgs).Error; err != nil {
		return err
	}
	var users []models.User
	if err := c.db.WithContext(ctx).Where("updated_at > ?", userMark.Add(-overlap)).Find(&users).Error; err != nil {
		return err
	}
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
	var guardRows []models.GuardrailConfig
	if err := c.db.WithContext(ctx).Where("updated_at > ?", guardMark.Add(-overlap)).Find(&guardRows).Error; err != nil {
		return err
	}
	// Compile outside the lock (a large configuration takes milliseconds);
	// rows already seen (the overlap re-reads them) are not compiled again.
	guards := c.compileGuards(guardRows)
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range orgs {
		c.putOrgLocked(orgOf(&orgs[i]))
		if orgs[i].UpdatedAt.After(c.orgMark) {
			c.orgMark = orgs[i].UpdatedAt
		}
	}
	for id, g := range guards {
		c.putGuardLocked(id, g)
	}
	for i := range guardRows {
		if guardRows[i].UpdatedAt.After(c.guardMark) {
			c.guardMark = guardRows[i].UpdatedAt
		}
	}
	for i := range users {
		u := users[i]
		u.PasswordHash = ""
		c.users[u.ID] = &u
		if u.UpdatedAt.After(c.userMark) {
			c.userMark = u.UpdatedAt
		}
	}
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

// PutUser records a key creator's email and role (model access) at once.
func (c *Cache) PutUser(u *models.User) {
	cp := *u
	cp.PasswordHash = ""
	c.mu.Lock()
	c.users[cp.ID] = &cp
	c.mu.Unlock()
}

// orgColumns are what the cache reads of an organization.
var orgColumns = []string{"id", "status", "retention_level", "retention_days", "updated_at"}

// PutOrganization applies an organization change made in this process
// immediately (e.g. its retention level: the next request follows it).
func (c *Cache) PutOrganization(o *models.Organization) {
	c.mu.Lock()
	c.putOrgLocked(orgOf(o))
	c.mu.Unlock()
}

// Org returns the cached settings of an organization (nil when unknown).
func (c *Cache) Org(id string) *Org {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.orgs[id]
}

// putOrgLocked keeps the newest version (see putProjectLocked). Stored
// values are never modified: a change replaces the pointer. The
// organization's guardrails (tracked apart, by their own updated_at) stay
// attached.
func (c *Cache) putOrgLocked(o *Org) {
	if cur, ok := c.orgs[o.ID]; ok && cur.UpdatedAt.After(o.UpdatedAt) {
		return
	}
	if g := c.guards[o.ID]; g != nil {
		o.Guardrails = g.engine
	}
	c.orgs[o.ID] = o
}

// PutGuardrails applies a guardrails change made in this process
// immediately: e is the compiled configuration (nil or an inactive engine
// for a disabled one), updatedAt the guardrail_configs row's updated_at.
func (c *Cache) PutGuardrails(orgID string, e *guardrails.Engine, updatedAt time.Time) {
	c.mu.Lock()
	c.putGuardLocked(orgID, &guardState{engine: e, updatedAt: updatedAt})
	c.mu.Unlock()
}

// CompileGuardrails parses and compiles a stored guardrails configuration
// (the guardrail_configs.config JSON). A disabled configuration, or one
// without any enabled rule, yields nil: no engine to run.
func CompileGuardrails(config string) (*guardrails.Engine, error) {
	cfg, err := guardrails.Parse([]byte(config))
	if err != nil {
		return nil, err
	}
	e, err := guardrails.Compile(cfg)
	if err != nil || !e.Active() {
		return nil, err
	}
	return e, nil
}

// compileGuards compiles the configurations of rows newer than what the
// cache holds. A configuration that does not compile (written by a newer
// version, edited by hand) must not stop loading nor crash a request: it is
// logged and the organization runs without guardrails until it is fixed.
func (c *Cache) compileGuards(rows []models.GuardrailConfig) map[string]*guardState {
	out := map[string]*guardState{}
	for i := range rows {
		r := &rows[i]
		c.mu.RLock()
		cur := c.guards[r.OrganizationID]
		c.mu.RUnlock()
		if cur != nil && !r.UpdatedAt.After(cur.updatedAt) {
			continue
		}
		e, err := CompileGuardrails(r.Config)
		if err != nil {
			c.log.Error("guardrails: stored configuration is invalid; guardrails are off for the organization until it is saved again",
				"organization_id", r.OrganizationID, "updated_at", r.UpdatedAt, "error", err)
			e = nil
		}
		out[r.OrganizationID] = &guardState{engine: e, updatedAt: r.UpdatedAt}
	}
	return out
}

// putGuardLocked keeps the newest configuration and attaches it to a new
// copy of the organization's Org (Orgs are immutable snapshots). An
// organization not seen yet gets a placeholder Org (the defaults, zero
// updated_at) that its real row replaces, keeping the engine.
func (c *Cache) putGuardLocked(orgID string, g *guardState) {
	if cur, ok := c.guards[orgID]; ok && cur.updatedAt.After(g.updatedAt) {
		return
	}
	c.guards[orgID] = g
	o := &Org{ID: orgID}
	if cur := c.orgs[orgID]; cur != nil {
		cp := *cur
		o = &cp
	}
	o.Guardrails = g.engine
	c.orgs[orgID] = o
}

// fetchGuard reads one organization's guardrails configuration unless the
// cache already has it (for fetch: a key seen before the next poll).
func (c *Cache) fetchGuard(ctx context.Context, orgID string) {
	c.mu.RLock()
	_, known := c.guards[orgID]
	c.mu.RUnlock()
	if known {
		return
	}
	var rows []models.GuardrailConfig
	if err := c.db.WithContext(ctx).Where("organization_id = ?", orgID).Limit(1).Find(&rows).Error; err != nil || len(rows) == 0 {
		return // no configuration (the default), or the poll will bring it
	}
	guards := c.compileGuards(rows)
	c.mu.Lock()
	for id, g := range guards {
		c.putGuardLocked(id, g)
	}
	c.mu.Unlock()
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
	user := c.users[k.CreatedBy]
	org := c.orgs[k.OrganizationID]
	c.mu.RUnlock()
	if p == nil || p.Status != "active" {
		return nil, ErrProjectOff
	}
	return &Identity{Key: k, Project: p, Rules: rules, User: user, Org: org}, nil
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
		var o models.Organization
		if err := c.db.WithContext(ctx).Select(orgColumns).Where("id = ?", k.OrganizationID).Take(&o).Error; err == nil {
			c.PutOrganization(&o)
		}
		c.fetchGuard(ctx, k.OrganizationID)
		var u models.User
		if k.CreatedBy != "" && c.db.WithContext(ctx).Where("id = ?", k.CreatedBy).Take(&u).Error == nil {
			u.PasswordHash = ""
			c.mu.Lock()
			c.users[u.ID] = &u
			c.mu.Unlock()
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
