package master

import (
	"encoding/json"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/llmgw/gateway/app/apierr"
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
	q, err := dateRange(c, q, "created_at")
	if err != nil {
		return err
	}
	q, limit, err := page(c, q)
	if err != nil {
		return err
	}
	var rows []models.AuditLog
	if err := q.Find(&rows).Error; err != nil {
		return apierr.Internal("Could not read the audit log.")
	}
	next := ""
	if len(rows) > limit {
		rows = rows[:limit]
		last := rows[limit-1]
		next = cursor{At: last.CreatedAt, ID: last.ID}.String()
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
