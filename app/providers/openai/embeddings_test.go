package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/llmgw/gateway/app/providers"
	"github.com/llmgw/gateway/app/providers/providertest"
	"github.com/llmgw/gateway/app/schema"
)

func TestEmbeddings(t *testing.T) {
	for _, tc := range []struct {
		fixture, request string
	}{
		{"embeddings_float.json", `{"model":"alias","input":["hello world","bonjour"],"encoding_format":"float","dimensions":4,"user":"u1","x_custom":{"a":1}}`},
		{"embeddings_base64.json", `{"model":"alias","input":"hello","encoding_format":"base64"}`},
	} {
		body := providertest.Fixture(t, tc.fixture)
		u := newUpstream(t, providertest.Respond(200, "application/json", body))
		var req schema.EmbeddingRequest
		if err := json.Unmarshal([]byte(tc.request), &req); err != nil {
			t.Fatal(err)
		}
		resp, err := New(u.Client()).Embed(context.Background(), u.target(), &req)
		if err != nil {
			t.Fatal(err)
		}
		if req.Model != "alias" {
			t.Error("the caller's request was mutated")
		}

		got := u.Last(t)
		if got.Path != "/v1/embeddings" || got.Header.Get("Authorization") != "Bearer "+testKey {
			t.Errorf("request = %s %v", got.Path, got.Header)
		}
		var sent, want map[string]any
		_ = json.Unmarshal(got.Body, &sent)
		_ = json.Unmarshal([]byte(tc.request), &want)
		want["model"] = "gpt-4o-2024-08-06"
		if !reflect.DeepEqual(sent, want) {
			t.Errorf("%s: upstream body = %s", tc.fixture, got.Body)
		}

		// Data is passed through byte for byte.
		var raw struct {
			Data json.RawMessage `json:"data"`
		}
		_ = json.Unmarshal([]byte(body), &raw)
		if !bytes.Equal(resp.Data, raw.Data) {
			t.Errorf("%s: data changed", tc.fixture)
		}
		if resp.Object != "list" || resp.Model != "text-embedding-3-small" || resp.Usage == nil || resp.Usage.PromptTokens == 0 || resp.Usage.TotalTokens != resp.Usage.PromptTokens {
			t.Errorf("%s: response = %+v", tc.fixture, resp)
		}
	}
}

func TestEmbeddingsBadResponses(t *testing.T) {
	for _, body := range []string{`{"object":"list"}`, `{"object":"list","data":null}`, `{"data":"x"}`, `garbage`} {
		u := newUpstream(t, providertest.Respond(200, "application/json", body))
		_, err := New(u.Client()).Embed(context.Background(), u.target(), &schema.EmbeddingRequest{Input: []byte(`"x"`)})
		asError(t, err, providers.KindBadResponse)
	}
}
