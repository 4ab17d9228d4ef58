// Package metrics exposes the gateway's Prometheus metrics.
//
// Everything lives in a private *prometheus.Registry (never the global
// default registry), served by Handler in the text exposition format. All
// series are prefixed "llmgw_".
//
// Cardinality: every label value must come from a bounded set. Callers pass
// catalog-resolved provider and model names and internal endpoint/error-type
// constants, never raw user input. Empty values are recorded as "none";
// HTTP status codes outside 0..599 as "other".
//
// A nil *Metrics is valid: every method is a no-op, so the request pipeline can
// run without metrics (tests, tools).
package metrics

import (
	"strconv"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const namespace = "llmgw"

// none replaces empty label values.
const none = "none"

// DurationBuckets are the request-duration histogram buckets, in seconds:
// from cache hits and fast rejections (5ms) to long reasoning streams (10m).
var DurationBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600}

// TTFTBuckets are the time-to-first-token histogram buckets, in seconds.
var TTFTBuckets = []float64{.05, .1, .25, .5, .75, 1, 1.5, 2, 3, 5, 10, 20, 30, 60}

// Request describes one finished client request (one per HTTP request, after
// all upstream attempts).
type Request struct {
	Endpoint         string // chat | embeddings | messages | gemini | responses
	Provider         string // provider that served the request; "" → "none"
	Model            string // catalog model name; "" → "none"
	Status           int    // HTTP status returned to the client
	Stream           bool
	Cached           bool          // served from the response cache (informational; see CacheLookup)
	Duration         time.Duration // total request duration
	TTFT             time.Duration // time to first token; 0 = not a stream / no token
	PromptTokens     int
	CompletionTokens int
	CostNanoUSD      int64 // billed cost in nano-USD (1e-9 USD)
}

// Metrics holds the gateway's collectors. Create it with New.
type Metrics struct {
	reg     *prometheus.Registry
	handler fiber.Handler

	requests   *prometheus.CounterVec   // endpoint, provider, model, status
	duration   *prometheus.HistogramVec // endpoint, provider, model
	ttft       *prometheus.HistogramVec // provider, model
	tokens     *prometheus.CounterVec   // provider, model, type
	cost       *prometheus.CounterVec   // provider, model
	cacheHit   prometheus.Counter       // llmgw_cache_requests_total{result="hit"}
	cacheMiss  prometheus.Counter       // llmgw_cache_requests_total{result="miss"}
	upstream   *prometheus.CounterVec   // provider, error_type
	retries    *prometheus.CounterVec   // provider
	guardrails *prometheus.CounterVec   // category, action

	mu       sync.Mutex
	logQueue []prometheus.Collector // registered by RegisterLogQueue
}

// New returns Metrics with a fresh registry holding the Go and process
// collectors and every llmgw_ series.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	m := &Metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "requests_total",
			Help: "Client requests by endpoint, serving provider, model and HTTP status code.",
		}, []string{"endpoint", "provider", "model", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "request_duration_seconds",
			Help:    "Total client request duration, including all upstream attempts.",
			Buckets: DurationBuckets,
		}, []string{"endpoint", "provider", "model"}),
		ttft: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "time_to_first_token_seconds",
			Help:    "Time from request start to the first streamed token (streams only).",
			Buckets: TTFTBuckets,
		}, []string{"provider", "model"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "tokens_total",
			Help: "Tokens processed, by type (prompt|completion).",
		}, []string{"provider", "model", "type"}),
		cost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "cost_usd_total",
			Help: "Billed cost in US dollars (float; converted from integer nano-USD, so sums may differ from the ledger in the last digits).",
		}, []string{"provider", "model"}),
		upstream: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "upstream_errors_total",
			Help: "Failed upstream attempts by provider and error type.",
		}, []string{"provider", "error_type"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "retries_total",
			Help: "Upstream attempts that were retries or fallbacks (not the first attempt of a request).",
		}, []string{"provider"}),
		guardrails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "guardrail_violations_total",
			Help: "Guardrail violations by category and action taken.",
		}, []string{"category", "action"}),
	}
	cache := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "cache_requests_total",
		Help: "Response cache lookups by result (hit|miss).",
	}, []string{"result"})
	m.cacheHit = cache.WithLabelValues("hit")
	m.cacheMiss = cache.WithLabelValues("miss")

	reg.MustRegister(m.requests, m.duration, m.ttft, m.tokens, m.cost, cache,
		m.upstream, m.retries, m.guardrails)

	m.handler = adaptor.HTTPHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		Registry:      reg, // adds promhttp_metric_handler_errors_total
		ErrorHandling: promhttp.ContinueOnError,
	}))
	return m
}

// Registry returns the private registry, for registering extra collectors.
// It returns nil on a nil *Metrics.
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return nil
	}
	return m.reg
}

// Handler serves the metrics in the Prometheus text exposition format
// (gzip-compressed when the scraper accepts it). On a nil *Metrics it answers
// 404.
func (m *Metrics) Handler() fiber.Handler {
	if m == nil {
		return func(c *fiber.Ctx) error { return c.SendStatus(fiber.StatusNotFound) }
	}
	return m.handler
}

// ObserveRequest records one finished client request: requests_total,
// request_duration_seconds, time_to_first_token_seconds (streams with TTFT > 0),
// tokens_total (non-zero counts) and cost_usd_total (positive costs).
func (m *Metrics) ObserveRequest(r Request) {
	if m == nil {
		return
	}
	endpoint, provider, model := label(r.Endpoint), label(r.Provider), label(r.Model)
	m.requests.WithLabelValues(endpoint, provider, model, statusLabel(r.Status)).Inc()
	m.duration.WithLabelValues(endpoint, provider, model).Observe(r.Duration.Seconds())
	if r.Stream && r.TTFT > 0 {
		m.ttft.WithLabelValues(provider, model).Observe(r.TTFT.Seconds())
	}
	if r.PromptTokens > 0 {
		m.tokens.WithLabelValues(provider, model, "prompt").Add(float64(r.PromptTokens))
	}
	if r.CompletionTokens > 0 {
		m.tokens.WithLabelValues(provider, model, "completion").Add(float64(r.CompletionTokens))
	}
	if r.CostNanoUSD > 0 { // Counter.Add panics on negative values
		m.cost.WithLabelValues(provider, model).Add(float64(r.CostNanoUSD) / 1e9)
	}
}

// CacheLookup records a response-cache lookup (call it only when the cache was
// consulted): llmgw_cache_requests_total{result="hit"|"miss"}.
func (m *Metrics) CacheLookup(hit bool) {
	if m == nil {
		return
	}
	if hit {
		m.cacheHit.Inc()
	} else {
		m.cacheMiss.Inc()
	}
}

// ObserveAttempt records one upstream attempt. An attempt failed when errorType
// is non-empty (the pipeline's bounded error types: "timeout",
// "rate_limited", ...) or status >= 400; failures increment
// llmgw_upstream_errors_total{provider,error_type}, with error_type "http_4xx"
// or "http_5xx" when errorType is empty. retry marks attempts after the first
// of a request (retries and fallbacks): llmgw_retries_total{provider}. model is
// accepted for symmetry with the pipeline's attempt record but is not a label
// (cardinality).
func (m *Metrics) ObserveAttempt(provider, model string, status int, errorType string, retry bool) {
	_ = model
	if m == nil {
		return
	}
	provider = label(provider)
	if retry {
		m.retries.WithLabelValues(provider).Inc()
	}
	if errorType == "" {
		switch {
		case status < 400:
			return // success
		case status < 500:
			errorType = "http_4xx"
		default:
			errorType = "http_5xx"
		}
	}
	m.upstream.WithLabelValues(provider, errorType).Inc()
}

// GuardrailViolation records llmgw_guardrail_violations_total{category,action}.
func (m *Metrics) GuardrailViolation(category, action string) {
	if m == nil {
		return
	}
	m.guardrails.WithLabelValues(label(category), label(action)).Inc()
}

// RegisterLogQueue exposes the request-log writer's queue: depth as the gauge
// llmgw_log_queue_depth, dropped and written as the counters
// llmgw_log_rows_dropped_total and llmgw_log_rows_written_total (the functions
// must be monotonic, e.g. usage.Writer's Dropped/Written). They are called at
// scrape time and must be safe for concurrent use. Nil functions are skipped;
// calling RegisterLogQueue again replaces the previous functions.
func (m *Metrics) RegisterLogQueue(depth, dropped, written func() float64) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.logQueue {
		m.reg.Unregister(c)
	}
	m.logQueue = m.logQueue[:0]
	add := func(c prometheus.Collector) {
		m.reg.MustRegister(c)
		m.logQueue = append(m.logQueue, c)
	}
	if depth != nil {
		add(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace, Name: "log_queue_depth",
			Help: "Request-log rows queued but not yet written.",
		}, depth))
	}
	if dropped != nil {
		add(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: namespace, Name: "log_rows_dropped_total",
			Help: "Request-log rows dropped (queue full, writer closed or write failed).",
		}, dropped))
	}
	if written != nil {
		add(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: namespace, Name: "log_rows_written_total",
			Help: "Request-log rows persisted.",
		}, written))
	}
}

func label(s string) string {
	if s == "" {
		return none
	}
	return s
}

// statusLabels holds "0".."599", so the hot path does not allocate.
var statusLabels = func() (t [600]string) {
	for i := range t {
		t[i] = strconv.Itoa(i)
	}
	return t
}()

func statusLabel(code int) string {
	if code < 0 || code >= len(statusLabels) {
		return "other"
	}
	return statusLabels[code]
}
