package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/llmgw/gateway/app/providers"
	"github.com/llmgw/gateway/app/providers/providertest"
	"github.com/llmgw/gateway/app/schema"
)

// azureRequest is what the fake Azure resource received.
type azureRequest struct {
	method, path, query string
	header              http.Header
	body                []byte
}

// azureResource is a fake Azure OpenAI resource answering with h.
func azureResource(t *testing.T, h http.HandlerFunc) (*httptest.Server, func() azureRequest) {
	t.Helper()
	var mu sync.Mutex
	var last *azureRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		last = &azureRequest{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Clone(), b}
		mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, func() azureRequest {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		if last == nil {
			t.Fatal("no request received")
		}
		return *last
	}
}

func azureTarget(srv *httptest.Server) providers.Target {
	return providers.Target{Provider: "azure", Model: "gpt-4o-prod", BaseURL: srv.URL, APIKey: "azure-key-0123"}
}

func checkAzureHeaders(t *testing.T, got azureRequest, key string) {
	t.Helper()
	if got.method != http.MethodPost || got.header.Get("Content-Type") != "application/json" {
		t.Errorf("request %s %v", got.method, got.header)
	}
	if got.header.Get("api-key") != key {
		t.Errorf("api-key = %q, want %q", got.header.Get("api-key"), key)
	}
	if _, ok := got.header["Authorization"]; ok {
		t.Errorf("Authorization sent to Azure: %q", got.header.Get("Authorization"))
	}
}

func TestAzureChat(t *testing.T) {
	srv, last := azureResource(t, providertest.Respond(200, "application/json", providertest.Fixture(t, "azure_chat.json")))
	resp, err := NewAzure(srv.Client(), "").Chat(context.Background(), azureTarget(srv), providertest.ChatRequest(t, providertest.SimpleRequest))
	if err != nil {
		t.Fatal(err)
	}
	got := last()
	if got.path != "/openai/deployments/gpt-4o-prod/chat/completions" || got.query != "api-version=2024-10-21" {
		t.Errorf("URL %s?%s", got.path, got.query)
	}
	checkAzureHeaders(t, got, "azure-key-0123")
	var body map[string]any
	_ = json.Unmarshal(got.body, &body)
	if body["model"] != "gpt-4o-prod" || body["stream"] != nil || body["stream_options"] != nil {
		t.Errorf("body %s", got.body)
	}
	if resp.Choices[0].Message.Content.String() != "Bonjour !" || resp.Usage == nil || resp.Usage.TotalTokens != 15 {
		t.Errorf("response %+v", resp)
	}
}

func TestAzureStream(t *testing.T) {
	srv, last := azureResource(t, providertest.SSEHandler(providertest.Fixture(t, "azure_stream.sse"), 13))
	s, err := NewAzure(srv.Client(), "2025-01-01-preview").ChatStream(context.Background(), azureTarget(srv), providertest.ChatRequest(t, providertest.SimpleRequest))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	chunks, err := providertest.ReadStream(s)
	if err != io.EOF {
		t.Fatalf("err = %v", err)
	}
	got := last()
	if got.path != "/openai/deployments/gpt-4o-prod/chat/completions" || got.query != "api-version=2025-01-01-preview" ||
		got.header.Get("Accept") != "text/event-stream" {
		t.Errorf("URL %s?%s, Accept %q", got.path, got.query, got.header.Get("Accept"))
	}
	checkAzureHeaders(t, got, "azure-key-0123")
	var body map[string]any
	_ = json.Unmarshal(got.body, &body)
	if body["stream"] != true || body["stream_options"] == nil {
		t.Errorf("body %s", got.body)
	}
	// The prompt filter results come first, as a chunk without choices.
	if len(chunks) != 6 || len(chunks[0].Choices) != 0 || chunks[0].ID != "" {
		t.Fatalf("%d chunks, first %+v", len(chunks), chunks[0])
	}
	a := assemble(t, chunks)
	if a.content != "Bonjour !" || a.finish != "stop" || a.role != "assistant" || a.usage == nil || a.usage.TotalTokens != 14 {
		t.Errorf("assembled %+v", a)
	}
	// Such a chunk first does not disturb an inbound encoder either.
	var buf bytes.Buffer
	enc := NewResponsesStreamEncoder("m")
	for _, c := range chunks {
		if err := enc.WriteChunk(&buf, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Finish(&buf, nil); err != nil {
		t.Fatal(err)
	}
	cs, problems := checkStream(buf.Bytes())
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	if cs.final.Output[0].Content[0].Text != "Bonjour !" || cs.final.Usage.TotalTokens != 14 {
		t.Errorf("responses stream %s", providertest.Short(cs.final))
	}
}

func TestAzureEmbeddings(t *testing.T) {
	srv, last := azureResource(t, providertest.Respond(200, "application/json", providertest.Fixture(t, "embeddings_float.json")))
	tg := azureTarget(srv)
	tg.Model = "text-embedding-3-small"
	_, err := NewAzure(srv.Client(), "2024-06-01").Embed(context.Background(), tg, &schema.EmbeddingRequest{Model: "alias", Input: []byte(`"hi"`)})
	if err != nil {
		t.Fatal(err)
	}
	got := last()
	if got.path != "/openai/deployments/text-embedding-3-small/embeddings" || got.query != "api-version=2024-06-01" {
		t.Errorf("URL %s?%s", got.path, got.query)
	}
	checkAzureHeaders(t, got, "azure-key-0123")
}

// The resource URL may end with /openai, and a deployment name is a path
// segment: it is escaped.
func TestAzureURL(t *testing.T) {
	srv, last := azureResource(t, providertest.Respond(200, "application/json", providertest.Fixture(t, "azure_chat.json")))
	for _, tc := range []struct{ base, model, path string }{
		{srv.URL + "/", "dep", "/openai/deployments/dep/chat/completions"},
		{srv.URL + "/openai", "dep", "/openai/deployments/dep/chat/completions"},
		{srv.URL + "/openai/", "my dep/v2", "/openai/deployments/my%20dep%2Fv2/chat/completions"},
	} {
		tg := providers.Target{Provider: "azure", Model: tc.model, BaseURL: tc.base}
		if _, err := NewAzure(srv.Client(), "v&1").Chat(context.Background(), tg, providertest.ChatRequest(t, providertest.SimpleRequest)); err != nil {
			t.Fatal(err)
		}
		got := last()
		if got.path != tc.path || got.query != "api-version=v%261" {
			t.Errorf("%s %q: URL %s?%s", tc.base, tc.model, got.path, got.query)
		}
		// No key: no credentials at all.
		if _, ok := got.header["Api-Key"]; ok {
			t.Error("api-key sent without a key")
		}
		if _, ok := got.header["Authorization"]; ok {
			t.Error("Authorization sent without a key")
		}
	}
}

// Azure's errors use the OpenAI envelope (with its own codes).
func TestAzureErrors(t *testing.T) {
	body := `{"error":{"code":"DeploymentNotFound","message":"The API deployment for this resource does not exist."}}`
	srv, _ := azureResource(t, providertest.Respond(404, "application/json", body))
	_, err := NewAzure(srv.Client(), "").Chat(context.Background(), azureTarget(srv), providertest.ChatRequest(t, providertest.SimpleRequest))
	var pe *providers.Error
	if !asProviderError(err, &pe) || pe.Kind != providers.KindStatus || pe.Status != 404 || pe.Code != "DeploymentNotFound" ||
		pe.Provider != "azure" || pe.Retryable() {
		t.Errorf("error %+v", err)
	}
	filtered := `{"error":{"message":"The response was filtered due to the prompt triggering Azure OpenAI's content management policy.","type":null,"param":"prompt","code":"content_filter","status":400,"innererror":{"code":"ResponsibleAIPolicyViolation"}}}`
	srv, _ = azureResource(t, providertest.Respond(400, "application/json", filtered))
	_, err = NewAzure(srv.Client(), "").ChatStream(context.Background(), azureTarget(srv), providertest.ChatRequest(t, providertest.SimpleRequest))
	if !asProviderError(err, &pe) || pe.Status != 400 || pe.Code != "content_filter" || pe.Param != "prompt" || pe.API().Status != 400 {
		t.Errorf("error %+v", err)
	}
}

func asProviderError(err error, pe **providers.Error) bool {
	e, ok := err.(*providers.Error)
	*pe = e
	return ok
}
