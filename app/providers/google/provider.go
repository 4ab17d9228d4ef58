package google

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/llmgw/gateway/app/providers"
)

// maxResponseBody caps a successful non-streaming body (a large embeddings
// batch reaches tens of MiB; beyond this the upstream is broken).
const maxResponseBody = 256 << 20

// Provider implements providers.Provider for the Gemini API of Google AI
// Studio. It holds no per-upstream state: everything comes from the Target of
// each call, so one value serves every key and base URL concurrently.
type Provider struct {
	client *http.Client
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

// modelPath is the resource name of the model in a URL path. A bare id gets
// the "models/" collection; a name that already has one ("models/x",
// "tunedModels/y") is used as is.
func modelPath(model string) string {
	if !strings.Contains(model, "/") {
		model = "models/" + model
	}
	segs := strings.Split(model, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// endpoint builds {base}/v1beta/{model}:{method}. Target.BaseURL is the API
// root without the version segment, as for every provider.
func endpoint(t providers.Target, method string) string {
	return strings.TrimRight(t.BaseURL, "/") + "/v1beta/" + modelPath(t.Model) + ":" + method
}

// post sends body and returns the response when its status is 2xx. Any other
// outcome is a *providers.Error with the response body consumed and closed.
func (p *Provider) post(ctx context.Context, t providers.Target, method string, body []byte, accept string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint(t, method), bytes.NewReader(body))
	if err != nil {
		// Only a malformed BaseURL gets here: the upstream cannot be reached.
		return nil, &providers.Error{Kind: providers.KindConnection, Provider: t.Provider, Message: "invalid upstream URL", Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", accept)
	if t.APIKey != "" {
		// The header rather than ?key=: a key in the URL ends up in logs.
		req.Header.Set("x-goog-api-key", t.APIKey)
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
		// A redirect the client's policy did not follow, or a confused server.
		return nil, badResponse(t.Provider, fmt.Sprintf("unexpected HTTP status %d", resp.StatusCode), nil)
	}
	// A read error here still leaves the status, which is what matters.
	b, _, _ := readCapped(resp.Body, maxErrorBody)
	e := statusError(t.Provider, resp.StatusCode, b)
	if d, ok := parseRetryAfter(resp.Header.Get("Retry-After")); ok {
		e.RetryAfter = d // the header wins over the body's RetryInfo
	}
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
