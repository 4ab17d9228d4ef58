package server_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/llmgw/gateway/app/config"
	"github.com/llmgw/gateway/app/fakeupstream"
	"github.com/llmgw/gateway/app/provision"
	"github.com/llmgw/gateway/app/server"
	"github.com/llmgw/gateway/app/store/storetest"
	"github.com/llmgw/gateway/models"
)

// harness is a real gateway listening on loopback, in front of a fake OpenAI
// upstream, with a provisioned API key and an official OpenAI SDK client.
type harness struct {
	t      testing.TB
	srv    *server.Server
	base   string // http://127.0.0.1:port
	fake   *fakeupstream.Server
	prov   *provision.Service
	setup  *provision.SetupResult
	client openai.Client
	stop   func()
	dbURL  string
	dbDir  string
}

const modelsFile = `
providers:
  - {id: dead, baseUrl: "http://127.0.0.1:1"}
  - {id: acme, baseUrl: "ACME_URL", apiKey: "sk-acme"}
models:
  - id: my-chat
    name: My chat
    providers:
      - {provider: acme, model: my-chat-v1, inputPrice: 0.10, outputPrice: 0.40}
  - id: unpriced-chat
    name: Unpriced chat
    providers:
      - {provider: openai, model: unpriced-upstream}
`

func startGateway(t *testing.T, dialect string, env map[string]string) *harness {
	return startGatewayTB(t, dialect, env)
}

// startGatewayB starts an embedded-database gateway for a benchmark.
func startGatewayB(b *testing.B) *harness {
	return startGatewayTB(b, "sqlite", map[string]string{"GATEWAY_KEY_POLL_INTERVAL": "1h"})
}

func startGatewayTB(t testing.TB, dialect string, env map[string]string) *harness {
	t.Helper()
	fake := fakeupstream.New()
	t.Cleanup(fake.Close)
	dbURL, dataDir := storetest.NewDatabase(t, dialect)
	mf := filepath.Join(t.TempDir(), "models.yaml")
	if err := os.WriteFile(mf, []byte(strings.ReplaceAll(modelsFile, "ACME_URL", fake.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{
		"DATABASE_URL":                        dbURL,
		"DATA_DIR":                            dataDir,
		"AUTH_SECRET":                         "test-auth-secret",
		"GATEWAY_API_KEY_HASH_SECRET":         "test-hash-secret",
		"LLM_OPENAI_API_KEY":                  "sk-upstream-test",
		"LLM_OPENAI_BASE_URL":                 fake.URL,
		"GATEWAY_MODELS_FILE":                 mf,
		"GATEWAY_UPSTREAM_TIMEOUT":            "2s",
		"GATEWAY_UPSTREAM_FIRST_BYTE_TIMEOUT": "2s",
		"GATEWAY_SHUTDOWN_GRACE":              "2s",
		"EXPLORATION_RATE":                    "0", // routing decisions must be deterministic in tests
	}
	for k, v := range env {
		vars[k] = strings.ReplaceAll(v, "FAKE", fake.URL)
	}
	cfg, err := config.LoadFrom(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx := context.Background()
	srv, err := server.New(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(runCtx, ln) }()
	var once sync.Once
	stop := func() { once.Do(func() { shutdown(t, cancel, done) }) }
	t.Cleanup(stop)

	prov := &provision.Service{DB: srv.DB.DB, Hasher: srv.Hasher, Cache: srv.Keys}
	res, err := prov.Setup(ctx, "dev@example.com")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	client := openai.NewClient(option.WithAPIKey(res.APIKey), option.WithBaseURL(base+"/v1"), option.WithMaxRetries(0))
	return &harness{t: t, srv: srv, base: base, fake: fake, prov: prov, setup: res, client: client, stop: stop, dbURL: dbURL, dbDir: dataDir}
}

func shutdown(t testing.TB, cancel func(), done chan error) {
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("shutdown: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("gateway did not shut down")
	}
}

// flushLogs waits until every enqueued log row is written.
func (h *harness) flushLogs() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.srv.Logs.Flush(ctx); err != nil {
		h.t.Fatal(err)
	}
}

// logs returns the request-log rows of a request id (one per upstream attempt).
// Rows are written asynchronously, a stream's only after its last event: wait
// (up to 2 s) for them to appear.
func (h *harness) logs(requestID string) []models.RequestLog {
	h.t.Helper()
	var rows []models.RequestLog
	for deadline := time.Now().Add(2 * time.Second); ; {
		h.flushLogs()
		if err := h.srv.DB.Where("request_id = ?", requestID).Order("created_at, id").Find(&rows).Error; err != nil {
			h.t.Fatal(err)
		}
		if len(rows) > 0 || time.Now().After(deadline) {
			return rows
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// post sends a raw request with the harness key.
func (h *harness) post(path, body string, headers ...string) *http.Response {
	h.t.Helper()
	req, _ := http.NewRequest("POST", h.base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+h.setup.APIKey)
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func forEachDialect(t *testing.T, fn func(t *testing.T, dialect string)) {
	for _, d := range storetest.Dialects() {
		t.Run(d, func(t *testing.T) { fn(t, d) })
	}
}

// writeModels appends models to the harness's models file and reloads it.
func writeModels(t *testing.T, h *harness, more string) {
	t.Helper()
	content := strings.ReplaceAll(modelsFile, "ACME_URL", h.fake.URL) + more
	if err := os.WriteFile(h.srv.Config.ModelsFile, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := h.srv.Reload(); err != nil {
		t.Fatal(err)
	}
}
