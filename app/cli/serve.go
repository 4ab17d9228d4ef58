package cli

import (
	"context"
	"flag"
	"io"
	"time"

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
	s, err := server.New(context.Background(), cfg, log)
	if err != nil {
		return err
	}
	return s.Run()
}
