package master

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/llmgw/gateway/app/provision"
)

var keyFields = []string{"description", "status", "usageLimit", "periodUsageLimit", "periodUsageDurationValue",
	"periodUsageDurationUnit", "expiresAt", "rateLimitRpm", "rateLimitTpm"}

// keyPatch reads and validates the key fields of a body.
func keyPatch(b body) (provision.KeyPatch, error) {
	var p provision.KeyPatch
	var err error
	if p.Description, err = b.str("description", 1, 255); err != nil {
		return p, err
	}
	if p.Status, err = b.enum("status", "active", "inactive"); err != nil {
		return p, err
	}
	if p.UsageLimit, err = b.usd("usageLimit"); err != nil {
		return p, err
	}
	if p.PeriodUsageLimit, err = b.usd("periodUsageLimit"); err != nil {
		return p, err
	}
	if p.PeriodUsageDurationValue, err = b.integer("periodUsageDurationValue", 1, 8760, true); err != nil {
		return p, err
	}
	if v, ok := b["periodUsageDurationUnit"]; ok && isNull(v) {
		p.PeriodUsageDurationUnit = provision.Opt[string]{Set: true, Null: true}
	} else if p.PeriodUsageDurationUnit, err = b.enum("periodUsageDurationUnit", "hour", "day", "week", "month"); err != nil {
		return p, err
	}
	if p.ExpiresAt, err = b.timestamp("expiresAt"); err != nil {
		return p, err
	}
	if p.RateLimitRPM, err = b.integer("rateLimitRpm", 1, 10_000_000, true); err != nil {
		return p, err
	}
	if p.RateLimitTPM, err = b.integer("rateLimitTpm", 1, 2_000_000_000, true); err != nil {
		return p, err
	}
	return p, checkPeriod(p)
}

// checkPeriod: a recurring limit needs its window (1 hour to 12 months).
func checkPeriod(p provision.KeyPatch) error {
	if p.PeriodUsageLimit.Set && !p.PeriodUsageLimit.Null {
		if !p.PeriodUsageDurationValue.Set || p.PeriodUsageDurationValue.Null || !p.PeriodUsageDurationUnit.Set || p.PeriodUsageDurationUnit.Null {
			return bad("periodUsageDurationValue", "periodUsageDurationValue and periodUsageDurationUnit are required when periodUsageLimit is set.")
		}
	}
	if p.PeriodUsageDurationValue.Set && !p.PeriodUsageDurationValue.Null && p.PeriodUsageDurationUnit.Set && !p.PeriodUsageDurationUnit.Null {
		max := map[string]int{"hour": 8760, "day": 365, "week": 52, "month": 12}[p.PeriodUsageDurationUnit.V]
		if p.PeriodUsageDurationValue.V > max {
			return bad("periodUsageDurationValue", "The recurring window must be between 1 hour and 12 months (at most %d %ss).", max, p.PeriodUsageDurationUnit.V)
		}
	}
	return nil
}

func (a *API) listKeys(c *fiber.Ctx) error {
	ks, err := a.Prov.ListKeys(c.UserContext(), org(c), c.Query("projectId"))
	if err != nil {
		return fail(err, "API key")
	}
	out := make([]keyView, len(ks))
	for i := range ks {
		out[i] = viewKey(&ks[i], "")
	}
	return c.JSON(fiber.Map{"apiKeys": out})
}

func (a *API) getKey(c *fiber.Ctx) error {
	k, err := a.Prov.GetKey(c.UserContext(), org(c), c.Params("id"))
	if err != nil {
		return fail(err, "API key")
	}
	return c.JSON(fiber.Map{"apiKey": viewKey(k, "")})
}

func (a *API) createKey(c *fiber.Ctx) error {
	b, err := parseBody(c.Body())
	if err != nil {
		return err
	}
	if err := b.only(append([]string{"projectId", "test"}, keyFields...)...); err != nil {
		return err
	}
	projectID, err := b.str("projectId", 1, 255)
	if err != nil {
		return err
	}
	if !projectID.Set {
		return bad("projectId", "Missing required parameter: 'projectId'.")
	}
	test, err := b.boolean("test")
	if err != nil {
		return err
	}
	kp, err := keyPatch(b)
	if err != nil {
		return err
	}
	if !kp.Description.Set {
		return bad("description", "Missing required parameter: 'description'.")
	}
	if kp.ExpiresAt.Set && !kp.ExpiresAt.Null && !kp.ExpiresAt.V.After(time.Now()) {
		return bad("expiresAt", "'expiresAt' must be in the future.")
	}
	k, token, err := a.Prov.AddKey(c.UserContext(), org(c), actor(c), provision.NewKey{ProjectID: projectID.V, Description: kp.Description.V, Test: test.V, Patch: kp})
	if err != nil {
		return fail(err, "Project")
	}
	if kp.Status.Set && kp.Status.V == "inactive" {
		if k, err = a.Prov.UpdateKey(c.UserContext(), org(c), k.ID, actor(c), provision.KeyPatch{Status: kp.Status}); err != nil {
			return fail(err, "API key")
		}
	}
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"apiKey": viewKey(k, token)})
}

func (a *API) updateKey(c *fiber.Ctx) error {
	b, err := parseBody(c.Body())
	if err != nil {
		return err
	}
	if err := b.only(keyFields...); err != nil {
		return err
	}
	if len(b) == 0 {
		return bad("", "At least one field must be provided.")
	}
	kp, err := keyPatch(b)
	if err != nil {
		return err
	}
	k, err := a.Prov.UpdateKey(c.UserContext(), org(c), c.Params("id"), actor(c), kp)
	if err != nil {
		return fail(err, "API key")
	}
	return c.JSON(fiber.Map{"apiKey": viewKey(k, "")})
}

func (a *API) deleteKey(c *fiber.Ctx) error {
	if err := a.Prov.DeleteKey(c.UserContext(), org(c), c.Params("id"), actor(c)); err != nil {
		return fail(err, "API key")
	}
	return message(c, "API key deleted successfully")
}

func (a *API) rollKey(c *fiber.Ctx) error {
	k, token, err := a.Prov.RollKey(c.UserContext(), org(c), c.Params("id"), actor(c))
	if err != nil {
		return fail(err, "API key")
	}
	return c.JSON(fiber.Map{"apiKey": viewKey(k, token)})
}
