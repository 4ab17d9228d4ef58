package cli

import (
	"context"
	"encoding/json"
	"flag"
	"io"

	"github.com/llmgw/gateway/app/keys"
	"github.com/llmgw/gateway/app/provision"
	"github.com/llmgw/gateway/app/store"
)

// setup creates (or reuses) the user's organization and default project and
// prints fresh keys as JSON. It works while a gateway is running on the same
// database: the gateway picks the new key up on its first use.
func setup(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("setup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	email := fs.String("email", "", "email of the organization owner")
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
	svc := &provision.Service{DB: db.DB, Hasher: keys.NewHasher(cfg.KeyHashSecret)}
	res, err := svc.Setup(context.Background(), *email)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	return enc.Encode(res)
}
