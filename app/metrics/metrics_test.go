package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// scrape fetches /metrics through a real Fiber app.
func scrape(t *testing.T, m *Metrics) (int, string, string) {
	t.Helper()
	app := fiber.New()
	app.Get("/metrics", m.Handler())
	resp, err := app.Test(httptest.NewRequest("GET", "/metrics", nil), -1)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(body)
}

func TestHandlerExposition(t *testing.T) {
	m := New()
	m.ObserveRequest(Request{
		Endpoint: "chat", Provider: "openai", Model: "gpt-4o", Status: 200,
		Stream: true, Duration: 1500 * time.Millisecond, TTFT: 300 * time.Millisecond,
		PromptTokens: 12, CompletionTokens: 30, CostNanoUSD: 1_250_000, // $0.00125
	})
	m.ObserveRequest(Request{
		Endpoint: "chat", Provider: "openai", Model: "gpt-4o", Status: 200,
		Duration: 20 * time.Millisecond, PromptTokens: 8, CompletionTokens: 2, CostNanoUSD: 750_000,
		Cached: true,
	})
	// Rejected before routing: no provider/model, no tokens, no cost.
	m.ObserveRequest(Request{Endpoint: "embeddings", Status: 429, Duration: time.Millisecond, CostNanoUSD: -5})
	m.CacheLookup(true)
	m.CacheLookup(false)
	m.CacheLookup(false)
	m.ObserveAttempt("anthropic", "claude", 529, "server_error", false)
	m.ObserveAttempt("openai", "gpt-4o", 200, "", true)
	m.ObserveAttempt("openai", "gpt-4o", 0, "timeout", true)
	m.ObserveAttempt("gemini", "flash", 400, "", false)
	m.GuardrailViolation("pii", "block")
	m.GuardrailViolation("pii", "block")
	var depth, dropped, written float64 = 7, 2, 40
	m.RegisterLogQueue(func() float64 { return depth }, func() float64 { return dropped }, func() float64 { return written })
	m.RegisterLogQueue(func() float64 { return depth }, func() float64 { return dropped }, func() float64 { return written }) // re-register: no panic
	depth = 3

	code, ctype, body := scrape(t, m)
	if code != 200 {
		t.Fatalf("status %d: %s", code, body)
	}
	if !strings.HasPrefix(ctype, "text/plain") {
		t.Fatalf("content type %q", ctype)
	}
	for _, want := range []string{
		`llmgw_requests_total{endpoint="chat",model="gpt-4o",provider="openai",status="200"} 2`,
		`llmgw_requests_total{endpoint="embeddings",model="none",provider="none",status="429"} 1`,
		`llmgw_request_duration_seconds_count{endpoint="chat",model="gpt-4o",provider="openai"} 2`,
		`llmgw_request_duration_seconds_sum{endpoint="chat",model="gpt-4o",provider="openai"} 1.52`,
		`llmgw_request_duration_seconds_bucket{endpoint="chat",model="gpt-4o",provider="openai",le="0.025"} 1`,
		`llmgw_request_duration_seconds_bucket{endpoint="chat",model="gpt-4o",provider="openai",le="2.5"} 2`,
		`llmgw_time_to_first_token_seconds_count{model="gpt-4o",provider="openai"} 1`,
		`llmgw_time_to_first_token_seconds_bucket{model="gpt-4o",provider="openai",le="0.25"} 0`,
		`llmgw_time_to_first_token_seconds_bucket{model="gpt-4o",provider="openai",le="0.5"} 1`,
		`llmgw_tokens_total{model="gpt-4o",provider="openai",type="prompt"} 20`,
		`llmgw_tokens_total{model="gpt-4o",provider="openai",type="completion"} 32`,
		`llmgw_cost_usd_total{model="gpt-4o",provider="openai"} 0.002`,
		`llmgw_cache_requests_total{result="hit"} 1`,
		`llmgw_cache_requests_total{result="miss"} 2`,
		`llmgw_upstream_errors_total{error_type="server_error",provider="anthropic"} 1`,
		`llmgw_upstream_errors_total{error_type="timeout",provider="openai"} 1`,
		`llmgw_upstream_errors_total{error_type="http_4xx",provider="gemini"} 1`,
		`llmgw_retries_total{provider="openai"} 2`,
		`llmgw_guardrail_violations_total{action="block",category="pii"} 2`,
		`llmgw_log_queue_depth 3`,
		`llmgw_log_rows_dropped_total 2`,
		`llmgw_log_rows_written_total 40`,
		"# TYPE llmgw_log_rows_dropped_total counter",
		"# TYPE llmgw_log_queue_depth gauge",
		"go_goroutines ",
		"process_start_time_seconds ",
	} {
		if !strings.HasSuffix(want, " ") {
			want += "\n" // exact value, not a prefix of a longer number
		}
		if !strings.Contains(body, want) {
			t.Errorf("missing %q", want)
		}
	}
	for _, unwanted := range []string{
		`llmgw_time_to_first_token_seconds_count{model="none"`, // not a stream
		`llmgw_tokens_total{model="none"`,                      // zero tokens
		`llmgw_cost_usd_total{model="none"`,                    // negative cost ignored
		`llmgw_upstream_errors_total{error_type="http_2xx"`,
	} {
		if strings.Contains(body, unwanted) {
			t.Errorf("unexpected %q", unwanted)
		}
	}
	if t.Failed() {
		t.Log(body)
	}

	// Exact series counts (guards against label explosions).
	for name, want := range map[string]int{
		"llmgw_requests_total":              2,
		"llmgw_upstream_errors_total":       3,
		"llmgw_retries_total":               1,
		"llmgw_cache_requests_total":        2,
		"llmgw_tokens_total":                2,
		"llmgw_cost_usd_total":              1,
		"llmgw_time_to_first_token_seconds": 1,
		"llmgw_log_queue_depth":             1,
	} {
		if got, err := testutil.GatherAndCount(m.Registry(), name); err != nil || got != want {
			t.Errorf("%s: %d series (err %v), want %d", name, got, err, want)
		}
	}
	if got := testutil.ToFloat64(m.cost.WithLabelValues("openai", "gpt-4o")); got != 0.002 {
		t.Errorf("cost = %v", got)
	}
}

func TestStatusAndLabels(t *testing.T) {
	for code, want := range map[int]string{0: "0", 200: "200", 599: "599", 600: "other", -1: "other"} {
		if got := statusLabel(code); got != want {
			t.Errorf("statusLabel(%d) = %q, want %q", code, got, want)
		}
	}
}

// A nil *Metrics must be usable everywhere the pipeline calls it.
func TestNilMetrics(t *testing.T) {
	var m *Metrics
	m.ObserveRequest(Request{Endpoint: "chat", Status: 200, Stream: true, TTFT: time.Second, CostNanoUSD: 5})
	m.CacheLookup(true)
	m.ObserveAttempt("openai", "gpt-4o", 500, "server_error", true)
	m.GuardrailViolation("pii", "block")
	m.RegisterLogQueue(nil, nil, nil)
	if m.Registry() != nil {
		t.Fatal("nil Metrics has a registry")
	}
	if code, _, _ := scrape(t, m); code != 404 {
		t.Fatalf("nil handler status %d, want 404", code)
	}
}

func BenchmarkObserveRequest(b *testing.B) {
	m := New()
	r := Request{
		Endpoint: "chat", Provider: "openai", Model: "gpt-4o", Status: 200, Stream: true,
		Duration: 1500 * time.Millisecond, TTFT: 300 * time.Millisecond,
		PromptTokens: 12, CompletionTokens: 30, CostNanoUSD: 1_250_000,
	}
	b.ReportAllocs()
	for b.Loop() {
		m.ObserveRequest(r)
	}
}

func BenchmarkObserveRequestParallel(b *testing.B) {
	m := New()
	r := Request{Endpoint: "chat", Provider: "openai", Model: "gpt-4o", Status: 200, Duration: time.Second, PromptTokens: 12, CompletionTokens: 30}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.ObserveRequest(r)
		}
	})
}

func BenchmarkObserveAttempt(b *testing.B) {
	m := New()
	b.ReportAllocs()
	for b.Loop() {
		m.ObserveAttempt("openai", "gpt-4o", 502, "server_error", true)
	}
}
