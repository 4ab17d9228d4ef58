package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/llmgw/gateway/app/config"
	"github.com/llmgw/gateway/app/provision"
	"github.com/llmgw/gateway/app/server"
)

// gw is a real gateway (server.New + Serve, as app/server's test harness and
// app/loadtest's profile mode start it) running inside this process on an
// embedded SQLite database in a temp DATA_DIR.
type gw struct {
	srv    *server.Server
	base   string // http://127.0.0.1:port
	apiKey string
	stop   func() error
}

// modelsFile declares the chaos upstreams as custom providers, each serving
// every model (under its own upstream model name and price).
func modelsFile(ups []*upstream) string {
	var b strings.Builder
	b.WriteString("providers:\n")
	for _, u := range ups {
		fmt.Fprintf(&b, "  - {id: %s, baseUrl: %q, apiKey: \"sk-chaos-%s\"}\n", u.id, u.url, u.id)
	}
	b.WriteString("models:\n")
	for mi, m := range modelIDs {
		fmt.Fprintf(&b, "  - id: %s\n    name: %s\n    providers:\n", m, m)
		for pi, u := range ups {
			// Prices differ per model so each model prefers another provider
			// while everything is healthy (chaos-large alpha, chaos-small bravo).
			price := 1 + 0.1*float64((pi-mi+len(ups))%len(ups))
			fmt.Fprintf(&b, "      - {provider: %s, model: %s-%s, inputPrice: %.2f, outputPrice: %.2f}\n", u.id, m, u.id, price, 2*price)
		}
	}
	return b.String()
}

func randomSecret() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// startGateway starts the gateway in front of the upstreams; extra overrides
// or adds environment variables. logTo receives the gateway's own log (nil:
// discarded).
func startGateway(ctx context.Context, dir string, ups []*upstream, o options, logTo io.Writer) (*gw, error) {
	mf := filepath.Join(dir, "models.yaml")
	if err := os.WriteFile(mf, []byte(modelsFile(ups)), 0o600); err != nil {
		return nil, err
	}
	env := map[string]string{
		"DATA_DIR":                            filepath.Join(dir, "data"),
		"AUTH_SECRET":                         randomSecret(),
		"GATEWAY_API_KEY_HASH_SECRET":         randomSecret(),
		"GATEWAY_MODELS_FILE":                 mf,
		"GATEWAY_UPSTREAM_FIRST_BYTE_TIMEOUT": o.firstByte.String(),
		"GATEWAY_UPSTREAM_TIMEOUT":            o.upstreamTimeout.String(),
		"GATEWAY_SHUTDOWN_GRACE":              "5s",
		"LOG_LEVEL":                           "warn",
		// EXPLORATION_RATE and the PREFERRED_PROVIDER_* settings keep their defaults.
	}
	for _, kv := range o.env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	if err := os.MkdirAll(env["DATA_DIR"], 0o700); err != nil {
		return nil, err
	}
	cfg, err := config.LoadFrom(func(k string) string { return env[k] })
	if err != nil {
		return nil, err
	}
	if logTo == nil {
		logTo = io.Discard
	}
	log := slog.New(slog.NewTextHandler(logTo, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := server.New(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = srv.Close()
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(runCtx, ln) }()
	stop := func() error {
		cancel()
		select {
		case err := <-served:
			return err
		case <-time.After(30 * time.Second):
			return fmt.Errorf("gateway did not shut down within 30s")
		}
	}
	res, err := (&provision.Service{DB: srv.DB.DB, Hasher: srv.Hasher, Cache: srv.Keys}).Setup(ctx, "chaos@example.com")
	if err != nil {
		_ = stop()
		return nil, err
	}
	return &gw{srv: srv, base: "http://" + ln.Addr().String(), apiKey: res.APIKey, stop: stop}, nil
}

// attemptsByRequest reads the request log: one row per upstream attempt.
func (g *gw) attemptsByRequest(ctx context.Context) (map[string]int, error) {
	fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := g.srv.Logs.Flush(fctx); err != nil {
		return nil, fmt.Errorf("flush request log: %w", err)
	}
	var rows []struct {
		RequestID string
		N         int
	}
	if err := g.srv.DB.WithContext(fctx).Raw("SELECT request_id, count(*) AS n FROM request_logs GROUP BY request_id").Scan(&rows).Error; err != nil {
		return nil, err
	}
	out := make(map[string]int, len(rows))
	for _, r := range rows {
		out[r.RequestID] = r.N
	}
	return out, nil
}

// routesOf reads the routing attempts the gateway logged for these requests,
// as "provider status error_type → ...; logged outcome status error_type".
func (g *gw) routesOf(ctx context.Context, ids []string) map[string]string {
	out := map[string]string{}
	if len(ids) == 0 {
		return out
	}
	var rows []struct {
		RequestID       string
		RoutingAttempts string
		Status          int
		ErrorType       string
	}
	if g.srv.DB.WithContext(ctx).Raw("SELECT request_id, routing_attempts, status, error_type FROM request_logs WHERE request_id IN ? AND retried = ?", ids, false).Scan(&rows).Error != nil {
		return out
	}
	for _, r := range rows {
		var info struct {
			Routing []struct {
				Provider   string `json:"provider"`
				StatusCode int    `json:"status_code"`
				ErrorType  string `json:"error_type"`
			} `json:"routing"`
		}
		if json.Unmarshal([]byte(r.RoutingAttempts), &info) != nil {
			continue
		}
		var parts []string
		for _, a := range info.Routing {
			parts = append(parts, fmt.Sprintf("%s %d %s", a.Provider, a.StatusCode, a.ErrorType))
		}
		out[r.RequestID] = fmt.Sprintf("%s; logged outcome %d %s", strings.Join(parts, " → "), r.Status, r.ErrorType)
	}
	return out
}
