package master

import (
	"sort"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/llmgw/gateway/app/apierr"
	"github.com/llmgw/gateway/app/pricing"
	"github.com/llmgw/gateway/models"
)

// usageRow is one group of GET /v1/master/usage. Cost is exact decimal USD.
type usageRow struct {
	Group            string `json:"group"`
	Requests         int64  `json:"requests"`
	Errors           int64  `json:"errors"`
	PromptTokens     int64  `json:"promptTokens"`
	CompletionTokens int64  `json:"completionTokens"`
	CachedTokens     int64  `json:"cachedTokens"`
	TotalTokens      int64  `json:"totalTokens"`
	Cost             string `json:"cost"`
	UnpricedRequests int64  `json:"unpricedRequests"`
	cost             int64
}

var groupColumns = map[string]string{"model": "model", "provider": "provider", "key": "api_key_id", "project": "project_id", "day": "hour"}

// usage serves GET /v1/master/usage?groupBy=model|provider|key|project|day&from=&to=&projectId=&apiKeyId=
// from the hourly rollups: it never scans request logs.
func (a *API) usage(c *fiber.Ctx) error {
	groupBy := c.Query("groupBy", "model")
	col, ok := groupColumns[groupBy]
	if !ok {
		return apierr.BadRequest("'groupBy' must be one of: model, provider, key, project, day.", "groupBy")
	}
	q := a.DB.WithContext(c.UserContext()).Model(&models.UsageHourly{}).Where("organization_id = ?", org(c))
	if v := c.Query("projectId"); v != "" {
		q = q.Where("project_id = ?", v)
	}
	if v := c.Query("apiKeyId"); v != "" {
		q = q.Where("api_key_id = ?", v)
	}
	q, err := dateRange(c, q, "hour")
	if err != nil {
		return err
	}
	var rows []struct {
		Hour                                                                                                time.Time
		Group                                                                                               string
		Requests, Errors, PromptTokens, CompletionTokens, CachedTokens, TotalTokens, Cost, UnpricedRequests int64
	}
	sel := "SUM(requests) AS requests, SUM(errors) AS errors, SUM(prompt_tokens) AS prompt_tokens, SUM(completion_tokens) AS completion_tokens, " +
		"SUM(cached_tokens) AS cached_tokens, SUM(total_tokens) AS total_tokens, SUM(cost) AS cost, SUM(unpriced_requests) AS unpriced_requests"
	if col == "hour" {
		q = q.Select("hour, " + sel).Group("hour")
	} else {
		q = q.Select(col + " AS \"group\", " + sel).Group(col)
	}
	if err := q.Scan(&rows).Error; err != nil {
		return apierr.Internal("Could not read usage.")
	}
	groups := map[string]*usageRow{}
	total := &usageRow{Group: "total"}
	for _, r := range rows {
		g := r.Group
		if col == "hour" {
			g = r.Hour.UTC().Format("2006-01-02") // days are folded from hours here: portable across databases
		}
		u := groups[g]
		if u == nil {
			u = &usageRow{Group: g}
			groups[g] = u
		}
		for _, t := range []*usageRow{u, total} {
			t.Requests += r.Requests
			t.Errors += r.Errors
			t.PromptTokens += r.PromptTokens
			t.CompletionTokens += r.CompletionTokens
			t.CachedTokens += r.CachedTokens
			t.TotalTokens += r.TotalTokens
			t.cost += r.Cost
			t.UnpricedRequests += r.UnpricedRequests
		}
	}
	out := make([]*usageRow, 0, len(groups))
	for _, u := range groups {
		u.Cost = pricing.FormatUSD(u.cost)
		out = append(out, u)
	}
	total.Cost = pricing.FormatUSD(total.cost)
	sort.Slice(out, func(i, j int) bool {
		if groupBy == "day" {
			return out[i].Group < out[j].Group
		}
		if out[i].cost != out[j].cost {
			return out[i].cost > out[j].cost
		}
		return strings.Compare(out[i].Group, out[j].Group) < 0
	})
	return c.JSON(fiber.Map{"groupBy": groupBy, "usage": out, "totals": total})
}
