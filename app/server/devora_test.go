package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// TestDevoraCompatibility runs the examples of devora-proxy-docs.md against the
// gateway with the base URL swapped: the OpenAI SDK with base_url
// .../api/v1/ai (streaming), the curl and fetch bodies, the models list, the
// streaming headers and the status table.
func TestDevoraCompatibility(t *testing.T) {
	h := startGateway(t, "sqlite", nil)
	base := h.base + "/api/v1/ai"
	client := openai.NewClient(option.WithAPIKey(h.setup.APIKey), option.WithBaseURL(base), option.WithMaxRetries(0))

	// Python (OpenAI SDK), stream=True.
	stream := client.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model:    "gpt-4o",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hello!")},
	})
	var text strings.Builder
	for stream.Next() {
		if ch := stream.Current(); len(ch.Choices) > 0 {
			text.WriteString(ch.Choices[0].Delta.Content)
		}
	}
	if err := stream.Err(); err != nil || !strings.Contains(text.String(), "Hello!") {
		t.Fatalf("stream: %q %v", text.String(), err)
	}

	// cURL / fetch: the request format of the document, streaming headers.
	post := func(body, key string) (*http.Response, map[string]any) {
		req, _ := http.NewRequest("POST", base+"/chat/completions", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		var m map[string]any
		_ = json.Unmarshal(raw, &m)
		return res, m
	}
	res, body := post(`{"model": "gpt-4o", "messages": [{ "role": "system", "content": "You are a helpful assistant." }, { "role": "user", "content": "Hello!" }], "stream": false, "temperature": 0.7, "max_tokens": 2048}`, h.setup.APIKey)
	if res.StatusCode != 200 || !strings.Contains(toJSON(body["choices"]), "Hello!") {
		t.Fatalf("curl: %d %v", res.StatusCode, body)
	}
	sreq, _ := http.NewRequest("POST", base+"/chat/completions", strings.NewReader(`{"model":"gpt-4o","messages":[{"role":"user","content":"Hello!"}],"stream":true}`))
	sreq.Header.Set("Authorization", "Bearer "+h.setup.APIKey)
	sres, err := http.DefaultClient.Do(sreq)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, sres.Body)
	sres.Body.Close()
	if sres.Header.Get("Content-Type") != "text/event-stream" || sres.Header.Get("Cache-Control") != "no-cache" || sres.Header.Get("Connection") != "keep-alive" {
		t.Fatalf("stream headers %v", sres.Header)
	}

	// Models: id, name, owned_by, status; routing config for admins only.
	mreq, _ := http.NewRequest("GET", base+"/models", nil)
	mreq.Header.Set("Authorization", "Bearer "+h.setup.APIKey)
	mres, err := http.DefaultClient.Do(mreq)
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Data []map[string]any `json:"data"`
	}
	_ = json.NewDecoder(mres.Body).Decode(&list)
	mres.Body.Close()
	found := false
	for _, m := range list.Data {
		if m["id"] == "gpt-4o" {
			found = m["name"] == "GPT-4o" && m["owned_by"] == "openai" && m["status"] == "ACTIVE" && m["routing"] != nil
		}
	}
	if !found {
		t.Fatalf("gpt-4o entry missing or incomplete (the setup user is an admin: routing expected)")
	}

	// Status table.
	if res, body := post(`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`, "devora_wrong_key"); res.StatusCode != 401 || toJSON(body["error"]) == "" || body["error"].(map[string]any)["code"] != "invalid_api_key" {
		t.Fatalf("bad key: %d %v", res.StatusCode, body)
	}
	if res, _ := post(`{"messages":[{"role":"user","content":"hi"}]}`, h.setup.APIKey); res.StatusCode != 400 {
		t.Fatalf("missing model: %d", res.StatusCode)
	}
	if res, _ := post(`{"model":"no-such-model","messages":[{"role":"user","content":"hi"}]}`, h.setup.APIKey); res.StatusCode != 404 {
		t.Fatalf("unknown model: %d", res.StatusCode)
	}
	if res, _ := post(`{"model":"dead/anything","messages":[{"role":"user","content":"hi"}]}`, h.setup.APIKey); res.StatusCode != 502 {
		t.Fatalf("unreachable provider: %d", res.StatusCode)
	}
	if res, _ := post(`{"model":"gpt-4o","messages":[{"role":"user","content":"#slow 3s\nhi"}]}`, h.setup.APIKey); res.StatusCode != 504 {
		t.Fatalf("provider timeout: %d", res.StatusCode)
	}
	writeModels(t, h, "  - id: gpt-4o\n    status: SUSPENDED\n")
	if res, body := post(`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`, h.setup.APIKey); res.StatusCode != 403 ||
		body["error"].(map[string]any)["message"] != "Model 'gpt-4o' is currently suspended." {
		t.Fatalf("suspended: %d %v", res.StatusCode, body)
	}
}
