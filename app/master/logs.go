package master

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/llmgw/gateway/app/apierr"
	"github.com/llmgw/gateway/models"
)

type logView struct {
	ID                string          `json:"id"`
	RequestID         string          `json:"requestId"`
	CreatedAt         time.Time       `json:"createdAt"`
	ProjectID         string          `json:"projectId"`
	APIKeyID          string          `json:"apiKeyId"`
	Endpoint          string          `json:"endpoint"`
	RequestedModel    string          `json:"requestedModel"`
	RequestedProvider string          `json:"requestedProvider,omitempty"`
	UsedModel         string          `json:"usedModel"`
	UsedProvider      string          `json:"usedProvider"`
	UpstreamModel     string          `json:"upstreamModel"`
	Status            int             `json:"status"`
	FinishReason      string          `json:"finishReason"`
	Streamed          bool            `json:"streamed"`
	Cached            bool            `json:"cached"`
	PromptTokens      int             `json:"promptTokens"`
	CompletionTokens  int             `json:"completionTokens"`
	CachedTokens      int             `json:"cachedTokens"`
	ReasoningTokens   int             `json:"reasoningTokens"`
	TotalTokens       int             `json:"totalTokens"`
	TokensEstimated   bool            `json:"tokensEstimated"`
	Cost              *string         `json:"cost"`
	InputCost         *string         `json:"inputCost"`
	OutputCost        *string         `json:"outputCost"`
	CachedInputCost   *string         `json:"cachedInputCost"`
	DurationMs        int             `json:"durationMs"`
	TimeToFirstToken  *int            `json:"timeToFirstTokenMs"`
	Source            string          `json:"source"`
	SessionID         string          `json:"sessionId"`
	Metadata          json.RawMessage `json:"metadata"`
	ErrorType         string          `json:"errorType,omitempty"`
	ErrorMessage      string          `json:"errorMessage,omitempty"`
	Retried           bool            `json:"retried"`
	RetriedByLogID    string          `json:"retriedByLogId,omitempty"`
	Routing           json.RawMessage `json:"routing"`
	// The routing decision around the attempts (see the gateway's metadata.routing).
	SelectionReason   string `json:"selectionReason,omitempty"`
	NoFallback        bool   `json:"noFallback,omitempty"`
	Jurisdiction      string `json:"jurisdiction,omitempty"`
	OrgJurisdiction   string `json:"orgJurisdiction,omitempty"`
	AutoSelectedModel string `json:"autoSelectedModel,omitempty"`
}

func viewLog(r *models.RequestLog) logView {
	raw := func(s, empty string) json.RawMessage {
		if s == "" {
			s = empty
		}
		return json.RawMessage(s)
	}
	routing := raw(r.RoutingAttempts, `{"routing":[]}`)
	var wrapped struct {
		Routing           json.RawMessage `json:"routing"`
		SelectionReason   string          `json:"selectionReason"`
		NoFallback        bool            `json:"noFallback"`
		Jurisdiction      string          `json:"jurisdiction"`
		OrgJurisdiction   string          `json:"orgJurisdiction"`
		AutoSelectedModel string          `json:"autoSelectedModel"`
	}
	if json.Unmarshal(routing, &wrapped) == nil && wrapped.Routing != nil {
		routing = wrapped.Routing
	}
	return logView{ID: r.ID, RequestID: r.RequestID, CreatedAt: r.CreatedAt, ProjectID: r.ProjectID, APIKeyID: r.APIKeyID,
		Endpoint: r.Endpoint, RequestedModel: r.RequestedModel, RequestedProvider: r.RequestedProvider, UsedModel: r.UsedModel,
		UsedProvider: r.UsedProvider, UpstreamModel: r.UpstreamModel, Status: r.Status, FinishReason: r.FinishReason,
		Streamed: r.Streamed, Cached: r.Cached, PromptTokens: r.PromptTokens, CompletionTokens: r.CompletionTokens,
		CachedTokens: r.CachedTokens, ReasoningTokens: r.ReasoningTokens, TotalTokens: r.TotalTokens, TokensEstimated: r.TokensEstimated,
		Cost: usdPtr(r.TotalCost), InputCost: usdPtr(r.InputCost), OutputCost: usdPtr(r.OutputCost), CachedInputCost: usdPtr(r.CachedInputCost),
		DurationMs: r.DurationMs, TimeToFirstToken: r.TTFTMs, Source: r.Source, SessionID: r.SessionID, Metadata: raw(r.Metadata, "{}"),
		ErrorType: r.ErrorType, ErrorMessage: r.ErrorMessage, Retried: r.Retried, RetriedByLogID: r.RetriedByLogID, Routing: routing,
		SelectionReason: wrapped.SelectionReason, NoFallback: wrapped.NoFallback, Jurisdiction: wrapped.Jurisdiction,
		OrgJurisdiction: wrapped.OrgJurisdiction, AutoSelectedModel: wrapped.AutoSelectedModel}
}

// logs serves GET /v1/master/logs, newest first with cursor pagination. Filters:
// projectId, apiKeyId, model (requested or used), provider, status, sessionId,
// metadataKey+metadataValue (an X-LLMGateway-* header), from, to. Payloads are
// never returned here.
func (a *API) logs(c *fiber.Ctx) error {
	q := a.DB.WithContext(c.UserContext()).Model(&models.RequestLog{}).Where("organization_id = ?", org(c))
	for param, col := range map[string]string{"projectId": "project_id", "apiKeyId": "api_key_id", "provider": "used_provider", "sessionId": "session_id", "requestId": "request_id"} {
		if v := c.Query(param); v != "" {
			q = q.Where(col+" = ?", v)
		}
	}
	if v := c.Query("model"); v != "" {
		q = q.Where("used_model = ? OR requested_model = ?", v, v)
	}
	if v := c.Query("status"); v != "" {
		switch v {
		case "success":
			q = q.Where("status < 400")
		case "error":
			q = q.Where("status >= 400")
		default:
			n := c.QueryInt("status", -1)
			if n < 100 || n > 599 {
				return apierr.BadRequest("'status' must be an HTTP status, 'success' or 'error'.", "status")
			}
			q = q.Where("status = ?", n)
		}
	}
	if k := c.Query("metadataKey"); k != "" {
		pair, _ := json.Marshal(map[string]string{strings.ToLower(k): c.Query("metadataValue")})
		// Metadata is stored as a JSON object with sorted keys, so the encoded pair is a substring.
		needle := strings.TrimSuffix(strings.TrimPrefix(string(pair), "{"), "}")
		q = q.Where("metadata LIKE ? ESCAPE '\\'", "%"+likeEscape(needle)+"%")
	}
	rows, next, err := findPage(c, q, "request logs", func(r *models.RequestLog) (time.Time, string) { return r.CreatedAt, r.ID })
	if err != nil {
		return err
	}
	out := make([]logView, len(rows))
	for i := range rows {
		out[i] = viewLog(&rows[i])
	}
	return c.JSON(fiber.Map{"logs": out, "nextCursor": nullable(next)})
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
