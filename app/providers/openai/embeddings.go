package openai

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/llmgw/gateway/app/providers"
	"github.com/llmgw/gateway/app/schema"
)

const embeddingsPath = "/v1/embeddings"

type embeddingEnvelope struct {
	schema.EmbeddingResponse
	Error json.RawMessage `json:"error"`
}

// Embed implements providers.Provider. The request is forwarded as sent apart
// from the model, encoding_format included: the OpenAI SDKs ask for base64 and
// decode it themselves, so the data is passed back untouched.
func (p *Provider) Embed(ctx context.Context, t providers.Target, req *schema.EmbeddingRequest) (*schema.EmbeddingResponse, error) {
	r := *req
	r.Model = t.Model
	body, err := r.MarshalJSON() // directly: json.Marshal would re-validate and compact its output
	if err != nil {
		return nil, encodeError(t, err)
	}
	resp, err := p.post(ctx, t, embeddingsPath, body, "application/json")
	if err != nil {
		return nil, err
	}
	b, err := readAll(ctx, t, resp)
	if err != nil {
		return nil, err
	}
	var env embeddingEnvelope
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, badResponse(t.Provider, "invalid embeddings JSON", err)
	}
	if !isNull(env.Error) {
		f, _ := parseErrorBody(b)
		return nil, payloadError(t.Provider, f)
	}
	if d := bytes.TrimSpace(env.Data); len(d) == 0 || d[0] != '[' {
		return nil, badResponse(t.Provider, "embeddings response without a data array", nil)
	}
	return &env.EmbeddingResponse, nil
}
