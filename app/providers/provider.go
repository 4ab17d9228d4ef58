// Package providers defines the one interface every upstream adapter implements.
// Adapters translate the neutral schema (OpenAI format) to their wire format and
// back; nothing outside an adapter's package knows that format.
package providers

import (
	"context"

	"github.com/llmgw/gateway/app/schema"
)

// Target says where and as whom one upstream call is made.
type Target struct {
	Provider string // provider id, e.g. "openai", "acme"
	Model    string // the upstream's own model id
	BaseURL  string // API root without the version segment, e.g. https://api.openai.com
	APIKey   string
}

// Provider is an upstream adapter. Implementations must be safe for concurrent use.
type Provider interface {
	// Chat performs a non-streaming chat completion. The returned response's Usage
	// holds token counts as the upstream reported them (nil if it reported none).
	Chat(ctx context.Context, t Target, req *schema.ChatRequest) (*schema.ChatResponse, error)
	// ChatStream starts a streaming chat completion. The adapter asks the upstream
	// for usage in the stream where the protocol allows it.
	ChatStream(ctx context.Context, t Target, req *schema.ChatRequest) (ChatStream, error)
	// Embed computes embeddings. Adapters that cannot return ErrUnsupported.
	Embed(ctx context.Context, t Target, req *schema.EmbeddingRequest) (*schema.EmbeddingResponse, error)
}

// ChatStream yields chunks in the OpenAI chat.completion.chunk shape.
type ChatStream interface {
	// Recv returns the next chunk; io.EOF after the upstream ended the stream
	// cleanly. Any other error means the stream broke (an *Error).
	Recv() (*schema.ChatChunk, error)
	// Close releases the connection; safe to call more than once.
	Close() error
}
