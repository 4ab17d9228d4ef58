// Package tracing wires OpenTelemetry tracing for the gateway.
//
// Setup installs an OTLP/HTTP exporter as the global tracer provider when
// OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set;
// otherwise tracing stays a no-op. The exporter, batch span processor and
// sampler read the standard OTEL_* variables themselves (OTEL_EXPORTER_OTLP_HEADERS,
// OTEL_EXPORTER_OTLP_COMPRESSION, OTEL_BSP_*, OTEL_TRACES_SAMPLER, OTEL_SERVICE_NAME,
// OTEL_RESOURCE_ATTRIBUTES, ...).
//
// The span helpers record only bounded metadata: route, provider, model,
// attempt number, status codes, token counts. Prompts, completions, keys and
// error messages (which may echo either) are never recorded.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the gateway's spans.
const ScopeName = "github.com/llmgw/gateway"

// Attribute keys (OTel HTTP and GenAI semantic conventions, plus llmgw.*).
const (
	KeyHTTPStatus   = attribute.Key("http.response.status_code")
	KeyErrorType    = attribute.Key("error.type")
	KeyGenAISystem  = attribute.Key("gen_ai.system")        // deprecated name, still what most backends read
	KeyGenAIProv    = attribute.Key("gen_ai.provider.name") // current name of gen_ai.system
	KeyGenAIModel   = attribute.Key("gen_ai.request.model")
	KeyGenAIInput   = attribute.Key("gen_ai.usage.input_tokens")
	KeyGenAIOutput  = attribute.Key("gen_ai.usage.output_tokens")
	KeyAttempt      = attribute.Key("llmgw.attempt") // 1-based upstream attempt number
	KeyCacheHit     = attribute.Key("llmgw.cache_hit")
	KeyEndpoint     = attribute.Key("llmgw.endpoint")
	KeyHTTPRoute    = attribute.Key("http.route")
	KeyHTTPMethod   = attribute.Key("http.request.method")
	KeyGenAIRespMdl = attribute.Key("gen_ai.response.model")
)

// cachedTracer is the tracer of the global provider it was obtained from.
type cachedTracer struct {
	tp trace.TracerProvider
	t  trace.Tracer
}

var tracerCache atomic.Pointer[cachedTracer]

// tracer returns the current global provider's tracer, cached until the
// global provider changes (otel's delegating tracer would stay bound to the
// first provider ever installed).
func tracer() trace.Tracer {
	tp := otel.GetTracerProvider()
	if c := tracerCache.Load(); c != nil && c.tp == tp {
		return c.t
	}
	c := &cachedTracer{tp: tp, t: tp.Tracer(ScopeName)}
	tracerCache.Store(c)
	return c.t
}

// traceContext extracts W3C traceparent/tracestate headers.
var traceContext propagation.TraceContext

// Enabled reports whether the environment asks for trace export.
func Enabled() bool {
	if v, _ := strconv.ParseBool(os.Getenv("OTEL_SDK_DISABLED")); v {
		return false
	}
	if strings.EqualFold(strings.TrimSpace(os.Getenv("OTEL_TRACES_EXPORTER")), "none") {
		return false
	}
	return os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// Setup installs the global tracer provider and W3C propagator when Enabled,
// exporting over OTLP/HTTP through a batch span processor, with a resource
// carrying service.name and service.version (OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES override them). Otherwise it changes nothing and
// returns a no-op shutdown. shutdown flushes pending spans and stops the
// exporter; call it once, with a deadline, on exit.
func Setup(ctx context.Context, serviceName, version string) (shutdown func(context.Context) error, err error) {
	if !Enabled() {
		return func(context.Context) error { return nil }, nil
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, err
	}
	res, err := resource.New(ctx,
		resource.WithSchemaURL(semconv.SchemaURL),
		resource.WithTelemetrySDK(),
		resource.WithHost(),
		resource.WithAttributes(semconv.ServiceName(serviceName), semconv.ServiceVersion(version)),
		resource.WithFromEnv(), // last: the environment wins
	)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		_ = exp.Shutdown(ctx)
		return nil, err
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp), // OTEL_BSP_* honoured
		sdktrace.WithResource(res),
	)
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	return tp.Shutdown, nil
}

// HeaderGetter returns a request header's value, "" if absent. With Fiber:
//
//	ctx = tracing.Extract(ctx, func(k string) string { return c.Get(k) })
type HeaderGetter func(key string) string

// Extract returns ctx carrying the remote span context of an incoming W3C
// traceparent (and tracestate) header, so that StartRequest continues the
// caller's trace. Without a valid traceparent it returns ctx unchanged.
//
// The getter's values may alias a reused request buffer (Fiber's c.Get): the
// traceparent is parsed into fixed arrays, and the tracestate, which the span
// keeps after the handler returns, is copied.
func Extract(ctx context.Context, get HeaderGetter) context.Context {
	if get == nil || get("traceparent") == "" {
		return ctx // fast path: no allocation
	}
	return traceContext.Extract(ctx, headerCarrier(get))
}

type headerCarrier HeaderGetter

func (h headerCarrier) Get(key string) string {
	v := h(key)
	if key != "traceparent" {
		v = strings.Clone(v)
	}
	return v
}
func (h headerCarrier) Set(string, string) {}
func (h headerCarrier) Keys() []string     { return nil }

// StartRequest starts the server span of a client request, named like
// "POST /v1/chat/completions", as a child of any context Extract found.
// attrs must not contain prompts, completions or keys.
func StartRequest(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	return tracer().Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
}

// StartAttempt starts the client span of one upstream call (attempt is
// 1-based), named "<provider> <model>" and carrying gen_ai.system,
// gen_ai.provider.name, gen_ai.request.model and llmgw.attempt.
func StartAttempt(ctx context.Context, provider, model string, attempt int) (context.Context, trace.Span) {
	return tracer().Start(ctx, provider+" "+model,
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			KeyGenAISystem.String(provider),
			KeyGenAIProv.String(provider),
			KeyGenAIModel.String(model),
			KeyAttempt.Int(attempt),
		))
}

// SetUsage records token usage (gen_ai.usage.input_tokens/output_tokens).
func SetUsage(span trace.Span, inputTokens, outputTokens int) {
	if !span.IsRecording() {
		return
	}
	span.SetAttributes(KeyGenAIInput.Int(inputTokens), KeyGenAIOutput.Int(outputTokens))
}

// End records the outcome and ends span. status > 0 sets
// http.response.status_code. The span is marked Error when err != nil or
// status >= 500 (status >= 400 on client spans: the upstream call failed), with
// error.type set to the status code, or to the Go type of err when there is no
// status. err's message is not recorded: upstream errors can echo prompts and
// key fragments.
func End(span trace.Span, status int, err error) {
	if span.IsRecording() {
		if status > 0 {
			span.SetAttributes(KeyHTTPStatus.Int(status))
		}
		failed := err != nil || status >= 500
		if !failed && status >= 400 {
			if ro, ok := span.(interface{ SpanKind() trace.SpanKind }); ok && ro.SpanKind() == trace.SpanKindClient {
				failed = true
			}
		}
		if failed {
			et := "_OTHER"
			switch {
			case status >= 400:
				et = strconv.Itoa(status)
			case err != nil:
				et = errorTypeName(err)
			}
			span.SetAttributes(KeyErrorType.String(et))
			span.SetStatus(codes.Error, et)
		}
	}
	span.End()
}

// errorTypeName is err's dynamic type ("*providers.Error"), a bounded name
// that carries no request data; context errors get their own names.
func errorTypeName(err error) string {
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	return fmt.Sprintf("%T", err)
}
