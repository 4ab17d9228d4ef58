package tracing

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
	"unsafe"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// receiver is a minimal OTLP/HTTP trace receiver.
type receiver struct {
	mu    sync.Mutex
	reqs  []*collectortrace.ExportTraceServiceRequest
	raw   [][]byte
	paths []string
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	var req collectortrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, &req)
	rc.raw = append(rc.raw, body)
	rc.paths = append(rc.paths, r.Method+" "+r.URL.Path+" "+r.Header.Get("Content-Type"))
	rc.mu.Unlock()
	out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func (rc *receiver) spans() (map[string]*tracepb.Span, []*tracepb.ResourceSpans) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	byName := map[string]*tracepb.Span{}
	var rss []*tracepb.ResourceSpans
	for _, req := range rc.reqs {
		for _, rs := range req.ResourceSpans {
			rss = append(rss, rs)
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					byName[s.Name] = s
				}
			}
		}
	}
	return byName, rss
}

func attrs(kvs []*commonpb.KeyValue) map[string]any {
	m := map[string]any{}
	for _, kv := range kvs {
		switch v := kv.Value.Value.(type) {
		case *commonpb.AnyValue_StringValue:
			m[kv.Key] = v.StringValue
		case *commonpb.AnyValue_IntValue:
			m[kv.Key] = v.IntValue
		case *commonpb.AnyValue_BoolValue:
			m[kv.Key] = v.BoolValue
		default:
			m[kv.Key] = kv.Value.String()
		}
	}
	return m
}

func clearOTelEnv(t *testing.T) {
	for _, k := range []string{
		"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_SDK_DISABLED",
		"OTEL_TRACES_EXPORTER", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_TRACES_SAMPLER",
		"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_COMPRESSION", "OTEL_EXPORTER_OTLP_PROTOCOL",
	} {
		t.Setenv(k, "")
	}
}

func TestExportRequestWithAttempts(t *testing.T) {
	clearOTelEnv(t)
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	prev, prevProp := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	t.Cleanup(func() { otel.SetTracerProvider(prev); otel.SetTextMapPropagator(prevProp) })

	ctx := context.Background()
	shutdown, err := Setup(ctx, "llmgw-test", "1.2.3")
	if err != nil {
		t.Fatal(err)
	}

	// Incoming headers live in a buffer the server reuses after the handler
	// (as fasthttp does): Extract must not keep references into it.
	buf := []byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01|vendor=abc")
	headers := func(k string) string {
		switch k {
		case "traceparent":
			return string(buf[:55])
		case "tracestate":
			return unsafeString(buf[56:])
		}
		return ""
	}
	ctx = Extract(ctx, headers)
	for i := range buf {
		buf[i] = 'x'
	}

	const secret = "Incorrect API key provided: sk-proj-SECRET123456 for prompt 'tell me a secret'"
	rctx, req := StartRequest(ctx, "POST /v1/chat/completions", KeyHTTPMethod.String("POST"), KeyEndpoint.String("chat"))
	_, a1 := StartAttempt(rctx, "openai", "gpt-4o", 1)
	time.Sleep(time.Millisecond)
	End(a1, 502, errors.New(secret))
	_, a2 := StartAttempt(rctx, "anthropic", "claude-sonnet-4", 2)
	SetUsage(a2, 12, 34)
	End(a2, 200, nil)
	SetUsage(req, 12, 34)
	End(req, 200, nil)

	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := shutdown(sctx); err != nil {
		t.Fatal(err)
	}

	spans, rss := rc.spans()
	if len(spans) != 3 {
		t.Fatalf("got %d spans %v, want 3", len(spans), rc.paths)
	}
	if p := rc.paths[0]; p != "POST /v1/traces application/x-protobuf" {
		t.Errorf("export request %q", p)
	}
	res := attrs(rss[0].Resource.Attributes)
	if res["service.name"] != "llmgw-test" || res["service.version"] != "1.2.3" {
		t.Errorf("resource %v", res)
	}

	r := spans["POST /v1/chat/completions"]
	s1 := spans["openai gpt-4o"]
	s2 := spans["anthropic claude-sonnet-4"]
	if r == nil || s1 == nil || s2 == nil {
		t.Fatalf("span names: %v", keys(spans))
	}
	wantTrace := "4bf92f3577b34da6a3ce929d0e0e4736"
	for _, s := range []*tracepb.Span{r, s1, s2} {
		if got := hex.EncodeToString(s.TraceId); got != wantTrace {
			t.Errorf("%s: trace id %s, want incoming %s", s.Name, got, wantTrace)
		}
		if s.TraceState != "vendor=abc" {
			t.Errorf("%s: tracestate %q", s.Name, s.TraceState)
		}
	}
	if got := hex.EncodeToString(r.ParentSpanId); got != "00f067aa0ba902b7" {
		t.Errorf("request parent %s, want the incoming span", got)
	}
	if !bytes.Equal(s1.ParentSpanId, r.SpanId) || !bytes.Equal(s2.ParentSpanId, r.SpanId) {
		t.Errorf("attempts are not children of the request span")
	}
	if r.Kind != tracepb.Span_SPAN_KIND_SERVER || s1.Kind != tracepb.Span_SPAN_KIND_CLIENT || s2.Kind != tracepb.Span_SPAN_KIND_CLIENT {
		t.Errorf("kinds %v %v %v", r.Kind, s1.Kind, s2.Kind)
	}

	ra := attrs(r.Attributes)
	if ra["http.response.status_code"] != int64(200) || ra["http.request.method"] != "POST" || ra["llmgw.endpoint"] != "chat" ||
		ra["gen_ai.usage.input_tokens"] != int64(12) || ra["gen_ai.usage.output_tokens"] != int64(34) {
		t.Errorf("request attrs %v", ra)
	}
	if r.Status.GetCode() == tracepb.Status_STATUS_CODE_ERROR {
		t.Errorf("request span marked error")
	}
	a1a := attrs(s1.Attributes)
	if a1a["gen_ai.system"] != "openai" || a1a["gen_ai.provider.name"] != "openai" || a1a["gen_ai.request.model"] != "gpt-4o" ||
		a1a["llmgw.attempt"] != int64(1) || a1a["http.response.status_code"] != int64(502) || a1a["error.type"] != "502" {
		t.Errorf("attempt 1 attrs %v", a1a)
	}
	if s1.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR || s1.Status.GetMessage() != "502" {
		t.Errorf("attempt 1 status %v", s1.Status)
	}
	a2a := attrs(s2.Attributes)
	if a2a["gen_ai.system"] != "anthropic" || a2a["gen_ai.request.model"] != "claude-sonnet-4" || a2a["llmgw.attempt"] != int64(2) ||
		a2a["http.response.status_code"] != int64(200) || a2a["gen_ai.usage.input_tokens"] != int64(12) {
		t.Errorf("attempt 2 attrs %v", a2a)
	}
	if _, ok := a2a["error.type"]; ok || s2.Status.GetCode() == tracepb.Status_STATUS_CODE_ERROR {
		t.Errorf("attempt 2 marked failed: %v %v", a2a, s2.Status)
	}
	for _, raw := range rc.raw {
		for _, leak := range []string{"SECRET123456", "tell me a secret", "Incorrect API key"} {
			if bytes.Contains(raw, []byte(leak)) {
				t.Errorf("export contains %q", leak)
			}
		}
	}
}

func TestSetupNoop(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"unset":    {},
		"disabled": {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_SDK_DISABLED": "true"},
		"none":     {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:1/v1/traces", "OTEL_TRACES_EXPORTER": "none"},
	} {
		t.Run(name, func(t *testing.T) {
			clearOTelEnv(t)
			for k, v := range env {
				t.Setenv(k, v)
			}
			if Enabled() {
				t.Fatal("Enabled")
			}
			prevTP, prevProp := otel.GetTracerProvider(), otel.GetTextMapPropagator()
			sentinel := propagation.TraceContext{}
			otel.SetTextMapPropagator(sentinel)
			t.Cleanup(func() { otel.SetTextMapPropagator(prevProp) })
			shutdown, err := Setup(context.Background(), "llmgw", "dev")
			if err != nil {
				t.Fatal(err)
			}
			if p, ok := otel.GetTextMapPropagator().(propagation.TraceContext); otel.GetTracerProvider() != prevTP || !ok || p != sentinel {
				t.Fatal("Setup changed the global provider or propagator")
			}
			ctx, span := StartRequest(context.Background(), "POST /v1/chat/completions")
			_, a := StartAttempt(ctx, "openai", "gpt-4o", 1)
			SetUsage(a, 1, 2)
			End(a, 500, errors.New("boom"))
			End(span, 200, nil)
			if err := shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestExtract(t *testing.T) {
	ctx := context.Background()
	if got := Extract(ctx, func(string) string { return "" }); got != ctx {
		t.Error("no traceparent: context changed")
	}
	if got := Extract(ctx, nil); got != ctx {
		t.Error("nil getter: context changed")
	}
	bad := Extract(ctx, func(k string) string {
		if k == "traceparent" {
			return "00-zzzz-00f067aa0ba902b7-01"
		}
		return ""
	})
	if _, s := StartRequest(bad, "x"); s.SpanContext().TraceID().String() == "zzzz" {
		t.Error("invalid traceparent accepted")
	}
	good := Extract(ctx, func(k string) string {
		if k == "traceparent" {
			return "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
		}
		return ""
	})
	if sc := traceSpanContext(good); sc.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || !sc.IsRemote() || !sc.IsSampled() {
		t.Errorf("extracted %v", sc)
	}
}

func BenchmarkExtract(b *testing.B) {
	ctx := context.Background()
	get := func(k string) string {
		if k == "traceparent" {
			return "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
		}
		return ""
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = Extract(ctx, get)
	}
}

func keys(m map[string]*tracepb.Span) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// unsafeString aliases b, like fiber's c.Get does with the request buffer.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

func traceSpanContext(ctx context.Context) trace.SpanContext {
	return trace.SpanContextFromContext(ctx)
}

func TestEndStatusRules(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	t.Cleanup(func() { otel.SetTracerProvider(prev) })

	ctx, req := StartRequest(context.Background(), "POST /v1/messages")
	_, a1 := StartAttempt(ctx, "anthropic", "claude", 1)
	End(a1, 429, nil) // client span: upstream 4xx is a failure
	_, a2 := StartAttempt(ctx, "openai", "gpt-4o", 2)
	End(a2, 0, context.DeadlineExceeded) // no status: error type from err
	End(req, 400, nil)                   // server span: 4xx is the caller's fault, not an error

	got := map[string][2]string{}
	for _, s := range rec.Ended() {
		et := ""
		for _, kv := range s.Attributes() {
			if kv.Key == KeyErrorType {
				et = kv.Value.AsString()
			}
		}
		got[s.Name()] = [2]string{s.Status().Code.String(), et}
	}
	want := map[string][2]string{
		"anthropic claude":  {"Error", "429"},
		"openai gpt-4o":     {"Error", "timeout"},
		"POST /v1/messages": {"Unset", ""},
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s: status/error.type %v, want %v", name, got[name], w)
		}
	}
}
