package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"time"

	"github.com/llmgw/gateway/app/config"
	"github.com/llmgw/gateway/app/provision"
	"github.com/llmgw/gateway/app/server"
)

// chatBody0 is r with a non-streaming body (the warm-up of every profile).
func chatBody0(r request) request {
	r.body = bytes.Replace(r.body, []byte(`,"stream":true`), nil, 1)
	return r
}

// profileGateway runs a load against a gateway inside this process and writes
// a CPU profile: scenario (b)'s closed loop; with -scenario d the same loop
// sends (d)'s large prompts; with -scenario c, (c)'s concurrent streams. The
// gateway's goroutines carry the label role=gateway (goroutines inherit
// labels), so the load generator can be filtered out:
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
	mockArgs := []string{"-tokens", strconv.Itoa(o.tokens)}
	if o.scenario == "c" {
		mockArgs = append(mockArgs, "-latency", o.latency.String(), "-chunk-delay", o.chunkDelay.String(),
			"-stream-tokens", strconv.Itoa(o.streamTokens))
	}
	mockProc, err := startRole(tmp, "mock", mockArgs...)
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
	b := &bench{opts: o, apiKey: res.APIKey, master: res.MasterKey}
	base := "http://" + ln.Addr().String()
	features, err := b.configureKey(base)
	if err != nil {
		return err
	}
	progress("%s", features)
	body := chatBody(smallPrompt, false)
	switch o.scenario {
	case "c":
		body = chatBody(smallPrompt, true)
	case "d":
		body = chatBody(bigPrompt(o.promptKB<<10), false)
	}
	req := b.request(body)
	client := newClient()
	progress("profile: warm-up %s, then the measured load", o.warmup)
	attack(ctx, client, base, chatBody0(req), 0, o.workers, o.warmup)

	f, err := os.Create(o.profile)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return err
	}
	if o.scenario == "c" {
		sr := streams(ctx, client, base, req, o.streams, o.ramp)
		pprof.StopCPUProfile()
		sum, ttfb, gaps := summarize(sr.samples), sortedOf(sr.ttfb), sortedOf(sr.gaps)
		fmt.Printf("in-process gateway: %d streams, %.2f%% ok, TTFB p50 %s ms, p99 %s ms, gap p50 %s ms, p99 %s ms\n",
			sum.n, sum.successPct(), ms(ttfb.pct(50)), ms(ttfb.pct(99)), ms(gaps.pct(50)), ms(gaps.pct(99)))
	} else {
		sum := summarize(attack(ctx, client, base, req, 0, o.workers, o.duration))
		pprof.StopCPUProfile()
		fmt.Printf("in-process gateway: %d requests, %.2f%% ok, %.0f req/s, p50 %s ms, p99 %s ms\n",
			sum.n, sum.successPct(), sum.rps(), ms(sum.lat.pct(50)), ms(sum.lat.pct(99)))
	}
	fmt.Printf("CPU profile: %s\n  go tool pprof -top -tagfocus=role=gateway %s\n", o.profile, o.profile)
	// The live heap is what every GC cycle marks: its size sets their cost.
	runtime.GC()
	if hf, err := os.Create(o.profile + ".heap"); err == nil {
		_ = pprof.Lookup("heap").WriteTo(hf, 0)
		hf.Close()
		fmt.Printf("heap profile: %s.heap\n  go tool pprof -sample_index=inuse_space -top %s.heap\n", o.profile, o.profile)
	}
	cancel()
	return <-served
}
