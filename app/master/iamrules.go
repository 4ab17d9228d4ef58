package master

import (
	"encoding/json"

	"github.com/gofiber/fiber/v2"

	"github.com/llmgw/gateway/app/iam"
	"github.com/llmgw/gateway/app/provision"
)

func (a *API) listRules(c *fiber.Ctx) error {
	rs, err := a.Prov.ListRules(c.UserContext(), org(c), c.Params("id"))
	if err != nil {
		return fail(err, "API key")
	}
	out := make([]ruleView, len(rs))
	for i := range rs {
		out[i] = viewRule(&rs[i])
	}
	return c.JSON(fiber.Map{"rules": out})
}

func (a *API) createRule(c *fiber.Ctx) error {
	b, err := parseBody(c.Body())
	if err != nil {
		return err
	}
	if err := b.only("ruleType", "ruleValue", "status"); err != nil {
		return err
	}
	var ruleType string
	if json.Unmarshal(b["ruleType"], &ruleType) != nil || !iam.ValidType(ruleType) {
		return bad("ruleType", "'ruleType' is required and must be one of: allow_models, deny_models, allow_providers, deny_providers, allow_pricing, deny_pricing, allow_ip_cidrs, deny_ip_cidrs.")
	}
	status, err := b.enum("status", "active", "inactive")
	if err != nil {
		return err
	}
	if !status.Set {
		status.V = "active"
	}
	r, err := a.Prov.AddRule(c.UserContext(), org(c), c.Params("id"), actor(c), ruleType, b["ruleValue"], status.V)
	if err != nil {
		return fail(err, "API key")
	}
	return c.Status(fiber.StatusCreated).JSON(viewRule(r))
}

func (a *API) updateRule(c *fiber.Ctx) error {
	b, err := parseBody(c.Body())
	if err != nil {
		return err
	}
	if err := b.only("ruleType", "ruleValue", "status"); err != nil {
		return err
	}
	if len(b) == 0 {
		return bad("", "At least one field must be provided.")
	}
	var rp provision.RulePatch
	if v, ok := b["ruleType"]; ok {
		rp.RuleType.Set = true
		if json.Unmarshal(v, &rp.RuleType.V) != nil {
			return bad("ruleType", "'ruleType' must be a string.")
		}
	}
	if v, ok := b["ruleValue"]; ok {
		rp.RuleValue = provision.Val(json.RawMessage(v))
	}
	if rp.Status, err = b.enum("status", "active", "inactive"); err != nil {
		return err
	}
	r, err := a.Prov.UpdateRule(c.UserContext(), org(c), c.Params("id"), c.Params("ruleId"), actor(c), rp)
	if err != nil {
		return fail(err, "IAM rule")
	}
	return c.JSON(viewRule(r))
}

func (a *API) deleteRule(c *fiber.Ctx) error {
	if err := a.Prov.DeleteRule(c.UserContext(), org(c), c.Params("id"), c.Params("ruleId"), actor(c)); err != nil {
		return fail(err, "IAM rule")
	}
	return message(c, "IAM rule deleted successfully")
}
