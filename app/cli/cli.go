// Package cli is the command line: one file per subcommand; this file only
// dispatches.
package cli

import (
	"fmt"
	"github.com/llmgw/gateway/app/logging"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/llmgw/gateway/app/config"
)

const usage = `LLM gateway: an OpenAI-compatible gateway in front of every LLM provider.

Usage:
  gateway [command] [flags]

Commands:
  serve     Run the gateway (the default when no command is given)
  setup     Create an organization, project, master key and API key:
              gateway setup --email you@example.com
  migrate   Apply database migrations and print the schema version
  keys      Manage gateway API keys: create | list | update | roll | delete
  master-keys  Manage master keys: create | list | revoke
  help      Show this help

Configuration comes from the environment; see README.md for every variable.
`

// Main runs the command line and returns the process exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	cmd, rest := "serve", args
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, rest = args[0], args[1:]
	}
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		cmd = "help"
	}
	var err error
	switch cmd {
	case "serve":
		err = serve(rest, stderr)
	case "setup":
		err = setup(rest, stdout, stderr)
	case "migrate":
		err = migrate(rest, stdout, stderr)
	case "keys":
		err = keysCmd(rest, stdout, stderr)
	case "master-keys":
		err = masterKeysCmd(rest, stdout, stderr)
	case "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return 1
	}
	return 0
}

// loadConfig reads the environment and the secrets (generated in embedded mode).
func loadConfig(log *slog.Logger) (*config.Config, error) {
	cfg, err := config.Load()
	if err != nil {
		return nil, err
	}
	if err := cfg.EnsureSecrets(); err != nil {
		return nil, err
	}
	for _, name := range cfg.GeneratedSecrets {
		log.Warn(name+" is not set: using a generated secret persisted under "+cfg.DataDir+"; set it explicitly for production", "secret", name)
	}
	return cfg, nil
}

// newLogger builds the process logger from LOG_LEVEL / LOG_FORMAT. Its
// handler masks keys, tokens and prompt fields (app/logging). An invalid
// setting falls back to the default and says so.
func newLogger(w io.Writer) *slog.Logger {
	log, err := logging.New(w, envOr("LOG_LEVEL", "info"), envOr("LOG_FORMAT", "text"))
	if err != nil {
		log, _ = logging.New(w, "info", "text")
		log.Warn("invalid logging settings, using info/text", "error", err)
	}
	return log
}

func envOr(k, d string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return d
}
