// Package openai is the adapter for the OpenAI API and every upstream that
// speaks its wire format. Since the gateway's neutral schema is the OpenAI
// format, the adapter mostly forwards: it swaps in the upstream model id, asks
// for usage in streams, and classifies failures as *providers.Error.
package openai

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/llmgw/gateway/app/providers"
	"github.com/llmgw/gateway/app/providers/httpx"
)

// maxResponseBody caps a successful non-streaming body. Embeddings of a large
// batch in float format reach tens of MiB; beyond this the upstream is broken.
const maxResponseBody = 256 << 20

// Provider implements providers.Provider for OpenAI-compatible upstreams. It is
// safe for concurrent use and holds no per-upstream state: everything comes
// from the Target of each call.
type Provider struct {
	client *http.Client
	// azureVersion is the api-version of an Azure OpenAI adapter (see
	// NewAzure); "" for OpenAI and every other compatible upstream.
	azureVersion string
}

var _ providers.Provider = (*Provider)(nil)

// New returns an adapter sending requests with client, which stays owned by
// the caller (its timeouts, transport and redirect policy apply). A nil client
// means http.DefaultClient.
func New(client *http.Client) *Provider {
	if client == nil {
		client = http.DefaultClient
	}
	return &Provider{client: client}
}

func endpoint(t providers.Target, path string) string {
	return strings.TrimRight(t.BaseURL, "/") + path
}

// url is where the operation at path (chatPath, embeddingsPath) is served.
func (p *Provider) url(t providers.Target, path string) string {
	if p.azureVersion != "" {
		return azureEndpoint(t, path, p.azureVersion)
	}
	return endpoint(t, path)
}

// authorize sets the credentials of the upstream key, if any.
func (p *Provider) authorize(req *http.Request, key string) {
	switch {
	case key == "":
	case p.azureVersion != "":
		req.Header.Set("api-key", key)
	default:
		req.Header.Set("Authorization", "Bearer "+key)
	}
}

// post sends body and returns the response when its status is 2xx. Any other
// outcome is returned as a *providers.Error with the response body consumed
// and closed.
func (p *Provider) post(ctx context.Context, t providers.Target, path string, body []byte, accept string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url(t, path), bytes.NewReader(body))
	if err != nil {
		// Only a malformed BaseURL gets here: the upstream cannot be reached.
		return nil, &providers.Error{Kind: providers.KindConnection, Provider: t.Provider, Message: "invalid upstream URL", Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", accept)
	p.authorize(req, t.APIKey)
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, transportError(ctx, t.Provider, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	defer drainClose(resp.Body)
	if resp.StatusCode < 400 {
		// 1xx/3xx reaching us means a redirect was not followed (the client's
		// policy) or the server is confused; neither is an answer.
		return nil, badResponse(t.Provider, fmt.Sprintf("unexpected HTTP status %d", resp.StatusCode), nil)
	}
	// A read error here still leaves the status, which is what matters.
	b, _, _ := readCapped(resp.Body, maxErrorBody)
	e := statusError(t.Provider, resp.StatusCode, b)
	e.RetryAfter, _ = httpx.RetryAfter(resp.Header.Get("Retry-After"))
	return nil, e
}

// readAll reads a successful body completely and closes it.
func readAll(ctx context.Context, t providers.Target, resp *http.Response) ([]byte, error) {
	defer drainClose(resp.Body)
	b, truncated, err := readCapped(resp.Body, maxResponseBody)
	if err != nil {
		return nil, transportError(ctx, t.Provider, err)
	}
	if truncated {
		return nil, badResponse(t.Provider, "response body too large", nil)
	}
	return b, nil
}

// encodeError reports a request that cannot be encoded. The schema decoder
// only admits valid JSON, so this means a caller built an invalid request by
// hand; no upstream would accept it, hence a non-retryable 400.
func encodeError(t providers.Target, err error) *providers.Error {
	return &providers.Error{Kind: providers.KindStatus, Provider: t.Provider, Status: 400,
		Message: "The request could not be encoded: " + err.Error(), Err: err}
}
