// Package gateway is the request pipeline of the LLM API. A request goes through
// a short list of named steps, readable top to bottom in chat.go:
//
//	begin (request id, authenticate, metadata) -> decode -> validate -> resolve
//	model -> route (candidates) -> call upstream (with fallback) -> meter (tokens,
//	cost) -> respond -> log (asynchronously)
package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/llmgw/gateway/app/catalog"
	"github.com/llmgw/gateway/app/keys"
	"github.com/llmgw/gateway/app/metrics"
	"github.com/llmgw/gateway/app/orgkeys"
	"github.com/llmgw/gateway/app/ratelimit"
	"github.com/llmgw/gateway/app/respcache"
	"github.com/llmgw/gateway/app/retention"
	"github.com/llmgw/gateway/app/routing"
	"github.com/llmgw/gateway/app/secevents"
	"github.com/llmgw/gateway/app/spend"
	"github.com/llmgw/gateway/models"
)

// LogSink receives request-log rows; it must never block (the usage writer).
type LogSink interface {
	Enqueue(*models.RequestLog) bool
}

// Deps are the collaborators of the gateway.
type Deps struct {
	Catalog   *catalog.Holder
	Upstreams func() *routing.Upstreams // current upstream set (rebuilt on reload)
	Keys      *keys.Cache
	Spend     *spend.Accountant
	Limits    ratelimit.Store
	// Selector orders the providers of root-id requests from live health.
	Selector *routing.Selector
	Logs     LogSink
	Log      *slog.Logger
	// Cache is the response cache (nil: off for every project).
	Cache *respcache.Cache
	// Payloads stores request/response payloads of retain-all organizations (nil: never).
	Payloads *retention.Writer
	// SecEvents records guardrail violations (nil: not recorded).
	SecEvents *secevents.Writer
	// HTTPClient is the server's upstream client, used by relayed calls (the
	// provider adapters hold the same client).
	HTTPClient *http.Client
	// OrgKeys serves organizations' own provider keys (nil: none are used).
	OrgKeys *orgkeys.Cache
	// Metrics receives per-request and per-attempt observations (nil: none).
	Metrics *metrics.Metrics

	UpstreamTimeout       time.Duration
	UpstreamStreamTimeout time.Duration
	// UpstreamFirstByte bounds how long a stream may take to produce its first chunk.
	UpstreamFirstByte time.Duration
	// LowUptimeFallback is the uptime (percent) under which a pinned
	// provider's requests go to the best other provider first (seed
	// "Low-Uptime Protection"; LOW_UPTIME_FALLBACK_THRESHOLD, 0 disables).
	LowUptimeFallback float64
	// OnClientDisconnect is GATEWAY_ON_CLIENT_DISCONNECT: "cancel" (default) or "drain".
	OnClientDisconnect string
	// MaxAttempts bounds upstream attempts per request (1 + retries).
	MaxAttempts int
	// BillingEnabled refuses models whose price is unknown.
	BillingEnabled bool
	// TrustedProxies may set X-Forwarded-For (see clientIP).
	TrustedProxies []netip.Prefix
	// HasPurchasedCredits tells the free-model limit tier (billing mode); served from a cache.
	HasPurchasedCredits func(ctx context.Context, orgID string) (bool, error)
}

// Gateway serves the OpenAI-compatible endpoints.
type Gateway struct {
	Deps
	// base is cancelled when shutdown's grace period is over: in-flight upstream
	// calls then end, and their partial usage is still logged.
	base context.Context
	stop context.CancelFunc
	// relayClient is HTTPClient without redirects (relay.go).
	relayClient *http.Client
	inflight    sync.WaitGroup
}

// New builds a gateway.
func New(d Deps) *Gateway {
	if d.MaxAttempts <= 0 {
		d.MaxAttempts = 3
	}
	if d.UpstreamTimeout <= 0 {
		d.UpstreamTimeout = 10 * time.Minute
	}
	if d.UpstreamStreamTimeout <= 0 {
		d.UpstreamStreamTimeout = 20 * time.Minute
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Gateway{Deps: d, base: ctx, stop: cancel, relayClient: relayClientOf(d.HTTPClient)}
}

// Abort cancels every in-flight upstream call and waits (up to ctx) for their
// handlers to finish logging. Called after the shutdown grace period.
func (g *Gateway) Abort(ctx context.Context) {
	g.stop()
	done := make(chan struct{})
	go func() { g.inflight.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// Wait waits (up to ctx) for in-flight streams to finish on their own.
func (g *Gateway) Wait(ctx context.Context) bool {
	done := make(chan struct{})
	go func() { g.inflight.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}
