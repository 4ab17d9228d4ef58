// Command gateway is the LLM gateway: `gateway serve` (the default), `gateway
// setup --email ...`, `gateway migrate`. See README.md.
package main

import (
	"os"

	"github.com/llmgw/gateway/app/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
