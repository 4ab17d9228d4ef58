// Package testprovider is the gateway's built-in "test" provider: free,
// keyless and deterministic, so that clients, SDKs and the gateway's own
// pipeline (auth, routing, streaming, usage, billing) can be exercised end to
// end without any upstream.
//
// Models:
//   - echo: answers "echo: <text of the last user message>". With tools in the
//     request and a last user message "call <name> <arguments>", it calls that
//     function instead. max_tokens / max_completion_tokens cut the answer to
//     that many words (finish_reason "length").
//   - embed: deterministic unit vectors (8 dimensions unless "dimensions" says
//     otherwise) derived from a SHA-256 of each input.
package testprovider

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/llmgw/gateway/app/providers"
)

// Model ids served by the provider.
const (
	ModelEcho  = "echo"
	ModelEmbed = "embed"
)

// Provider implements providers.Provider without any network.
type Provider struct {
	countTokens func(string) int

	// ChunkDelay, when set, is waited (cancellably) before every streamed chunk
	// but the first, to test slow streams, timeouts and client disconnects.
	// Zero by default. Set it before the provider is used.
	ChunkDelay time.Duration
}

var _ providers.Provider = (*Provider)(nil)

// New returns the test provider. countTokens computes every token count it
// reports; nil means WordCount.
func New(countTokens func(text string) int) *Provider {
	if countTokens == nil {
		countTokens = WordCount
	}
	return &Provider{countTokens: countTokens}
}

// WordCount counts whitespace-separated words, a stand-in tokenizer for tests.
func WordCount(text string) int { return len(strings.Fields(text)) }

// statusError builds the error an OpenAI-like upstream would return.
func statusError(t providers.Target, status int, msg, code, param string) *providers.Error {
	return &providers.Error{Kind: providers.KindStatus, Provider: t.Provider, Status: status,
		Message: msg, Type: "invalid_request_error", Code: code, Param: param}
}

func modelNotFound(t providers.Target) *providers.Error {
	return statusError(t, 404, fmt.Sprintf("The model `%s` does not exist", t.Model), "model_not_found", "model")
}

// ctxError reports a done context the way the HTTP adapters do.
func ctxError(ctx context.Context, t providers.Target) error {
	switch err := ctx.Err(); err {
	case nil:
		return nil
	case context.DeadlineExceeded:
		return &providers.Error{Kind: providers.KindTimeout, Provider: t.Provider, Message: "timed out", Err: err}
	default:
		return &providers.Error{Kind: providers.KindCancelled, Provider: t.Provider, Message: "request cancelled", Err: err}
	}
}

// newID returns prefix followed by random hex, unique across processes.
func newID(prefix string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}
