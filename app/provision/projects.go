package provision

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/llmgw/gateway/models"
)

// ErrNotFound: the resource does not exist in the caller's organization.
var ErrNotFound = errors.New("not found")

// ProjectPatch changes a project; unset fields are left alone.
type ProjectPatch struct {
	Name                 Opt[string]
	CachingEnabled       Opt[bool]
	CacheDurationSeconds Opt[int]
	Mode                 Opt[string]
	Status               Opt[string]
	RateLimitRPM         Opt[int]
	RateLimitTPM         Opt[int]
}

// NewProject describes a project to create.
type NewProject struct {
	Name                 string
	CachingEnabled       bool
	CacheDurationSeconds int
	Mode                 string
	RateLimitRPM         *int
	RateLimitTPM         *int
}

// ListProjects returns the organization's non-deleted projects.
func (s *Service) ListProjects(ctx context.Context, orgID string) ([]models.Project, error) {
	var out []models.Project
	err := s.DB.WithContext(ctx).Where("organization_id = ? AND status <> ?", orgID, "deleted").Order("created_at").Find(&out).Error
	return out, err
}

// GetProject returns a non-deleted project of the organization.
func (s *Service) GetProject(ctx context.Context, orgID, id string) (*models.Project, error) {
	var p models.Project
	err := s.DB.WithContext(ctx).Where("id = ? AND organization_id = ? AND status <> ?", id, orgID, "deleted").Take(&p).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	return &p, err
}

// AddProject creates a project, audited.
func (s *Service) AddProject(ctx context.Context, orgID string, by Actor, np NewProject) (*models.Project, error) {
	now := time.Now().UTC()
	var p models.Project
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		if p, err = createProject(tx, orgID, np.Name, now); err != nil {
			return err
		}
		p.CachingEnabled, p.CacheDurationSeconds, p.Mode = np.CachingEnabled, np.CacheDurationSeconds, np.Mode
		p.RateLimitRPM, p.RateLimitTPM = np.RateLimitRPM, np.RateLimitTPM
		if err := tx.Save(&p).Error; err != nil {
			return err
		}
		return audit(tx, orgID, by, "project.create", "project", p.ID, map[string]any{"name": p.Name, "mode": p.Mode})
	})
	if err != nil {
		return nil, err
	}
	s.notifyProject(&p)
	return &p, nil
}

// UpdateProject applies a patch, audited.
func (s *Service) UpdateProject(ctx context.Context, orgID, id string, by Actor, pp ProjectPatch) (*models.Project, error) {
	var p models.Project
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("id = ? AND organization_id = ? AND status <> ?", id, orgID, "deleted").Take(&p).Error; err != nil {
			return notFound(err)
		}
		changes := map[string]any{}
		setOpt(&p.Name, pp.Name, "name", changes)
		setOpt(&p.CachingEnabled, pp.CachingEnabled, "cachingEnabled", changes)
		setOpt(&p.CacheDurationSeconds, pp.CacheDurationSeconds, "cacheDurationSeconds", changes)
		setOpt(&p.Mode, pp.Mode, "mode", changes)
		setOpt(&p.Status, pp.Status, "status", changes)
		setNullable(&p.RateLimitRPM, pp.RateLimitRPM, "rateLimitRpm", changes)
		setNullable(&p.RateLimitTPM, pp.RateLimitTPM, "rateLimitTpm", changes)
		p.UpdatedAt = time.Now().UTC()
		if err := tx.Save(&p).Error; err != nil {
			return err
		}
		return audit(tx, orgID, by, "project.update", "project", p.ID, changes)
	})
	if err != nil {
		return nil, err
	}
	s.notifyProject(&p)
	return &p, nil
}

// DeleteProject soft-deletes a project and its API keys, audited.
func (s *Service) DeleteProject(ctx context.Context, orgID, id string, by Actor) error {
	var p models.Project
	var deleted []models.APIKey
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("id = ? AND organization_id = ? AND status <> ?", id, orgID, "deleted").Take(&p).Error; err != nil {
			return notFound(err)
		}
		now := time.Now().UTC()
		p.Status, p.UpdatedAt = "deleted", now
		if err := tx.Save(&p).Error; err != nil {
			return err
		}
		if err := tx.Where("project_id = ? AND status <> ?", id, "deleted").Find(&deleted).Error; err != nil {
			return err
		}
		if err := tx.Model(&models.APIKey{}).Where("project_id = ? AND status <> ?", id, "deleted").
			Updates(map[string]any{"status": "deleted", "updated_at": now}).Error; err != nil {
			return err
		}
		return audit(tx, orgID, by, "project.delete", "project", p.ID, map[string]any{"apiKeysDeleted": len(deleted)})
	})
	if err != nil {
		return err
	}
	s.notifyProject(&p)
	for i := range deleted {
		deleted[i].Status = "deleted"
		s.notifyKey(&deleted[i])
	}
	return nil
}

func notFound(err error) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return ErrNotFound
	}
	return err
}

func setOpt[T comparable](dst *T, o Opt[T], name string, changes map[string]any) {
	if o.Set && !o.Null && *dst != o.V {
		*dst = o.V
		changes[name] = o.V
	}
}

func setNullable[T comparable](dst **T, o Opt[T], name string, changes map[string]any) {
	if !o.Set {
		return
	}
	if o.Null {
		if *dst != nil {
			*dst = nil
			changes[name] = nil
		}
		return
	}
	if *dst == nil || **dst != o.V {
		v := o.V
		*dst = &v
		changes[name] = v
	}
}
