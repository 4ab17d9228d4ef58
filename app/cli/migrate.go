package cli

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/llmgw/gateway/app/store"
)

func migrate(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := newLogger(stderr)
	cfg, err := loadConfig(log)
	if err != nil {
		return err
	}
	db, err := store.Open(cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := store.Migrate(db); err != nil {
		return err
	}
	cur, latest, err := store.Version(context.Background(), db)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "database schema at version %d (latest %d)\n", cur, latest)
	return nil
}
