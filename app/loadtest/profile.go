package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/pprof"
	"strconv"
	"time"

	"github.com/llmgw/gateway/app/config"
	"github.com/llmgw/gateway/app/provision"
	"github.com/llmgw/gateway/app/server"
)

// profileGateway runs scenario (b) against a gateway inside this process and
// writes a CPU profile (with -scenario d: the closed loop sends (d)'s large
// prompts). The gateway's goroutines carry the label role=gateway
// (goroutines inherit labels), so the load generator can be filtered out:
//
//	go tool pprof -top -tagfocus=role=gateway cpu.out
func profileGateway(ctx context.Context, o options) error {
	tmp, err := os.MkdirTemp("", "gw-profile-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	db, err := createBenchDB(ctx, o.pg)
	if err != nil {
		return err
	}
	defer db.drop()
	mockProc, err := startRole(tmp, "mock", "-tokens", strconv.Itoa(o.tokens))
	if err != nil {
		return err
	}
	defer mockProc.stop(5 * time.Second)

	env := newGatewayEnv(db.url, tmp).with(map[string]string{"LLM_OPENAI_BASE_URL": mockProc.url})
	cfg, err := config.LoadFrom(func(k string) string { return env[k] })
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var srv *server.Server
	served := make(chan error, 1)
	pprof.Do(ctx, pprof.Labels("role", "gateway"), func(ctx context.Context) {
		if srv, err = server.New(ctx, cfg, log); err == nil {
			go func() { served <- srv.Serve(runCtx, ln) }()
		}
	})
	if err != nil {
		return err
	}
	res, err := (&provision.Service{DB: srv.DB.DB, Hasher: srv.Hasher, Cache: srv.Keys}).Setup(ctx, "bench@example.com")
	if err != nil {
		return err
	}
	b := &bench{apiKey: res.APIKey}
	body := chatBody(smallPrompt, false)
	if o.scenario == "d" {
		body = chatBody(bigPrompt(o.promptKB<<10), false)
	}
	req, base := b.request(body), "http://"+ln.Addr().String()
	client := newClient()
	progress("profile: warm-up %s, then %s of %d closed-loop workers", o.warmup, o.duration, o.workers)
	attack(ctx, client, base, req, 0, o.workers, o.warmup)

	f, err := os.Create(o.profile)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return err
	}
	sum := summarize(attack(ctx, client, base, req, 0, o.workers, o.duration))
	pprof.StopCPUProfile()
	fmt.Printf("in-process gateway: %d requests, %.2f%% ok, %.0f req/s, p50 %s ms, p99 %s ms\n",
		sum.n, sum.successPct(), sum.rps(), ms(sum.lat.pct(50)), ms(sum.lat.pct(99)))
	fmt.Printf("CPU profile: %s\n  go tool pprof -top -tagfocus=role=gateway %s\n", o.profile, o.profile)
	cancel()
	return <-served
}
