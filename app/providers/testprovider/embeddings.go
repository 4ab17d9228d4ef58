package testprovider

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"

	"github.com/llmgw/gateway/app/providers"
	"github.com/llmgw/gateway/app/schema"
)

const (
	defaultDims = 8
	maxDims     = 3072 // the largest OpenAI embedding size
)

type embedding struct {
	Object    string `json:"object"`
	Index     int    `json:"index"`
	Embedding any    `json:"embedding"` // []float32, or a base64 string
}

// Embed implements providers.Provider.
func (p *Provider) Embed(ctx context.Context, t providers.Target, req *schema.EmbeddingRequest) (*schema.EmbeddingResponse, error) {
	switch t.Model {
	case ModelEmbed:
	case ModelEcho:
		return nil, statusError(t, 400, "The model `echo` is a chat model and does not support embeddings.", "model_not_supported", "model")
	default:
		return nil, modelNotFound(t)
	}
	if err := ctxError(ctx, t); err != nil {
		return nil, err
	}
	if isNull(req.Input) {
		return nil, statusError(t, 400, "'input' is a required property", "", "input")
	}
	texts := req.InputTexts()
	if texts == nil {
		return nil, statusError(t, 400, "The test provider accepts a string or an array of strings as 'input'; token arrays are not supported.", "", "input")
	}
	if len(texts) == 0 {
		return nil, statusError(t, 400, "'input' must not be an empty array", "", "input")
	}
	base64Out := false
	switch req.EncodingFormat {
	case "", "float":
	case "base64":
		base64Out = true
	default:
		return nil, statusError(t, 400, fmt.Sprintf("Invalid value for 'encoding_format': expected 'float' or 'base64', got '%s'.", req.EncodingFormat), "", "encoding_format")
	}
	dims := defaultDims
	if req.Dimensions != nil {
		dims = *req.Dimensions
		if dims < 1 || dims > maxDims {
			return nil, statusError(t, 400, fmt.Sprintf("Invalid 'dimensions': expected a value between 1 and %d, but got %d instead.", maxDims, dims), "", "dimensions")
		}
	}

	items := make([]embedding, len(texts))
	tokens := 0
	for i, text := range texts {
		v := Vector(text, dims)
		items[i] = embedding{Object: "embedding", Index: i, Embedding: v}
		if base64Out {
			items[i].Embedding = encodeBase64(v)
		}
		tokens += p.countTokens(text)
	}
	data, err := json.Marshal(items)
	if err != nil {
		return nil, err
	}
	return &schema.EmbeddingResponse{
		Object: "list", Data: data, Model: t.Model,
		Usage: &schema.Usage{PromptTokens: tokens, TotalTokens: tokens},
	}, nil
}

// Vector is the embedding of text: a unit vector of dims float32s built from
// SHA-256(block counter || text), so it is the same on every platform and run.
func Vector(text string, dims int) []float32 {
	v := make([]float64, dims)
	var block [sha256.Size]byte
	for i := range v {
		if i%8 == 0 {
			h := sha256.New()
			_ = binary.Write(h, binary.LittleEndian, uint32(i/8))
			h.Write([]byte(text))
			h.Sum(block[:0])
		}
		u := binary.LittleEndian.Uint32(block[(i%8)*4:])
		v[i] = float64(u)/(1<<31) - 1 // uniform in [-1, 1)
	}
	var norm float64
	for _, x := range v {
		norm += x * x
	}
	norm = math.Sqrt(norm)
	out := make([]float32, dims)
	for i, x := range v {
		if norm == 0 {
			out[0] = 1
			break
		}
		out[i] = float32(x / norm)
	}
	return out
}

// encodeBase64 is OpenAI's base64 embedding format: the little-endian float32
// bytes, standard base64.
func encodeBase64(v []float32) string {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return base64.StdEncoding.EncodeToString(b)
}

func isNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}
