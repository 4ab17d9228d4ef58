package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

func TestEmbeddings(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		h := startGateway(t, dialect, nil)
		ctx := context.Background()
		var raw *httpResponse
		resp, err := h.client.Embeddings.New(ctx, openai.EmbeddingNewParams{
			Model: "text-embedding-3-small",
			Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"hello world", "three word input"}},
		}, option.WithResponseInto(&raw))
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Data) != 2 || len(resp.Data[0].Embedding) != 3 || resp.Data[0].Embedding[0] != 11 {
			t.Fatalf("embeddings = %s", resp.RawJSON())
		}
		if resp.Usage.PromptTokens != 5 {
			t.Fatalf("usage = %s", resp.Usage.RawJSON())
		}
		var cost float64
		_ = json.Unmarshal([]byte(resp.Usage.JSON.ExtraFields["cost"].Raw()), &cost)
		if !near(cost, 5*0.02e-6) {
			t.Fatalf("cost = %v", cost)
		}
		rows := h.logs(raw.Header.Get("X-Request-Id"))
		if len(rows) != 1 || rows[0].Endpoint != "embeddings" || rows[0].TotalCost == nil || *rows[0].TotalCost != 100 {
			t.Fatalf("log = %+v", rows)
		}

		// base64, as the OpenAI node SDK asks by default: passed through and decoded by the SDK.
		resp, err = h.client.Embeddings.New(ctx, openai.EmbeddingNewParams{
			Model:          "text-embedding-3-small",
			Input:          openai.EmbeddingNewParamsInputUnion{OfString: openai.String("abc")},
			EncodingFormat: openai.EmbeddingNewParamsEncodingFormatBase64,
		})
		if err != nil {
			t.Fatal(err)
		}
		if h.fake.Last().Body["encoding_format"] != "base64" {
			t.Errorf("encoding_format not passed through")
		}
		if resp.Data[0].Embedding[0] != 3 || resp.Data[0].Embedding[2] != -0.25 {
			t.Fatalf("base64 embedding = %v", resp.Data[0].Embedding)
		}
	})
}

func TestEmbeddingsRejectsChatModel(t *testing.T) {
	h := startGateway(t, "sqlite", nil)
	resp := h.post("/v1/embeddings", `{"model":"gpt-4o","input":"x"}`)
	if resp.StatusCode != 400 {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	resp = h.post("/v1/embeddings", `{"model":"text-embedding-3-small"}`)
	if e := readEnvelope(t, resp.Body); resp.StatusCode != 400 || str(e.Error.Param) != "input" {
		t.Fatalf("missing input: %d %+v", resp.StatusCode, e)
	}
}

func TestModelsList(t *testing.T) {
	h := startGateway(t, "sqlite", nil)
	page, err := h.client.Models.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, m := range page.Data {
		seen[m.ID] = m.OwnedBy
	}
	for _, id := range []string{"gpt-4o", "openai/gpt-4o", "claude-sonnet-4-5", "anthropic/claude-sonnet-4-5", "gemini-2.5-flash", "test/echo", "text-embedding-3-small"} {
		if _, ok := seen[id]; !ok {
			t.Errorf("model %s not listed", id)
		}
	}
	if seen["openai/gpt-4o"] != "openai" {
		t.Errorf("owned_by of openai/gpt-4o = %q", seen["openai/gpt-4o"])
	}
	resp, _ := http.Get(h.base + "/v1/models")
	if resp.StatusCode != 401 {
		t.Errorf("models without a key: %d", resp.StatusCode)
	}
}

func TestHealth(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		h := startGateway(t, dialect, nil)
		resp, err := http.Get(h.base + "/health")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		var body map[string]any
		_ = json.Unmarshal(b, &body)
		if resp.StatusCode != 200 || body["status"] != "ok" || body["database"] != "ok" {
			t.Fatalf("health = %d %s", resp.StatusCode, b)
		}
		h.srv.DB.Close() // the database goes away
		resp, err = http.Get(h.base + "/health")
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 503 {
			t.Fatalf("health with a closed database = %d", resp.StatusCode)
		}
	})
}
