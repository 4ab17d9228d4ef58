package master

import (
	"encoding/json"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/llmgw/gateway/models"
)

type auditView struct {
	ID           string          `json:"id"`
	Action       string          `json:"action"`
	ActorType    string          `json:"actorType"`
	ActorID      string          `json:"actorId"`
	ResourceType string          `json:"resourceType"`
	ResourceID   string          `json:"resourceId"`
	Changes      json.RawMessage `json:"changes"`
	CreatedAt    time.Time       `json:"createdAt"`
}

// auditLogs serves GET /v1/master/audit-logs?action=&resourceType=&from=&to=&cursor=&limit=
func (a *API) auditLogs(c *fiber.Ctx) error {
	q := a.DB.WithContext(c.UserContext()).Model(&models.AuditLog{}).Where("organization_id = ?", org(c))
	if v := c.Query("action"); v != "" {
		q = q.Where("action = ?", v)
	}
	if v := c.Query("resourceType"); v != "" {
		q = q.Where("resource_type = ?", v)
	}
	if v := c.Query("resourceId"); v != "" {
		q = q.Where("resource_id = ?", v)
	}
	rows, next, err := findPage(c, q, "the audit log", func(r *models.AuditLog) (time.Time, string) { return r.CreatedAt, r.ID })
	if err != nil {
		return err
	}
	out := make([]auditView, len(rows))
	for i, r := range rows {
		out[i] = auditView{r.ID, r.Action, r.ActorType, r.ActorID, r.ResourceType, r.ResourceID, json.RawMessage(r.Changes), r.CreatedAt}
	}
	return c.JSON(fiber.Map{"auditLogs": out, "nextCursor": nullable(next)})
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}
