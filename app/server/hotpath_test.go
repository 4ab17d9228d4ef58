package server_test

import (
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/valyala/fasthttp"
	"gorm.io/gorm"

	"github.com/llmgw/gateway/models"
)

// nopSink stands in for the request-log writer: its (asynchronous, batched)
// queries are not the request path's.
type nopSink struct{ n atomic.Int64 }

func (s *nopSink) Enqueue(*models.RequestLog) bool { s.n.Add(1); return true }

// countQueries counts every statement the gateway's database handle runs.
func countQueries(db *gorm.DB) *atomic.Int64 {
	var n atomic.Int64
	inc := func(*gorm.DB) { n.Add(1) }
	cb := db.Callback()
	_ = cb.Query().Before("gorm:query").Register("test:count", inc)
	_ = cb.Create().Before("gorm:create").Register("test:count", inc)
	_ = cb.Update().Before("gorm:update").Register("test:count", inc)
	_ = cb.Delete().Before("gorm:delete").Register("test:count", inc)
	_ = cb.Row().Before("gorm:row").Register("test:count", inc)
	_ = cb.Raw().Before("gorm:raw").Register("test:count", inc)
	return &n
}

// governedKey makes a key with IAM rules, a rate limit and a spend limit.
func governedKey(t testing.TB, h *harness) string {
	mk := h.setup.MasterKey
	_, k := h.call("POST", "/v1/master/keys", mk, `{"projectId":"`+h.setup.ProjectID+`","description":"governed","usageLimit":"100","rateLimitRpm":10000000,"rateLimitTpm":2000000000}`)
	key := k["apiKey"].(map[string]any)
	for _, rule := range []string{
		`{"ruleType":"allow_models","ruleValue":{"models":["test/echo"]}}`,
		`{"ruleType":"allow_ip_cidrs","ruleValue":{"ipCidrs":["127.0.0.0/8","::1/128"]}}`,
		`{"ruleType":"allow_pricing","ruleValue":{"pricingType":"free"}}`,
	} {
		if st, r := h.call("POST", "/v1/master/keys/"+key["id"].(string)+"/iam", mk, rule); st != 201 {
			t.Fatalf("rule: %d %v", st, r)
		}
	}
	return key["token"].(string)
}

func hotRequest(t testing.TB, client *http.Client, base, token string) {
	req, _ := http.NewRequest("POST", base+"/v1/chat/completions",
		strings.NewReader(`{"model":"test/echo","messages":[{"role":"user","content":"hello there"}]}`))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

// TestHotPathMakesNoDatabaseQueries: with the key in memory, authentication,
// IAM rules, rate limits and spend limits answer without the database.
func TestHotPathMakesNoDatabaseQueries(t *testing.T) {
	h := startGateway(t, "sqlite", map[string]string{"GATEWAY_KEY_POLL_INTERVAL": "1h"})
	token := governedKey(t, h)
	sink := &nopSink{}
	h.srv.Gateway.Logs = sink
	hotRequest(t, http.DefaultClient, h.base, token) // warm-up (tokenizer, connections)
	queries := countQueries(h.srv.DB.DB)
	for i := 0; i < 200; i++ {
		hotRequest(t, http.DefaultClient, h.base, token)
	}
	if n := queries.Load(); n != 0 {
		t.Fatalf("%d database queries for 200 governed requests", n)
	}
	if sink.n.Load() != 201 {
		t.Fatalf("log rows enqueued = %d", sink.n.Load())
	}
}

// BenchmarkGovernedRequest measures a full request (HTTP, auth, IAM, limits,
// routing, the test provider, metering) and reports database queries per request.
func BenchmarkGovernedRequest(b *testing.B) {
	h := startGatewayB(b)
	token := governedKey(b, h)
	h.srv.Gateway.Logs = &nopSink{}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	hotRequest(b, client, h.base, token)
	queries := countQueries(h.srv.DB.DB)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		hotRequest(b, client, h.base, token)
	}
	b.ReportMetric(float64(queries.Load())/float64(b.N), "db-queries/op")
}

// BenchmarkHotPath runs the gateway's handler on a fasthttp.RequestCtx in
// memory: no socket, no HTTP client, so time and allocations per op are the
// gateway's own. One op is parse -> auth -> IAM rules and limits -> route ->
// the in-process test provider -> metering -> serialize, for a governed key;
// request-log rows go to a no-op sink (their batched writes are off the
// request path).
func BenchmarkHotPath(b *testing.B) {
	for _, bc := range []struct{ name, body string }{
		{"chat", `{"model":"test/echo","messages":[{"role":"user","content":"hello there"}]}`},
		{"chat-stream", `{"model":"test/echo","stream":true,"messages":[{"role":"user","content":"hello there"}]}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h := startGatewayB(b)
			token := governedKey(b, h)
			h.srv.Gateway.Logs = &nopSink{}
			handler := h.srv.App.Handler()
			var req fasthttp.Request
			req.Header.SetMethod("POST")
			req.SetRequestURI("/v1/chat/completions")
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.SetContentType("application/json")
			var ctx fasthttp.RequestCtx
			ctx.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}, nil)
			body := []byte(bc.body)
			one := func() {
				ctx.Response.Reset()
				ctx.Request.SetBody(body)
				handler(&ctx)
				if ctx.Response.StatusCode() != 200 {
					b.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
				}
				_ = ctx.Response.Body() // a stream is read out here, as the server would write it
			}
			one()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				one()
			}
		})
	}
}
