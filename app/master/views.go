package master

import (
	"encoding/json"
	"time"

	"github.com/llmgw/gateway/app/pricing"
	"github.com/llmgw/gateway/models"
)

type projectView struct {
	ID                   string    `json:"id"`
	Name                 string    `json:"name"`
	OrganizationID       string    `json:"organizationId"`
	CachingEnabled       bool      `json:"cachingEnabled"`
	CacheDurationSeconds int       `json:"cacheDurationSeconds"`
	Mode                 string    `json:"mode"`
	Status               string    `json:"status"`
	RateLimitRPM         *int      `json:"rateLimitRpm"`
	RateLimitTPM         *int      `json:"rateLimitTpm"`
	CreatedAt            time.Time `json:"createdAt"`
	UpdatedAt            time.Time `json:"updatedAt"`
}

func viewProject(p *models.Project) projectView {
	return projectView{p.ID, p.Name, p.OrganizationID, p.CachingEnabled, p.CacheDurationSeconds, p.Mode, p.Status,
		p.RateLimitRPM, p.RateLimitTPM, p.CreatedAt, p.UpdatedAt}
}

type keyView struct {
	ID                       string     `json:"id"`
	Token                    string     `json:"token,omitempty"` // only at creation and roll
	MaskedToken              string     `json:"maskedToken"`
	Description              string     `json:"description"`
	Status                   string     `json:"status"`
	Test                     bool       `json:"test"`
	ProjectID                string     `json:"projectId"`
	CreatedBy                string     `json:"createdBy"`
	UsageLimit               *string    `json:"usageLimit"`
	PeriodUsageLimit         *string    `json:"periodUsageLimit"`
	PeriodUsageDurationValue *int       `json:"periodUsageDurationValue"`
	PeriodUsageDurationUnit  *string    `json:"periodUsageDurationUnit"`
	Usage                    string     `json:"usage"`
	PeriodUsage              string     `json:"periodUsage"`
	ExpiresAt                *time.Time `json:"expiresAt"`
	RateLimitRPM             *int       `json:"rateLimitRpm"`
	RateLimitTPM             *int       `json:"rateLimitTpm"`
	LastUsedAt               *time.Time `json:"lastUsedAt"`
	CreatedAt                time.Time  `json:"createdAt"`
	UpdatedAt                time.Time  `json:"updatedAt"`
}

func usdPtr(n *int64) *string {
	if n == nil {
		return nil
	}
	s := pricing.FormatUSD(*n)
	return &s
}

func viewKey(k *models.APIKey, token string) keyView {
	return keyView{ID: k.ID, Token: token, MaskedToken: k.MaskedToken, Description: k.Description, Status: k.Status, Test: k.Test,
		ProjectID: k.ProjectID, CreatedBy: k.CreatedBy, UsageLimit: usdPtr(k.UsageLimit), PeriodUsageLimit: usdPtr(k.PeriodUsageLimit),
		PeriodUsageDurationValue: k.PeriodUsageDurationValue, PeriodUsageDurationUnit: k.PeriodUsageDurationUnit,
		Usage: pricing.FormatUSD(k.Usage), PeriodUsage: pricing.FormatUSD(k.PeriodUsage), ExpiresAt: k.ExpiresAt,
		RateLimitRPM: k.RateLimitRPM, RateLimitTPM: k.RateLimitTPM, LastUsedAt: k.LastUsedAt, CreatedAt: k.CreatedAt, UpdatedAt: k.UpdatedAt}
}

type ruleView struct {
	ID        string          `json:"id"`
	APIKeyID  string          `json:"apiKeyId"`
	RuleType  string          `json:"ruleType"`
	RuleValue json.RawMessage `json:"ruleValue"`
	Status    string          `json:"status"`
	CreatedAt time.Time       `json:"createdAt"`
	UpdatedAt time.Time       `json:"updatedAt"`
}

func viewRule(r *models.IAMRule) ruleView {
	return ruleView{r.ID, r.APIKeyID, r.RuleType, json.RawMessage(r.RuleValue), r.Status, r.CreatedAt, r.UpdatedAt}
}
