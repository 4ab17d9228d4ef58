// Package anthropic translates between the gateway's neutral schema (the
// OpenAI Chat Completions format) and Anthropic's Messages API, both ways:
//
//   - Provider is the upstream adapter: it sends neutral chat requests to
//     Anthropic's POST /v1/messages and returns neutral answers and chunks.
//   - DecodeMessagesRequest, FromChatResponse, StreamEncoder and WriteError
//     serve the gateway's own Anthropic-compatible POST /v1/messages endpoint:
//     they turn Anthropic requests into neutral ones and neutral answers back
//     into Anthropic's wire format.
//
// Every translation decision (what is mapped, what is refused, what is
// dropped) is documented where it is made.
package anthropic

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/llmgw/gateway/app/providers"
	"github.com/llmgw/gateway/app/schema"
)

const (
	messagesPath = "/v1/messages"
	// apiVersion is the only stable Messages API version; the wire format
	// below is the one it defines.
	apiVersion = "2023-06-01"
	// DefaultMaxTokens is the max_tokens sent when neither the request nor
	// the Provider's DefaultMaxTokens function gives one. Anthropic requires
	// the field; 4096 is within every Claude model's output limit.
	DefaultMaxTokens = 4096
	// maxResponseBody caps a successful non-streaming body.
	maxResponseBody = 64 << 20
)

// Provider implements providers.Provider for Anthropic's Messages API. It is
// safe for concurrent use and holds no per-upstream state.
type Provider struct {
	client           *http.Client
	defaultMaxTokens func(upstreamModel string) int
}

var _ providers.Provider = (*Provider)(nil)

// New returns an adapter sending requests with client (nil means
// http.DefaultClient). Anthropic requires max_tokens on every request while
// OpenAI clients usually omit it; defaultMaxTokens gives the value to send
// then, per upstream model id (typically the model's maximum output from the
// catalog). A nil function, or one returning a value <= 0, means
// DefaultMaxTokens (4096).
func New(client *http.Client, defaultMaxTokens func(upstreamModel string) int) *Provider {
	if client == nil {
		client = http.DefaultClient
	}
	return &Provider{client: client, defaultMaxTokens: defaultMaxTokens}
}

func (p *Provider) maxTokensFor(model string) int {
	if p.defaultMaxTokens != nil {
		if n := p.defaultMaxTokens(model); n > 0 {
			return n
		}
	}
	return DefaultMaxTokens
}

// Embed implements providers.Provider: Anthropic has no embeddings API.
func (p *Provider) Embed(context.Context, providers.Target, *schema.EmbeddingRequest) (*schema.EmbeddingResponse, error) {
	return nil, providers.ErrUnsupported
}

// Chat implements providers.Provider.
func (p *Provider) Chat(ctx context.Context, t providers.Target, req *schema.ChatRequest) (*schema.ChatResponse, error) {
	body, pl, err := p.encode(t, req, false)
	if err != nil {
		return nil, err
	}
	resp, err := p.post(ctx, t, body, "application/json")
	if err != nil {
		return nil, err
	}
	defer drainClose(resp.Body)
	b, truncated, err := readCapped(resp.Body, maxResponseBody)
	if err != nil {
		return nil, transportError(ctx, t.Provider, err)
	}
	if truncated {
		return nil, badResponse(t.Provider, "response body too large", nil)
	}
	return decodeResponse(t.Provider, b, pl)
}

// encode translates and marshals the request.
func (p *Provider) encode(t providers.Target, req *schema.ChatRequest, stream bool) ([]byte, *plan, error) {
	ar, pl, err := translateRequest(t.Provider, req, t.Model, p.maxTokensFor(t.Model))
	if err != nil {
		return nil, nil, err
	}
	ar.Stream = stream
	body, err := json.Marshal(ar)
	if err != nil {
		// Only reachable with a hand-built request holding invalid raw JSON.
		return nil, nil, &providers.Error{Kind: providers.KindStatus, Provider: t.Provider, Status: 400,
			Message: "The request could not be encoded: " + err.Error(), Err: err}
	}
	return body, pl, nil
}

func endpoint(t providers.Target) string {
	return strings.TrimRight(t.BaseURL, "/") + messagesPath
}

// post sends body and returns the response when its status is 2xx. Any other
// outcome is a *providers.Error with the response body consumed and closed.
func (p *Provider) post(ctx context.Context, t providers.Target, body []byte, accept string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint(t), bytes.NewReader(body))
	if err != nil {
		return nil, &providers.Error{Kind: providers.KindConnection, Provider: t.Provider, Message: "invalid upstream URL", Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", accept)
	req.Header.Set("Anthropic-Version", apiVersion)
	if t.APIKey != "" {
		req.Header.Set("X-Api-Key", t.APIKey)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, transportError(ctx, t.Provider, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	defer drainClose(resp.Body)
	if resp.StatusCode < 400 {
		return nil, badResponse(t.Provider, fmt.Sprintf("unexpected HTTP status %d", resp.StatusCode), nil)
	}
	b, _, _ := readCapped(resp.Body, maxErrorBody)
	return nil, statusError(t.Provider, resp.StatusCode, resp.Header, b)
}
