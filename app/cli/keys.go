package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/llmgw/gateway/app/keys"
	"github.com/llmgw/gateway/app/pricing"
	"github.com/llmgw/gateway/app/provision"
	"github.com/llmgw/gateway/app/server"
	"github.com/llmgw/gateway/app/store"
	"github.com/llmgw/gateway/models"
)

const keysUsage = `Usage:
  gateway keys create --project ID --description TEXT [--usage-limit USD] [--expires-in 24h] [--rpm N] [--test]
  gateway keys list [--project ID] [--org ID]
  gateway keys update ID [--status active|inactive] [--description TEXT] [--usage-limit USD|none] [--expires-in DURATION|none]
  gateway keys roll ID
  gateway keys delete ID
`

// withService opens the configured database for a management command.
func withService(stderr io.Writer, fn func(ctx context.Context, svc *provision.Service) error) error {
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
	if cfg.RedisURL != "" { // running gateways learn of the change at once
		rc, err := server.OpenRedis(cfg.RedisURL)
		if err != nil {
			return err
		}
		defer rc.Close()
		svc.Notify = server.PublishKeyChange(rc)
	}
	return fn(context.Background(), svc)
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func keysCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, keysUsage)
		return errors.New("keys: a subcommand is required")
	}
	sub, rest := args[0], args[1:]
	if sub == "help" || sub == "-h" || sub == "--help" {
		fmt.Fprint(stdout, keysUsage)
		return nil
	}
	fs := flag.NewFlagSet("keys "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	project := fs.String("project", "", "project id")
	orgID := fs.String("org", "", "organization id")
	desc := fs.String("description", "", "description")
	status := fs.String("status", "", "active or inactive")
	limit := fs.String("usage-limit", "", "lifetime usage limit in USD, or none")
	expires := fs.String("expires-in", "", "time to live, e.g. 30m, 24h, 168h; or none")
	rpm := fs.Int("rpm", 0, "requests per minute limit")
	test := fs.Bool("test", false, "a test key: always answered by the built-in test provider, never billed")
	var id string
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		id, rest = rest[0], rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		return err
	}
	patch, err := cliPatch(*desc, *status, *limit, *expires, *rpm)
	if err != nil {
		return err
	}
	return withService(stderr, func(ctx context.Context, svc *provision.Service) error {
		org := func(keyID string) (string, error) { return svc.KeyOrganization(ctx, keyID) }
		switch sub {
		case "create":
			if *project == "" || *desc == "" {
				return errors.New("keys create: --project and --description are required")
			}
			o, err := svc.ProjectOrganization(ctx, *project)
			if err != nil {
				return fmt.Errorf("project %s: %w", *project, err)
			}
			k, token, err := svc.AddKey(ctx, o, provision.CLI, provision.NewKey{ProjectID: *project, Description: *desc, Test: *test, Patch: patch})
			if err != nil {
				return err
			}
			return printJSON(stdout, keyOut(k, token))
		case "list":
			o := *orgID
			if o == "" && *project != "" {
				if o, err = svc.ProjectOrganization(ctx, *project); err != nil {
					return err
				}
			}
			var ks []models.APIKey
			q := svc.DB.WithContext(ctx).Where("status <> ?", "deleted")
			if o != "" {
				q = q.Where("organization_id = ?", o)
			}
			if *project != "" {
				q = q.Where("project_id = ?", *project)
			}
			if err := q.Order("created_at").Find(&ks).Error; err != nil {
				return err
			}
			out := make([]map[string]any, len(ks))
			for i := range ks {
				out[i] = keyOut(&ks[i], "")
			}
			return printJSON(stdout, out)
		case "update", "roll", "delete":
			if id == "" {
				return fmt.Errorf("keys %s: the key id is required", sub)
			}
			o, err := org(id)
			if err != nil {
				return fmt.Errorf("key %s: %w", id, err)
			}
			switch sub {
			case "update":
				k, err := svc.UpdateKey(ctx, o, id, provision.CLI, patch)
				if err != nil {
					return err
				}
				return printJSON(stdout, keyOut(k, ""))
			case "roll":
				k, token, err := svc.RollKey(ctx, o, id, provision.CLI)
				if err != nil {
					return err
				}
				return printJSON(stdout, keyOut(k, token))
			default:
				if err := svc.DeleteKey(ctx, o, id, provision.CLI); err != nil {
					return err
				}
				fmt.Fprintln(stdout, "API key deleted")
				return nil
			}
		}
		fmt.Fprint(stderr, keysUsage)
		return fmt.Errorf("keys: unknown subcommand %q", sub)
	})
}

// cliPatch turns flags into a key patch ("none" clears a limit or expiry).
func cliPatch(desc, status, limit, expires string, rpm int) (provision.KeyPatch, error) {
	var p provision.KeyPatch
	if desc != "" {
		p.Description = provision.Val(desc)
	}
	if status != "" {
		if status != "active" && status != "inactive" {
			return p, errors.New("--status must be active or inactive")
		}
		p.Status = provision.Val(status)
	}
	switch limit {
	case "":
	case "none":
		p.UsageLimit = provision.Opt[int64]{Set: true, Null: true}
	default:
		n, err := pricing.ParseUSD(limit)
		if err != nil {
			return p, fmt.Errorf("--usage-limit %s", err)
		}
		p.UsageLimit = provision.Val(n)
	}
	switch expires {
	case "":
	case "none":
		p.ExpiresAt = provision.Opt[time.Time]{Set: true, Null: true}
	default:
		d, err := time.ParseDuration(expires)
		if err != nil || d <= 0 {
			return p, errors.New("--expires-in must be a positive duration such as 30m, 24h or 168h")
		}
		p.ExpiresAt = provision.Val(time.Now().Add(d).UTC())
	}
	if rpm > 0 {
		p.RateLimitRPM = provision.Val(rpm)
	}
	return p, nil
}

func keyOut(k *models.APIKey, token string) map[string]any {
	out := map[string]any{"id": k.ID, "projectId": k.ProjectID, "organizationId": k.OrganizationID, "description": k.Description,
		"status": k.Status, "maskedToken": k.MaskedToken, "test": k.Test, "usage": pricing.FormatUSD(k.Usage), "expiresAt": k.ExpiresAt}
	if k.UsageLimit != nil {
		out["usageLimit"] = pricing.FormatUSD(*k.UsageLimit)
	}
	if token != "" {
		out["token"] = token
	}
	return out
}
