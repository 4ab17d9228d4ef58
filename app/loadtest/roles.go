package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os/signal"
	"syscall"
	"time"

	"github.com/llmgw/gateway/app/loadtest/mock"
)

// runRole serves as one of the benchmark's helper processes until SIGTERM:
//
//	-role mock  -latency 20ms -tokens 16 -stream-tokens 100 -chunk-delay 50ms
//	-role proxy -upstream http://127.0.0.1:port
func runRole(role string, args []string) error {
	fs := flag.NewFlagSet(role, flag.ContinueOnError)
	var cfg mock.Config
	fs.DurationVar(&cfg.Latency, "latency", 0, "")
	fs.IntVar(&cfg.Tokens, "tokens", 16, "")
	fs.IntVar(&cfg.StreamTokens, "stream-tokens", 100, "")
	fs.DurationVar(&cfg.ChunkDelay, "chunk-delay", 0, "")
	upstream := fs.String("upstream", "", "")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var h http.Handler
	switch role {
	case "mock":
		h = mock.New(cfg)
	case "proxy":
		u, err := url.Parse(*upstream)
		if err != nil || u.Host == "" {
			return fmt.Errorf("proxy: -upstream must be a URL")
		}
		h = bareProxy(u)
	default:
		return fmt.Errorf("unknown role %q", role)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Println(ln.Addr().String())
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}

// bareProxy is the physical floor: one reverse-proxy hop, with the same
// connection pool sizes as the gateway's upstream client and nothing else.
func bareProxy(u *url.URL) http.Handler {
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        2048,
		MaxIdleConnsPerHost: 1024,
		IdleConnTimeout:     90 * time.Second,
	}
	return rp
}
