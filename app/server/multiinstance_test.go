package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/llmgw/gateway/app/fakeupstream"
	"github.com/llmgw/gateway/app/store/storetest"
)

// gatewayBinary builds the gateway once per test run.
func gatewayBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gateway")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = "../.."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
}

type process struct {
	base string
	cmd  *exec.Cmd
	logs *bytes.Buffer
}

func startProcess(t *testing.T, bin string, env []string) *process {
	t.Helper()
	port := freePort(t)
	p := &process{base: "http://127.0.0.1:" + port, logs: &bytes.Buffer{}}
	p.cmd = exec.Command(bin, "serve")
	p.cmd.Env = append(append(os.Environ(), env...), "PORT="+port)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			p.cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("gateway %s output:\n%s", p.base, p.logs.String())
		}
	})
	for i := 0; i < 200; i++ {
		if resp, err := http.Get(p.base + "/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("gateway did not start:\n%s", p.logs.String())
	return nil
}

func (p *process) do(t *testing.T, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, p.base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, out
}

// cacheStatus makes a chat request and returns its X-LLMGateway-Cache header.
func (p *process) cacheStatus(t *testing.T, token, body string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", p.base+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("cached request: %d", resp.StatusCode)
	}
	return resp.Header.Get("X-LLMGateway-Cache")
}

// TestTwoInstancesShareLimitsAndRevocations runs two gateway processes on one
// PostgreSQL database and one Redis: the response cache, a rate limit, a spend
// limit and a key revocation hold across both. Polling is slowed to an hour,
// so changes can only travel over Redis.
func TestTwoInstancesShareLimitsAndRevocations(t *testing.T) {
	bin := gatewayBinary(t)
	fake := fakeupstream.New()
	t.Cleanup(fake.Close)
	dbURL, _ := storetest.NewDatabase(t, "postgres")
	env := []string{"DATABASE_URL=" + dbURL, "REDIS_URL=redis://127.0.0.1:6379/0", "AUTH_SECRET=two-instances",
		"GATEWAY_API_KEY_HASH_SECRET=two-instances-hash", "LLM_OPENAI_API_KEY=sk-up", "LLM_OPENAI_BASE_URL=" + fake.URL,
		"GATEWAY_KEY_POLL_INTERVAL=1h", "GATEWAY_SHUTDOWN_GRACE=1s"}
	setup := exec.Command(bin, "setup", "--email", "ops@example.com")
	setup.Env = append(os.Environ(), env...)
	out, err := setup.Output()
	if err != nil {
		t.Fatalf("setup: %v", err)
	}
	var creds map[string]string
	if err := json.Unmarshal(out, &creds); err != nil {
		t.Fatalf("setup output %q", out)
	}
	a, b := startProcess(t, bin, env), startProcess(t, bin, env)
	mk := creds["masterKey"]
	chat := `{"model":"gpt-4o-mini","max_tokens":4,"messages":[{"role":"user","content":"hi"}]}`

	// Keys created on A are known to B at once (B never saw them: cache miss, then DB).
	_, k := a.do(t, "POST", "/v1/master/keys", mk, `{"projectId":"`+creds["projectId"]+`","description":"rpm","rateLimitRpm":3}`)
	rpmKey := k["apiKey"].(map[string]any)["token"].(string)
	codes := []int{}
	for _, p := range []*process{a, b, a, b} {
		st, _ := p.do(t, "POST", "/v1/chat/completions", rpmKey, chat)
		codes = append(codes, st)
	}
	if fmt.Sprint(codes) != "[200 200 200 429]" {
		t.Fatalf("rate limit across instances: %v", codes)
	}

	// Spend limit covering two requests (4,050 nano-USD each), requests alternating.
	_, k = a.do(t, "POST", "/v1/master/keys", mk, `{"projectId":"`+creds["projectId"]+`","description":"spend","usageLimit":"0.0000081"}`)
	spendKey := k["apiKey"].(map[string]any)["token"].(string)
	codes = codes[:0]
	for _, p := range []*process{a, b, a, b} {
		st, _ := p.do(t, "POST", "/v1/chat/completions", spendKey, chat)
		codes = append(codes, st)
	}
	if fmt.Sprint(codes) != "[200 200 402 402]" {
		t.Fatalf("spend limit across instances: %v", codes)
	}

	// Caching turned on through A: an answer A stored is a hit on B, with
	// no upstream call.
	if st, r := a.do(t, "PATCH", "/v1/master/projects/"+creds["projectId"], mk, `{"cachingEnabled":true,"cacheDurationSeconds":300}`); st != 200 {
		t.Fatalf("enable caching: %d %v", st, r)
	}
	cached := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"shared across instances"}]}`
	if st, _ := a.do(t, "POST", "/v1/chat/completions", creds["apiKey"], cached); st != 200 {
		t.Fatalf("first cached request: %d", st)
	}
	// A writes the entry to Redis in the background: once A itself answers
	// HIT, the entry is in Redis, and B must find it there.
	stored := false
	for deadline := time.Now().Add(3 * time.Second); !stored && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		stored = a.cacheStatus(t, creds["apiKey"], cached) == "HIT"
	}
	calls := len(fake.Requests())
	if st := b.cacheStatus(t, creds["apiKey"], cached); !stored || st != "HIT" || len(fake.Requests()) != calls {
		t.Fatalf("B did not answer from A's cache entry (A stored %v, B %q, upstream calls %d -> %d)", stored, st, calls, len(fake.Requests()))
	}

	// Revocation: deactivate on A, refused on B right away (over pub/sub).
	if st, _ := b.do(t, "POST", "/v1/chat/completions", creds["apiKey"], chat); st != 200 {
		t.Fatalf("before revocation: %d", st)
	}
	_, keys := a.do(t, "GET", "/v1/master/keys", mk, "")
	var defaultID string
	for _, x := range keys["apiKeys"].([]any) {
		if m := x.(map[string]any); m["description"] == "Default key" {
			defaultID = m["id"].(string)
		}
	}
	if st, _ := a.do(t, "DELETE", "/v1/master/keys/"+defaultID, mk, ""); st != 200 {
		t.Fatalf("delete: %d", st)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		st, _ := b.do(t, "POST", "/v1/chat/completions", creds["apiKey"], chat)
		if st == 401 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("B still accepts a key deleted on A: %d", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
