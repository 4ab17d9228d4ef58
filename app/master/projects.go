package master

import (
	"github.com/gofiber/fiber/v2"

	"github.com/llmgw/gateway/app/provision"
)

var projectFields = []string{"name", "cachingEnabled", "cacheDurationSeconds", "mode", "status", "rateLimitRpm", "rateLimitTpm"}

func (a *API) listProjects(c *fiber.Ctx) error {
	ps, err := a.Prov.ListProjects(c.UserContext(), org(c))
	if err != nil {
		return fail(err, "Project")
	}
	out := make([]projectView, len(ps))
	for i := range ps {
		out[i] = viewProject(&ps[i])
	}
	return c.JSON(fiber.Map{"projects": out})
}

// projectPatch reads and validates the project fields of a body.
func projectPatch(b body) (provision.ProjectPatch, error) {
	var p provision.ProjectPatch
	var err error
	if p.Name, err = b.str("name", 1, 255); err != nil {
		return p, err
	}
	if p.CachingEnabled, err = b.boolean("cachingEnabled"); err != nil {
		return p, err
	}
	if p.CacheDurationSeconds, err = b.integer("cacheDurationSeconds", 10, 31_536_000, false); err != nil {
		return p, err
	}
	if p.Mode, err = b.enum("mode", "api-keys", "credits", "hybrid"); err != nil {
		return p, err
	}
	if p.Status, err = b.enum("status", "active", "inactive"); err != nil {
		return p, err
	}
	if p.RateLimitRPM, err = b.integer("rateLimitRpm", 1, 10_000_000, true); err != nil {
		return p, err
	}
	p.RateLimitTPM, err = b.integer("rateLimitTpm", 1, 2_000_000_000, true)
	return p, err
}

func (a *API) createProject(c *fiber.Ctx) error {
	b, err := parseBody(c.Body())
	if err != nil {
		return err
	}
	if err := b.only("name", "cachingEnabled", "cacheDurationSeconds", "mode", "rateLimitRpm", "rateLimitTpm"); err != nil {
		return err
	}
	pp, err := projectPatch(b)
	if err != nil {
		return err
	}
	if !pp.Name.Set {
		return bad("name", "Missing required parameter: 'name'.")
	}
	np := provision.NewProject{Name: pp.Name.V, CachingEnabled: pp.CachingEnabled.V, CacheDurationSeconds: 60, Mode: "hybrid",
		RateLimitRPM: pp.RateLimitRPM.Ptr(), RateLimitTPM: pp.RateLimitTPM.Ptr()}
	if !pp.RateLimitRPM.Set {
		np.RateLimitRPM = nil
	}
	if !pp.RateLimitTPM.Set {
		np.RateLimitTPM = nil
	}
	if pp.CacheDurationSeconds.Set {
		np.CacheDurationSeconds = pp.CacheDurationSeconds.V
	}
	if pp.Mode.Set {
		np.Mode = pp.Mode.V
	}
	p, err := a.Prov.AddProject(c.UserContext(), org(c), actor(c), np)
	if err != nil {
		return fail(err, "Project")
	}
	return c.Status(fiber.StatusCreated).JSON(viewProject(p))
}

func (a *API) updateProject(c *fiber.Ctx) error {
	b, err := parseBody(c.Body())
	if err != nil {
		return err
	}
	if err := b.only(projectFields...); err != nil {
		return err
	}
	if len(b) == 0 {
		return bad("", "At least one field must be provided.")
	}
	pp, err := projectPatch(b)
	if err != nil {
		return err
	}
	p, err := a.Prov.UpdateProject(c.UserContext(), org(c), c.Params("id"), actor(c), pp)
	if err != nil {
		return fail(err, "Project")
	}
	return c.JSON(viewProject(p))
}

func (a *API) deleteProject(c *fiber.Ctx) error {
	if err := a.Prov.DeleteProject(c.UserContext(), org(c), c.Params("id"), actor(c)); err != nil {
		return fail(err, "Project")
	}
	return message(c, "Project deleted successfully")
}
