package server

import (
	"net"
	"net/http"
	"time"

	"github.com/llmgw/gateway/app/config"
)

// upstreamClient is the one HTTP client of every upstream call. Connection reuse
// matters more than anything else on the hot path, so the idle pool is large.
// There is no client-wide timeout: each call carries its own deadline (plain vs
// streaming), and the first-byte limit of streams is applied by the gateway.
func upstreamClient(cfg *config.Config) *http.Client {
	dialer := &net.Dialer{Timeout: cfg.UpstreamConnect, KeepAlive: 30 * time.Second}
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          2048,
		MaxIdleConnsPerHost:   1024,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   cfg.UpstreamConnect,
		ExpectContinueTimeout: time.Second,
	}}
}
