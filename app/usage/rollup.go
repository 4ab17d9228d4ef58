package usage

import (
	"cmp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/llmgw/gateway/models"
)

// rollupKey identifies a usage_hourly row. The hour is kept as Unix
// seconds so equal instants are equal keys whatever their time.Location.
type rollupKey struct {
	hour                                  int64
	org, project, apiKey, model, provider string
}

// aggregate sums the rows whose id is in inserted into hourly rollups; it
// consumes inserted.
//
// Keys are returned sorted: two replicas upserting overlapping keys in the
// same order cannot deadlock on PostgreSQL.
func aggregate(rows []*models.RequestLog, inserted map[string]struct{}) []models.UsageHourly {
	sums := make(map[rollupKey]*models.UsageHourly)
	for _, r := range rows {
		if _, ok := inserted[r.ID]; !ok {
			continue // already written by an earlier attempt
		}
		// A duplicated id within the batch was inserted once: count it once.
		delete(inserted, r.ID)
		model := r.UsedModel
		if model == "" {
			model = r.RequestedModel
		}
		hour := r.CreatedAt.UTC().Truncate(time.Hour)
		k := rollupKey{hour.Unix(), cleanText(r.OrganizationID), cleanText(r.ProjectID),
			cleanText(r.APIKeyID), cleanText(model), cleanText(r.UsedProvider)}
		u := sums[k]
		if u == nil {
			u = &models.UsageHourly{Hour: hour, OrganizationID: k.org, ProjectID: k.project,
				APIKeyID: k.apiKey, Model: k.model, Provider: k.provider}
			sums[k] = u
		}
		// Retried attempts are rows like any other: each one was an
		// upstream request, and a failed one is an error.
		u.Requests++
		isError := r.Status >= 400
		if isError {
			u.Errors++
		}
		u.PromptTokens += int64(r.PromptTokens)
		u.CompletionTokens += int64(r.CompletionTokens)
		u.CachedTokens += int64(r.CachedTokens)
		u.TotalTokens += int64(r.TotalTokens)
		if r.TotalCost != nil {
			u.Cost += *r.TotalCost
		} else if !isError {
			u.UnpricedRequests++
		}
	}
	out := make([]models.UsageHourly, 0, len(sums))
	for _, u := range sums {
		out = append(out, *u)
	}
	slices.SortFunc(out, func(a, b models.UsageHourly) int {
		return cmp.Or(a.Hour.Compare(b.Hour),
			strings.Compare(a.OrganizationID, b.OrganizationID),
			strings.Compare(a.ProjectID, b.ProjectID),
			strings.Compare(a.APIKeyID, b.APIKeyID),
			strings.Compare(a.Model, b.Model),
			strings.Compare(a.Provider, b.Provider))
	})
	return out
}

// cleanText makes s storable everywhere: PostgreSQL rejects invalid UTF-8
// and NUL bytes in TEXT, and upstream error messages can contain both
// (truncated multi-byte characters, binary bodies). Both dialects store the
// same cleaned value.
func cleanText(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}
