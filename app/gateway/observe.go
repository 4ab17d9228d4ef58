package gateway

import (
	"context"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/llmgw/gateway/app/catalog"
	"github.com/llmgw/gateway/app/metrics"
	"github.com/llmgw/gateway/app/tracing"
)

// observe reports a finished request to the metrics and, when tracing is on,
// as spans. It runs once per request, after the answer was written, so
// neither adds to the request's latency.
func (g *Gateway) observe(rc *reqCtx, res *catalog.Resolution, atts []*attempt, out outcome) {
	model := g.modelLabel(res)
	provider := out.servedBy
	if n := len(atts); n > 0 {
		provider = atts[n-1].cand.Offer.Provider
	}
	if g.Metrics != nil {
		for i, a := range atts {
			et := a.errType
			if a.succeeded {
				et = ""
			}
			g.Metrics.ObserveAttempt(a.cand.Offer.Provider, model, a.status, et, i > 0)
		}
		r := metrics.Request{Endpoint: rc.endpoint, Provider: provider, Model: model, Status: out.status,
			Stream: out.streamed, Duration: time.Since(rc.start), TTFT: out.ttft}
		if u := out.usage; u != nil {
			r.PromptTokens, r.CompletionTokens = u.PromptTokens, u.CompletionTokens
		}
		if out.cost.Known {
			r.CostNanoUSD = out.cost.Total()
		}
		g.Metrics.ObserveRequest(r)
	}
	if tracing.Enabled() {
		g.trace(rc, model, atts, out)
	}
}

// modelLabel bounds the model label to catalog ids: a custom provider's
// unlisted models (any string a client sends) are reported as "custom".
func (g *Gateway) modelLabel(res *catalog.Resolution) string {
	if res == nil {
		return ""
	}
	if _, ok := g.Catalog.Get().Model(res.Model.ID); !ok {
		return "custom"
	}
	return res.Model.ID
}

// trace records the request as a server span with one client span per
// upstream attempt, after the fact (with their real start and end times).
func (g *Gateway) trace(rc *reqCtx, model string, atts []*attempt, out outcome) {
	parent := rc.traceParent
	if parent == nil {
		parent = context.Background()
	}
	tr := otel.Tracer(tracing.ScopeName)
	now := time.Now()
	ctx, span := tr.Start(parent, "POST "+rc.path, trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(rc.start),
		trace.WithAttributes(tracing.KeyEndpoint.String(rc.endpoint), tracing.KeyGenAIModel.String(model),
			attribute.String("llmgw.request_id", rc.requestID)))
	for i, a := range atts {
		_, as := tr.Start(ctx, a.cand.Offer.Provider+" "+a.cand.Offer.Model, trace.WithSpanKind(trace.SpanKindClient),
			trace.WithTimestamp(a.start), trace.WithAttributes(tracing.KeyGenAISystem.String(a.cand.Offer.Provider),
				tracing.KeyGenAIProv.String(a.cand.Offer.Provider), tracing.KeyGenAIModel.String(a.cand.Offer.Model), tracing.KeyAttempt.Int(i+1)))
		end := a.end
		if i == len(atts)-1 && out.streamed || end.IsZero() {
			end = now
		}
		endSpan(as, a.status, end)
	}
	if u := out.usage; u != nil {
		tracing.SetUsage(span, u.PromptTokens, u.CompletionTokens)
	}
	endSpan(span, out.status, now)
}

func endSpan(s trace.Span, status int, at time.Time) {
	if status > 0 {
		s.SetAttributes(tracing.KeyHTTPStatus.Int(status))
	}
	if status >= 400 {
		s.SetAttributes(tracing.KeyErrorType.Int(status))
		s.SetStatus(codes.Error, "")
	}
	s.End(trace.WithTimestamp(at))
}
