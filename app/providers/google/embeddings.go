package google

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/llmgw/gateway/app/providers"
	"github.com/llmgw/gateway/app/schema"
)

// Embed implements providers.Provider with batchEmbedContents: one request
// per input string, in order. Token-id inputs cannot be sent (Gemini embeds
// text). batchEmbedContents reports no token counts, so Usage is nil and the
// gateway counts the input itself.
func (p *Provider) Embed(ctx context.Context, t providers.Target, req *schema.EmbeddingRequest) (*schema.EmbeddingResponse, error) {
	switch req.EncodingFormat {
	case "", "float", "base64":
	default:
		return nil, unsupported(t.Provider, "encoding_format", fmt.Sprintf("encoding_format %q is not supported by this provider.", req.EncodingFormat))
	}
	texts, err := embeddingInputs(t.Provider, req.Input)
	if err != nil {
		return nil, err
	}
	name := t.Model
	if !strings.Contains(name, "/") {
		name = "models/" + name // each request names its model in full
	}
	body := batchEmbedRequest{Requests: make([]embedContentRequest, len(texts))}
	for i, s := range texts {
		body.Requests[i] = embedContentRequest{
			Model:                name,
			Content:              Content{Parts: []Part{{Text: s}}},
			OutputDimensionality: req.Dimensions,
		}
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, invalidRequest(t.Provider, "input", "The request could not be encoded: "+err.Error())
	}
	resp, err := p.post(ctx, t, "batchEmbedContents", b, "application/json")
	if err != nil {
		return nil, err
	}
	rb, err := readAll(ctx, t, resp)
	if err != nil {
		return nil, err
	}
	var env struct {
		batchEmbedResponse
		Error json.RawMessage `json:"error"`
	}
	if rb = bytes.TrimSpace(rb); len(rb) == 0 || rb[0] != '{' {
		return nil, badResponse(t.Provider, "invalid batchEmbedContents JSON", nil)
	}
	if err := json.Unmarshal(rb, &env); err != nil {
		return nil, badResponse(t.Provider, "invalid batchEmbedContents JSON", err)
	}
	if !isNull(env.Error) {
		f, _ := parseErrorBody(rb)
		return nil, payloadError(t.Provider, f)
	}
	if len(env.Embeddings) != len(texts) {
		return nil, badResponse(t.Provider, fmt.Sprintf("%d embeddings for %d inputs", len(env.Embeddings), len(texts)), nil)
	}
	data, err := embeddingList(env.Embeddings, req.EncodingFormat == "base64")
	if err != nil {
		return nil, badResponse(t.Provider, "invalid embedding values", err)
	}
	return &schema.EmbeddingResponse{Object: "list", Data: data, Model: t.Model}, nil
}

// embeddingInputs accepts a string or an array of strings.
func embeddingInputs(provider string, input json.RawMessage) ([]string, error) {
	input = bytes.TrimSpace(input)
	if len(input) == 0 {
		return nil, invalidRequest(provider, "input", "input is required.")
	}
	var one string
	if json.Unmarshal(input, &one) == nil {
		return []string{one}, nil
	}
	var many []string
	if json.Unmarshal(input, &many) == nil {
		return many, nil
	}
	return nil, unsupported(provider, "input", "Only text input (a string or an array of strings) is supported by this provider.")
}

// embeddingList writes the OpenAI data array. Float values are copied as
// Gemini wrote them; base64 is the little-endian float32 array the OpenAI SDKs
// decode.
func embeddingList(embs []struct {
	Values []json.Number `json:"values"`
}, b64 bool) (json.RawMessage, error) {
	var buf bytes.Buffer
	buf.WriteByte('[')
	for i, e := range embs {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString(`{"object":"embedding","index":`)
		buf.WriteString(strconv.Itoa(i))
		buf.WriteString(`,"embedding":`)
		if b64 {
			raw := make([]byte, 4*len(e.Values))
			for j, v := range e.Values {
				f, err := strconv.ParseFloat(string(v), 32)
				if err != nil {
					return nil, err
				}
				binary.LittleEndian.PutUint32(raw[4*j:], math.Float32bits(float32(f)))
			}
			buf.WriteByte('"')
			buf.WriteString(base64.StdEncoding.EncodeToString(raw))
			buf.WriteByte('"')
		} else {
			buf.WriteByte('[')
			for j, v := range e.Values {
				if j > 0 {
					buf.WriteByte(',')
				}
				buf.WriteString(string(v))
			}
			buf.WriteByte(']')
		}
		buf.WriteByte('}')
	}
	buf.WriteByte(']')
	return buf.Bytes(), nil
}
