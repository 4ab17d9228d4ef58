package cli

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
	"time"

	"github.com/llmgw/gateway/app/gctune"
	"github.com/llmgw/gateway/app/tracing"

	"github.com/llmgw/gateway/app/server"
)

func serve(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := newLogger(stderr)
	cfg, err := loadConfig(log)
	if err != nil {
		return err
	}
	shutdownTracing, err := tracing.Setup(context.Background(), "llm-gateway", server.Version)
	if err != nil {
		return err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = shutdownTracing(ctx)
	}()
	// GOGC=off means the operator manages collection: leave it alone.
	if os.Getenv("GOGC") != "off" {
		defer gctune.Start(int64(cfg.GCMinHeapMB)<<20, gctune.CurrentPercent()).Stop()
	}
	if cfg.PprofAddr != "" {
		servePprof(cfg.PprofAddr, log)
	}
	s, err := server.New(context.Background(), cfg, log)
	if err != nil {
		return err
	}
	return s.Run()
}

// servePprof serves the Go runtime's profiles on their own listener, apart
// from the public app, for operators chasing CPU or memory on a live
// instance.
func servePprof(addr string, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	go func() {
		srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		if err := srv.ListenAndServe(); err != nil {
			log.Error("pprof listener", "addr", addr, "error", err)
		}
	}()
	log.Info("pprof listening", "addr", addr)
}
