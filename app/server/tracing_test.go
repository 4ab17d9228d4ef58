package server_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"go.opentelemetry.io/otel"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/llmgw/gateway/app/fakeupstream"
	"github.com/llmgw/gateway/app/tracing"
)

// otlpSink is a minimal OTLP/HTTP trace receiver.
type otlpSink struct {
	mu    sync.Mutex
	spans []*tracepb.Span
}

func (s *otlpSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req collectortrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	s.mu.Lock()
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			s.spans = append(s.spans, ss.GetSpans()...)
		}
	}
	s.mu.Unlock()
	out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

// TestTracing: with OTEL_EXPORTER_OTLP_ENDPOINT set, a request that fell back
// from one provider to another is exported as a server span continuing the
// client's traceparent, with one client span per upstream attempt.
func TestTracing(t *testing.T) {
	sink := &otlpSink{}
	collector := httptest.NewServer(sink)
	defer collector.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	prev := otel.GetTracerProvider()
	t.Cleanup(func() { otel.SetTracerProvider(prev) })
	shutdown, err := tracing.Setup(context.Background(), "llmgw-test", "test")
	if err != nil {
		t.Fatal(err)
	}
	second := fakeupstream.New()
	t.Cleanup(second.Close)
	h := startGateway(t, "sqlite", map[string]string{"LLM_OPENROUTER_API_KEY": "sk-or", "LLM_OPENROUTER_BASE_URL": second.URL})
	h.fake.ForceStatus(500)
	if _, err := h.client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:    "gpt-4o-mini",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("secret prompt text")},
	}, option.WithHeader("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")); err != nil {
		t.Fatal(err)
	}
	h.stop() // the request's spans are recorded once it is logged
	if err := shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	var server *tracepb.Span
	clients := map[string]*tracepb.Span{}
	for _, s := range sink.spans {
		switch s.GetKind() {
		case tracepb.Span_SPAN_KIND_SERVER:
			server = s
		case tracepb.Span_SPAN_KIND_CLIENT:
			clients[s.GetName()] = s
		}
		if raw, _ := proto.Marshal(s); bytes.Contains(raw, []byte("secret prompt text")) {
			t.Fatal("a prompt reached the trace")
		}
	}
	if server == nil || server.GetName() != "POST /v1/chat/completions" || len(clients) != 2 {
		t.Fatalf("spans: server %v, clients %v", server, clients)
	}
	if hex.EncodeToString(server.GetTraceId()) != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Fatal("the server span does not continue the client's trace")
	}
	failed, ok := clients["openai gpt-4o-mini"], clients["openrouter openai/gpt-4o-mini"]
	if failed == nil || ok == nil || string(failed.GetParentSpanId()) != string(server.GetSpanId()) ||
		failed.GetStatus().GetCode() != tracepb.Status_STATUS_CODE_ERROR || ok.GetStatus().GetCode() == tracepb.Status_STATUS_CODE_ERROR ||
		failed.GetStartTimeUnixNano() > ok.GetStartTimeUnixNano() {
		t.Fatalf("attempt spans: %v / %v", failed, ok)
	}
}
