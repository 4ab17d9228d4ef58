package google

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"testing"

	"github.com/llmgw/gateway/app/providers"
	"github.com/llmgw/gateway/app/providers/providertest"
	"github.com/llmgw/gateway/app/schema"
)

func embeddingRequest(t *testing.T, body string) *schema.EmbeddingRequest {
	t.Helper()
	var r schema.EmbeddingRequest
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

type embeddingItem struct {
	Object    string          `json:"object"`
	Index     int             `json:"index"`
	Embedding json.RawMessage `json:"embedding"`
}

func TestEmbeddingsFloat(t *testing.T) {
	u := newUpstream(t, providertest.Respond(200, "application/json", providertest.Fixture(t, "embeddings.json")))
	tg := u.target()
	tg.Model = "gemini-embedding-001"
	resp, err := New(u.Client()).Embed(context.Background(), tg,
		embeddingRequest(t, `{"model":"alias","input":["hello world","bonjour"],"encoding_format":"float","dimensions":4,"user":"u1"}`))
	if err != nil {
		t.Fatal(err)
	}
	got := u.Last(t)
	if got.Path != "/v1beta/models/gemini-embedding-001:batchEmbedContents" || got.Header.Get("X-Goog-Api-Key") != testKey {
		t.Errorf("request = %s %v", got.Path, got.Header)
	}
	jsonEqual(t, "embed request", got.Body, []byte(`{"requests":[
		{"model":"models/gemini-embedding-001","content":{"parts":[{"text":"hello world"}]},"outputDimensionality":4},
		{"model":"models/gemini-embedding-001","content":{"parts":[{"text":"bonjour"}]},"outputDimensionality":4}]}`))

	if resp.Object != "list" || resp.Model != "gemini-embedding-001" || resp.Usage != nil {
		t.Errorf("envelope = %+v", resp)
	}
	// Values are passed on exactly as Gemini wrote them.
	want := `[{"object":"embedding","index":0,"embedding":[0.0123456,-0.98765,0.5,1e-07]},` +
		`{"object":"embedding","index":1,"embedding":[-0.031233478,0.0072891,0.25,-1]}]`
	if string(resp.Data) != want {
		t.Errorf("data = %s", resp.Data)
	}
}

func TestEmbeddingsBase64(t *testing.T) {
	u := newUpstream(t, providertest.Respond(200, "application/json", providertest.Fixture(t, "embeddings.json")))
	resp, err := New(u.Client()).Embed(context.Background(), u.target(),
		embeddingRequest(t, `{"model":"alias","input":"hello","encoding_format":"base64"}`))
	if err == nil {
		t.Fatal("2 embeddings for 1 input accepted")
	}
	asError(t, err, providers.KindBadResponse)

	resp, err = New(u.Client()).Embed(context.Background(), u.target(),
		embeddingRequest(t, `{"model":"alias","input":["a","b"],"encoding_format":"base64"}`))
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, "embed request", u.Last(t).Body, []byte(`{"requests":[
		{"model":"models/gemini-2.5-flash","content":{"parts":[{"text":"a"}]}},
		{"model":"models/gemini-2.5-flash","content":{"parts":[{"text":"b"}]}}]}`))
	var items []embeddingItem
	if err := json.Unmarshal(resp.Data, &items); err != nil || len(items) != 2 {
		t.Fatalf("data = %s", resp.Data)
	}
	want := [][]float32{{0.0123456, -0.98765, 0.5, 1e-07}, {-0.031233478, 0.0072891, 0.25, -1}}
	for i, it := range items {
		var s string
		if err := json.Unmarshal(it.Embedding, &s); err != nil || it.Index != i || it.Object != "embedding" {
			t.Fatalf("item %d = %+v", i, it)
		}
		raw, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(raw) != 16 {
			t.Fatalf("item %d: %v %d", i, err, len(raw))
		}
		for j := range 4 {
			if f := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*j:])); f != want[i][j] {
				t.Errorf("item %d value %d = %v, want %v", i, j, f, want[i][j])
			}
		}
	}
}

func TestEmbeddingsRefusals(t *testing.T) {
	for body, param := range map[string]string{
		`{"model":"m","input":[[1,2,3]]}`:                    "input",
		`{"model":"m","input":"x","encoding_format":"int8"}`: "encoding_format",
	} {
		u := newUpstream(t, providertest.Respond(200, "application/json", providertest.Fixture(t, "embeddings.json")))
		_, err := New(u.Client()).Embed(context.Background(), u.target(), embeddingRequest(t, body))
		if pe := asError(t, err, providers.KindUnsupported); pe.Param != param || len(u.Requests()) != 0 {
			t.Errorf("%s: %+v", body, pe)
		}
	}
	for name, body := range map[string]string{
		"not json":   `<html>`,
		"bad values": `{"embeddings":[{"values":["x"]}]}`,
		"error":      `{"error":{"code":500,"message":"m","status":"INTERNAL"}}`,
	} {
		u := newUpstream(t, providertest.Respond(200, "application/json", body))
		_, err := New(u.Client()).Embed(context.Background(), u.target(), embeddingRequest(t, `{"model":"m","input":"x"}`))
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
