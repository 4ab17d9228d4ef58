package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// TestKeyPool: with LLM_OPENAI_API_KEY=k1,k2,k3, a key the provider rejects
// (401) is retried on another key of the same provider and never used again; a
// rate-limited key (429) is skipped while others are free; when every key is
// rejected the gateway says so with a 503.
func TestKeyPool(t *testing.T) {
	h := startGateway(t, "sqlite", map[string]string{"LLM_OPENAI_API_KEY": "k1,k2,k3"})
	h.fake.KeyStatus("k2", 401)
	ask := func() *openai.ChatCompletion {
		t.Helper()
		resp, err := h.client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
			Model:    "openai/gpt-4o-mini",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
		})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	retriedOnSameProvider := 0
	for range 9 {
		resp := ask()
		var meta struct {
			Routing []struct {
				Provider   string `json:"provider"`
				StatusCode int    `json:"status_code"`
				Succeeded  bool   `json:"succeeded"`
			} `json:"routing"`
		}
		_ = json.Unmarshal([]byte(resp.JSON.Metadata.Raw()), &meta)
		if len(meta.Routing) == 2 && meta.Routing[0].Provider == "openai" && meta.Routing[1].Provider == "openai" && meta.Routing[1].Succeeded {
			retriedOnSameProvider++
		}
	}
	used := func() map[string]int {
		n := map[string]int{}
		for _, r := range h.fake.Requests() {
			n[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]++
		}
		return n
	}
	if u := used(); u["k2"] != 1 || retriedOnSameProvider != 1 || u["k1"]+u["k3"] != 9 {
		t.Fatalf("keys used = %v, same-provider retries = %d", u, retriedOnSameProvider)
	}

	h.fake.KeyStatus("k3", 429)
	before := used()
	for range 6 {
		ask()
	}
	after := used()
	if after["k3"]-before["k3"] > 1 || after["k1"]-before["k1"] != 6 {
		t.Fatalf("after k3 got 429: before %v after %v", before, after)
	}

	time.Sleep(2100 * time.Millisecond) // k3's cool-down after its 429 (Retry-After: 2)
	h.fake.KeyStatus("k1", 403)
	h.fake.KeyStatus("k3", 401)
	for range 2 { // the first request finds out, the second knows
		_, err := h.client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
			Model:    "openai/gpt-4o-mini",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
		}, option.WithMaxRetries(0))
		var ae *openai.Error
		if !errors.As(err, &ae) {
			t.Fatalf("err = %v", err)
		}
		if ae.StatusCode < 400 {
			t.Fatalf("status %d", ae.StatusCode)
		}
	}
	n := len(h.fake.Requests())
	_, err := h.client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:    "openai/gpt-4o-mini",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
	})
	var ae *openai.Error
	if !errors.As(err, &ae) || ae.StatusCode != 503 || len(h.fake.Requests()) != n {
		t.Fatalf("every key rejected: err %v, upstream calls %d -> %d", err, n, len(h.fake.Requests()))
	}
}

// TestKeyPoolCooldown: when the provider rate limited every key, the next
// request is answered 429 with Retry-After at once, without calling it
// (Devora: "Upstream provider is in cooldown").
func TestKeyPoolCooldown(t *testing.T) {
	h := startGateway(t, "sqlite", map[string]string{"LLM_OPENAI_API_KEY": "ka,kb"})
	h.fake.KeyStatus("ka", 429)
	h.fake.KeyStatus("kb", 429)
	_, err := chatModel(t, h, "openai/gpt-4o-mini")
	wantAPIError(t, err, 429, "", "")
	n := len(h.fake.Requests())
	var raw *httpResponse
	_, err = chatModel(t, h, "openai/gpt-4o-mini", option.WithResponseInto(&raw))
	wantAPIError(t, err, 429, "upstream_rate_limited", "")
	if len(h.fake.Requests()) != n || raw.Header.Get("Retry-After") == "" {
		t.Fatalf("upstream calls %d -> %d, Retry-After %q", n, len(h.fake.Requests()), raw.Header.Get("Retry-After"))
	}
}
