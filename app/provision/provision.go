// Package provision creates and changes organizations, projects and keys. The CLI,
// the master API and the tests all go through it, so a key is always stored the
// same way (HMAC only) and the in-memory key cache always hears of the change.
package provision

import (
	"context"
	"errors"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/llmgw/gateway/app/ids"
	"github.com/llmgw/gateway/app/keys"
	"github.com/llmgw/gateway/app/secretbox"
	"github.com/llmgw/gateway/models"
)

// Service provisions accounts and keys.
type Service struct {
	DB     *gorm.DB
	Hasher *keys.Hasher
	// Cache, when set, is updated at once with every key or project change.
	Cache *keys.Cache
	// Notify, when set, tells other gateway instances that keys changed (Redis).
	Notify func()
	// Box encrypts organizations' provider keys at rest.
	Box *secretbox.Box
}

// SetupResult is what `gateway setup` prints.
type SetupResult struct {
	OrganizationID string `json:"organizationId"`
	ProjectID      string `json:"projectId"`
	MasterKey      string `json:"masterKey"`
	APIKey         string `json:"apiKey"`
}

// Setup makes sure a user with this email owns an organization with a default
// project, and issues a fresh master key and API key (tokens are shown once, so
// running it again is how an operator gets new ones).
func (s *Service) Setup(ctx context.Context, email string) (*SetupResult, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	if !strings.Contains(email, "@") || len(email) > 255 {
		return nil, errors.New("a valid --email is required")
	}
	var res SetupResult
	var project models.Project
	var ak models.APIKey
	var owner models.User
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		now := time.Now().UTC()
		var user models.User
		err := tx.Where("email = ?", email).Take(&user).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			user = models.User{ID: ids.New("usr"), Email: email, Name: strings.Split(email, "@")[0], Role: "admin", CreatedAt: now, UpdatedAt: now}
			err = tx.Create(&user).Error
		}
		if err != nil {
			return err
		}
		var member models.OrganizationMember
		err = tx.Where("user_id = ? AND role = ?", user.ID, "owner").Order("created_at").Take(&member).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			org := models.Organization{ID: ids.New("org"), Name: user.Name + "'s organization", Status: "active",
				RetentionLevel: "metadata-only", RetentionDays: 30, CreatedAt: now, UpdatedAt: now}
			if err := tx.Create(&org).Error; err != nil {
				return err
			}
			member = models.OrganizationMember{ID: ids.New("mem"), OrganizationID: org.ID, UserID: user.ID, Role: "owner", CreatedAt: now, UpdatedAt: now}
			err = tx.Create(&member).Error
		}
		if err != nil {
			return err
		}
		res.OrganizationID = member.OrganizationID
		owner = user

		err = tx.Where("organization_id = ? AND status = ?", member.OrganizationID, "active").Order("created_at").Take(&project).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			project, err = createProject(tx, member.OrganizationID, "Default", now)
		}
		if err != nil {
			return err
		}
		res.ProjectID = project.ID

		mk, mkToken := newMasterKey(s.Hasher, member.OrganizationID, user.ID, now)
		if err := tx.Create(&mk).Error; err != nil {
			return err
		}
		var akToken string
		ak, akToken = newAPIKey(s.Hasher, project, "Default key", user.ID, false, now)
		if err := tx.Create(&ak).Error; err != nil {
			return err
		}
		res.MasterKey, res.APIKey = mkToken, akToken
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Only once committed: the cache must never hold a key the database lacks.
	if s.Cache != nil {
		s.Cache.PutUser(&owner)
	}
	s.notifyProject(&project)
	s.notifyKey(&ak)
	return &res, nil
}

// CreateProject adds a project to an organization.
func (s *Service) CreateProject(ctx context.Context, orgID, name string) (*models.Project, error) {
	p, err := createProject(s.DB.WithContext(ctx), orgID, name, time.Now().UTC())
	if err != nil {
		return nil, err
	}
	s.notifyProject(&p)
	return &p, nil
}

// CreateAPIKey issues a key in a project and returns it with its token (shown once).
func (s *Service) CreateAPIKey(ctx context.Context, project *models.Project, description, createdBy string, test bool) (*models.APIKey, string, error) {
	k, token := newAPIKey(s.Hasher, *project, description, createdBy, test, time.Now().UTC())
	if err := s.DB.WithContext(ctx).Create(&k).Error; err != nil {
		return nil, "", err
	}
	s.notifyKey(&k)
	return &k, token, nil
}

// SetKeyStatus activates, deactivates or deletes (soft) a key. The change is
// applied to the in-memory cache before returning: the next request sees it.
func (s *Service) SetKeyStatus(ctx context.Context, keyID, status string) (*models.APIKey, error) {
	var k models.APIKey
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("id = ?", keyID).Take(&k).Error; err != nil {
			return err
		}
		k.Status, k.UpdatedAt = status, time.Now().UTC()
		return tx.Model(&k).Updates(map[string]any{"status": k.Status, "updated_at": k.UpdatedAt}).Error
	})
	if err != nil {
		return nil, err
	}
	s.notifyKey(&k)
	return &k, nil
}

func createProject(tx *gorm.DB, orgID, name string, now time.Time) (models.Project, error) {
	p := models.Project{ID: ids.New("proj"), OrganizationID: orgID, Name: name, Mode: "hybrid",
		CacheDurationSeconds: 60, Status: "active", CreatedAt: now, UpdatedAt: now}
	return p, tx.Create(&p).Error
}

func newAPIKey(h *keys.Hasher, p models.Project, description, createdBy string, test bool, now time.Time) (models.APIKey, string) {
	token := keys.NewAPIKey()
	if test {
		token = keys.NewTestKey()
	}
	return models.APIKey{ID: ids.New("ak"), OrganizationID: p.OrganizationID, ProjectID: p.ID, Description: description,
		TokenHash: h.Hash(token), MaskedToken: keys.Mask(token), Status: "active", Test: test, CreatedBy: createdBy,
		CreatedAt: now, UpdatedAt: now}, token
}

func newMasterKey(h *keys.Hasher, orgID, createdBy string, now time.Time) (models.MasterKey, string) {
	token := keys.NewMasterKey()
	return models.MasterKey{ID: ids.New("mk"), OrganizationID: orgID, Name: "Default master key", TokenHash: h.Hash(token),
		MaskedToken: keys.Mask(token), Status: "active", CreatedBy: createdBy, CreatedAt: now, UpdatedAt: now}, token
}

func (s *Service) notifyKey(k *models.APIKey) {
	if s.Cache != nil {
		s.Cache.Put(k)
	}
	s.broadcast()
}

func (s *Service) notifyProject(p *models.Project) {
	if s.Cache != nil {
		s.Cache.PutProject(p)
	}
	s.broadcast()
}

func (s *Service) broadcast() {
	if s.Notify != nil {
		s.Notify()
	}
}
