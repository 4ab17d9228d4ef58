package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// buildGateway compiles the gateway of this checkout into dir.
func buildGateway(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	if root == "." || root == "" {
		return "", fmt.Errorf("run the benchmark inside the gateway's module (or pass -gateway-bin)")
	}
	bin := filepath.Join(dir, "gateway")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build gateway: %w\n%s", err, b)
	}
	return bin, nil
}

// gatewayEnv is the gateway's whole environment (nothing is inherited but
// PATH and HOME, so a developer's LLM_* or REDIS_URL cannot skew a run).
type gatewayEnv map[string]string

func newGatewayEnv(databaseURL, dataDir string) gatewayEnv {
	e := gatewayEnv{
		"PATH":                        os.Getenv("PATH"),
		"HOME":                        os.Getenv("HOME"),
		"DATABASE_URL":                databaseURL,
		"DATA_DIR":                    dataDir,
		"AUTH_SECRET":                 randomSecret(),
		"GATEWAY_API_KEY_HASH_SECRET": randomSecret(),
		"LLM_OPENAI_API_KEY":          "sk-bench",
		"GATEWAY_SHUTDOWN_GRACE":      "10s",
		"LOG_LEVEL":                   "warn",
	}
	// The Go runtime's knobs do pass, to measure their effect, and the
	// pprof listener, to profile the gateway during a run.
	for _, k := range []string{"GOGC", "GOMEMLIMIT", "GODEBUG", "GOMAXPROCS", "GATEWAY_PPROF_ADDR"} {
		if v, ok := os.LookupEnv(k); ok {
			e[k] = v
		}
	}
	return e
}

func (e gatewayEnv) with(kv map[string]string) gatewayEnv {
	out := gatewayEnv{}
	for k, v := range e {
		out[k] = v
	}
	for k, v := range kv {
		out[k] = v
	}
	return out
}

func (e gatewayEnv) list() []string {
	var l []string
	for k, v := range e {
		l = append(l, k+"="+v)
	}
	return l
}

func randomSecret() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// provisionKey runs `gateway setup` on the bench database and returns the API
// key and the master key.
func provisionKey(ctx context.Context, bin string, env gatewayEnv) (apiKey, masterKey string, err error) {
	cmd := exec.CommandContext(ctx, bin, "setup", "--email", "bench@example.com")
	cmd.Env = env.list()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", "", fmt.Errorf("gateway setup: %w\n%s", err, stderr.String())
	}
	var res struct {
		APIKey    string `json:"apiKey"`
		MasterKey string `json:"masterKey"`
	}
	if err := json.Unmarshal(out, &res); err != nil || res.APIKey == "" {
		return "", "", fmt.Errorf("gateway setup printed no apiKey: %s", out)
	}
	return res.APIKey, res.MasterKey, nil
}

// startGateway runs the gateway binary with env on a free loopback port.
func startGateway(ctx context.Context, bin, logDir string, env gatewayEnv) (*child, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = env.with(map[string]string{"PORT": strconv.Itoa(port)}).list()
	c, err := startProcess("gateway", logDir, cmd)
	if err != nil {
		return nil, err
	}
	c.url = fmt.Sprintf("http://127.0.0.1:%d", port)
	if err := c.waitHealthy(ctx, "/health", 60*time.Second); err != nil {
		c.stop(time.Second)
		return nil, err
	}
	return c, nil
}

// logQueue is the request-log queue state the gateway reports on /health.
type logQueue struct {
	Pending int64 `json:"pending"`
	Dropped int64 `json:"dropped"`
}

func gatewayLogQueue(base string) (logQueue, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(base + "/health")
	if err != nil {
		return logQueue{}, err
	}
	defer resp.Body.Close()
	var h struct {
		LogQueue *logQueue `json:"logQueue"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		return logQueue{}, err
	}
	if h.LogQueue == nil {
		return logQueue{}, fmt.Errorf("/health reports no logQueue")
	}
	return *h.LogQueue, nil
}

// drainLogQueue waits until the gateway has no pending log rows and returns
// the final counters.
func drainLogQueue(base string, timeout time.Duration) (logQueue, error) {
	deadline := time.Now().Add(timeout)
	for {
		q, err := gatewayLogQueue(base)
		if err == nil && q.Pending == 0 || time.Now().After(deadline) {
			return q, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}
