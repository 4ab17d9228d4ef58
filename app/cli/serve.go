package cli

import (
	"context"
	"flag"
	"io"

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
	s, err := server.New(context.Background(), cfg, log)
	if err != nil {
		return err
	}
	return s.Run()
}
