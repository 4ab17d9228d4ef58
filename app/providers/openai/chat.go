package openai

import (
	"context"
	"encoding/json"

	"github.com/llmgw/gateway/app/providers"
	"github.com/llmgw/gateway/app/schema"
)

const chatPath = "/v1/chat/completions"

// chatBody encodes the request as the upstream must see it (see dialect.go
// for what changes for upstreams other than OpenRouter). The struct is
// copied so the caller's request is never mutated (it may be retried against
// another provider); the slices and maps it shares are only read. Errors are
// *providers.Error.
func (p *Provider) chatBody(t providers.Target, req *schema.ChatRequest, stream bool) ([]byte, error) {
	r := *req
	r.Model = t.Model
	r.Stream = stream
	if !p.takesExtensions(t) {
		if err := toChatCompletions(t.Provider, &r); err != nil {
			return nil, err
		}
	}
	if stream {
		// Always ask for usage: the gateway bills from it. The final chunk then
		// has empty choices, which clients that asked for it expect anyway and
		// the gateway can drop for those that did not.
		r.StreamOptions = &schema.StreamOptions{IncludeUsage: true}
	} else {
		// OpenAI rejects stream_options on a non-streaming request.
		r.StreamOptions = nil
	}
	b, err := r.MarshalJSON() // directly: json.Marshal would re-validate and compact its output
	if err != nil {
		return nil, encodeError(t, err)
	}
	return b, nil
}

// chatEnvelope decodes a completion while noticing an error object that some
// compatible servers return with status 200.
type chatEnvelope struct {
	schema.ChatResponse
	Error json.RawMessage `json:"error"`
}

// Chat implements providers.Provider.
func (p *Provider) Chat(ctx context.Context, t providers.Target, req *schema.ChatRequest) (*schema.ChatResponse, error) {
	body, err := p.chatBody(t, req, false)
	if err != nil {
		return nil, err
	}
	resp, err := p.post(ctx, t, chatPath, body, "application/json")
	if err != nil {
		return nil, err
	}
	b, err := readAll(ctx, t, resp)
	if err != nil {
		return nil, err
	}
	var env chatEnvelope
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, badResponse(t.Provider, "invalid chat completion JSON", err)
	}
	if !isNull(env.Error) {
		f, _ := parseErrorBody(b)
		return nil, payloadError(t.Provider, f)
	}
	if env.Choices == nil {
		return nil, badResponse(t.Provider, "chat completion without choices", nil)
	}
	return &env.ChatResponse, nil
}
