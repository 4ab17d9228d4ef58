package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/llmgw/gateway/app/provision"
)

const masterKeysUsage = `Usage:
  gateway master-keys create --org ID [--name TEXT]
  gateway master-keys list --org ID
  gateway master-keys revoke ID
`

func masterKeysCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, masterKeysUsage)
		return errors.New("master-keys: a subcommand is required")
	}
	sub, rest := args[0], args[1:]
	if sub == "help" || sub == "-h" || sub == "--help" {
		fmt.Fprint(stdout, masterKeysUsage)
		return nil
	}
	fs := flag.NewFlagSet("master-keys "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	orgID := fs.String("org", "", "organization id")
	name := fs.String("name", "", "a name for the key")
	var id string
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		id, rest = rest[0], rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		return err
	}
	return withService(stderr, func(ctx context.Context, svc *provision.Service) error {
		switch sub {
		case "create":
			if *orgID == "" {
				return errors.New("master-keys create: --org is required")
			}
			mk, token, err := svc.AddMasterKey(ctx, *orgID, *name, provision.CLI)
			if err != nil {
				return err
			}
			return printJSON(stdout, map[string]any{"id": mk.ID, "organizationId": mk.OrganizationID, "name": mk.Name, "token": token})
		case "list":
			if *orgID == "" {
				return errors.New("master-keys list: --org is required")
			}
			mks, err := svc.ListMasterKeys(ctx, *orgID)
			if err != nil {
				return err
			}
			out := make([]map[string]any, len(mks))
			for i, mk := range mks {
				out[i] = map[string]any{"id": mk.ID, "name": mk.Name, "maskedToken": mk.MaskedToken, "status": mk.Status, "lastUsedAt": mk.LastUsedAt, "createdAt": mk.CreatedAt}
			}
			return printJSON(stdout, out)
		case "revoke":
			if id == "" {
				return errors.New("master-keys revoke: the master key id is required")
			}
			if err := svc.RevokeMasterKey(ctx, id, provision.CLI); err != nil {
				return err
			}
			fmt.Fprintln(stdout, "master key revoked")
			return nil
		}
		fmt.Fprint(stderr, masterKeysUsage)
		return fmt.Errorf("master-keys: unknown subcommand %q", sub)
	})
}
