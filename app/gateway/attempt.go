package gateway

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/llmgw/gateway/app/apierr"
	"github.com/llmgw/gateway/app/catalog"
	"github.com/llmgw/gateway/app/ids"
	"github.com/llmgw/gateway/app/pricing"
	"github.com/llmgw/gateway/app/providers"
	"github.com/llmgw/gateway/app/routing"
	"github.com/llmgw/gateway/app/schema"
	"github.com/llmgw/gateway/models"
)

// attempt is one upstream call of a request.
type attempt struct {
	logID     string
	cand      routing.Candidate
	status    int
	errType   string
	err       *apierr.Error
	succeeded bool
	start     time.Time
	end       time.Time // for a stream: when its first chunk came
}

// routingEntry is one element of the response's metadata.routing array.
type routingEntry struct {
	Provider   string `json:"provider"`
	Model      string `json:"model"`
	StatusCode int    `json:"status_code"`
	ErrorType  string `json:"error_type"`
	Succeeded  bool   `json:"succeeded"`
	Region     string `json:"region,omitempty"`
	// Hosting and Operator are the jurisdictions of the endpoint and of its
	// operator when the request was routed (the compliance export reads them).
	Hosting  string `json:"hosting,omitempty"`
	Operator string `json:"operator,omitempty"`
}

func newAttempt(c routing.Candidate) *attempt {
	return &attempt{logID: ids.New("log"), cand: c, start: time.Now()}
}

// ok records that the upstream answered (a stream: that its first chunk came).
func (a *attempt) ok() {
	a.succeeded, a.status = true, 200
	a.end = time.Now()
}

// fail records a failed attempt.
func (a *attempt) fail(err error) {
	a.end = time.Now()
	a.err = providers.AsAPI(err)
	a.status = a.err.Status
	a.errType = errorType(err)
}

// errorType names a failure for metadata.routing and the log row.
func errorType(err error) string {
	var pe *providers.Error
	if errors.As(err, &pe) {
		switch pe.Kind {
		case providers.KindStatus:
			if pe.Status == 429 {
				return "rate_limited"
			}
			if pe.Status >= 500 {
				return "server_error"
			}
			return "client_error"
		case providers.KindTimeout:
			return "timeout"
		case providers.KindConnection:
			return "connection_error"
		case providers.KindBadResponse:
			return "invalid_response"
		case providers.KindCancelled:
			return "cancelled"
		case providers.KindUnsupported:
			return "unsupported"
		}
	}
	return "gateway_error"
}

// retryable: another provider may succeed (5xx, 429, timeout, connection, garbage).
func retryable(err error) bool {
	var pe *providers.Error
	return errors.As(err, &pe) && pe.Retryable()
}

// routingInfo is the response's (and log row's) metadata object.
type routingInfo struct {
	Routing         []routingEntry `json:"routing"`
	SelectionReason string         `json:"selectionReason,omitempty"`
	NoFallback      bool           `json:"noFallback,omitempty"`
	Jurisdiction    string         `json:"jurisdiction,omitempty"`
	AutoModel       string         `json:"autoSelectedModel,omitempty"`
	OrgJurisdiction string         `json:"orgJurisdiction,omitempty"`
}

func routingMetadata(rc *reqCtx, atts []*attempt) json.RawMessage {
	info := routingInfo{Routing: make([]routingEntry, len(atts)), SelectionReason: rc.selection, NoFallback: rc.noFallback, Jurisdiction: rc.jurisdiction, AutoModel: rc.autoModel}
	if org := rc.id.Org.Jurisdiction(); org != "global" {
		info.OrgJurisdiction = org
	}
	for i, a := range atts {
		et := a.errType
		if a.succeeded {
			et = "none"
		}
		e := routingEntry{Provider: a.cand.Offer.Provider, Model: a.cand.Offer.Model, StatusCode: a.status, ErrorType: et, Succeeded: a.succeeded}
		if a.cand.Region != nil {
			e.Region = a.cand.Region.ID
		}
		e.Hosting, e.Operator = a.cand.Hosting(), a.cand.Upstream.Info.Operator
		info.Routing[i] = e
	}
	b, _ := json.Marshal(info)
	return b
}

// outcome is what the pipeline reports to the log for the final attempt.
type outcome struct {
	status       int
	finishReason string
	usage        *schema.Usage
	estimated    bool
	cost         pricing.Breakdown
	streamed     bool
	ttft         time.Duration
	err          *apierr.Error
	servedBy     string // provider of a cached answer (no attempt was made)
	payload      []byte // the response as stored for retain-all organizations
}

// logRequest writes one row per attempt: failed attempts that were followed by
// another are marked retried, pointing at the final attempt's row.
func (g *Gateway) logRequest(rc *reqCtx, res *catalog.Resolution, atts []*attempt, out outcome) {
	if rc == nil || rc.id == nil {
		return
	}
	g.settle(rc, out)
	if out.usage != nil {
		g.countTokens(rc, out.usage.TotalTokens)
	}
	g.recordHealth(rc, atts, out)
	g.observe(rc, res, atts, out)
	routingJSON := ""
	if len(atts) > 0 || rc.jurisdiction != "" {
		// A request refused under a jurisdiction policy keeps that decision too
		// (the compliance export reads it).
		routingJSON = string(routingMetadata(rc, atts))
	}
	final := ""
	if n := len(atts); n > 0 {
		final = atts[n-1].logID
	}
	for i, a := range atts {
		row := g.baseRow(rc, res)
		row.ID = a.logID
		row.UsedProvider = a.cand.Offer.Provider
		row.UpstreamModel = a.cand.Offer.Model
		row.RoutingAttempts = routingJSON
		if i < len(atts)-1 { // a failed attempt that was retried
			row.Status = a.status
			row.ErrorType = a.errType
			if a.err != nil {
				row.ErrorMessage = truncate(a.err.Message, 1000)
			}
			row.Retried = true
			row.RetriedByLogID = final
			g.Logs.Enqueue(row)
			continue
		}
		g.fillOutcome(row, out)
		g.Logs.Enqueue(row)
		g.retain(rc, row.ID, out)
	}
	if len(atts) == 0 { // failed before any upstream call (validation, routing)
		row := g.baseRow(rc, res)
		row.ID = ids.New("log")
		row.RoutingAttempts = routingJSON
		g.fillOutcome(row, out)
		g.Logs.Enqueue(row)
	}
}

func (g *Gateway) baseRow(rc *reqCtx, res *catalog.Resolution) *models.RequestLog {
	row := &models.RequestLog{
		RequestID:      rc.requestID,
		CreatedAt:      rc.start.UTC(),
		OrganizationID: rc.id.Key.OrganizationID,
		ProjectID:      rc.id.Key.ProjectID,
		APIKeyID:       rc.id.Key.ID,
		Endpoint:       rc.endpoint,
		RequestedModel: rc.model,
		DurationMs:     int(time.Since(rc.start).Milliseconds()),
		Source:         rc.source,
		UserAgent:      rc.userAgent,
		SessionID:      rc.sessionID,
		Metadata:       rc.metadata,
	}
	if res != nil {
		row.UsedModel = res.Model.ID
		if res.Pinned && len(res.Offers) == 1 {
			row.RequestedProvider = res.Offers[0].Provider
		}
	}
	return row
}

func (g *Gateway) fillOutcome(row *models.RequestLog, out outcome) {
	row.Status = out.status
	row.FinishReason = out.finishReason
	row.Streamed = out.streamed
	row.TokensEstimated = out.estimated
	if out.err != nil {
		row.ErrorType = out.err.Type
		if out.err.Code != "" {
			row.ErrorType = out.err.Code
		}
		row.ErrorMessage = truncate(out.err.Message, 1000)
	}
	if out.ttft > 0 {
		ms := int(out.ttft.Milliseconds())
		row.TTFTMs = &ms
	}
	if u := out.usage; u != nil {
		row.PromptTokens, row.CompletionTokens, row.TotalTokens = u.PromptTokens, u.CompletionTokens, u.TotalTokens
		if d := u.PromptTokensDetails; d != nil {
			row.CachedTokens, row.CacheWriteTokens = d.CachedTokens, d.CacheWriteTokens
		}
		if d := u.CompletionTokensDetails; d != nil {
			row.ReasoningTokens = d.ReasoningTokens
		}
	}
	if b := out.cost; b.Known {
		p := func(v int64) *int64 { return &v }
		row.InputCost, row.OutputCost, row.CachedInputCost = p(b.Input), p(b.Output), p(b.CachedInput)
		row.CacheWriteCost, row.RequestCost, row.TotalCost = p(b.CacheWrite), p(b.Request), p(b.Total())
	}
}

// settle books the request's actual cost against its key (releasing the
// reservation made before the call). An unknown price books nothing.
func (g *Gateway) settle(rc *reqCtx, out outcome) {
	if g.Spend == nil {
		return
	}
	var actual int64
	if out.cost.Known {
		actual = out.cost.Total()
	}
	if rc.hold != nil {
		rc.hold.Settle(actual)
		return
	}
	g.Spend.Record(rc.id.Key, actual)
}

// recordHealth feeds every attempt into the provider health window. Only the
// provider's own failures count against it (5xx, 429, timeouts, broken
// connections, garbage), never a client's 4xx or a client that went away.
func (g *Gateway) recordHealth(rc *reqCtx, atts []*attempt, out outcome) {
	if g.Selector == nil || g.Selector.Health == nil {
		return
	}
	for i, a := range atts {
		o := routing.Observation{Provider: a.cand.Key(), Success: true}
		if i < len(atts)-1 {
			o.Success = !providerFault(a.errType)
		} else {
			if out.err != nil {
				o.Success = !providerFault(errorTypeOfOutcome(a, out))
			}
			o.Duration, o.TTFT = time.Since(rc.start), out.ttft
			if out.usage != nil && out.err == nil {
				o.Tokens = out.usage.CompletionTokens
			}
		}
		g.Selector.Health.Record(o)
	}
}

func providerFault(errType string) bool {
	switch errType {
	case "server_error", "rate_limited", "timeout", "connection_error", "invalid_response":
		return true
	}
	return false
}

// errorTypeOfOutcome classifies the final attempt's failure (a stream that broke
// after it started reports it in the outcome, not the attempt).
func errorTypeOfOutcome(a *attempt, out outcome) string {
	if a.errType != "" {
		return a.errType
	}
	switch {
	case out.status == 499:
		return "cancelled"
	case out.status == 504:
		return "timeout"
	case out.status >= 500:
		return "server_error"
	}
	return "client_error"
}
