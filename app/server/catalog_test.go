package server_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
)

func TestModelsFileReload(t *testing.T) {
	h := startGateway(t, "sqlite", nil)
	ctx := context.Background()
	ask := func(model string) error {
		_, err := h.client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
		})
		return err
	}
	var apiErr *openai.Error
	if err := ask("late-model"); !errors.As(err, &apiErr) || apiErr.StatusCode != 404 {
		t.Fatalf("before reload: %v", err)
	}
	added := strings.ReplaceAll(modelsFile, "ACME_URL", h.fake.URL) + `
  - id: late-model
    providers:
      - {provider: openai, model: gpt-4o-mini, inputPrice: 1, outputPrice: 2}
`
	if err := os.WriteFile(h.srv.Config.ModelsFile, []byte(added), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := h.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	if err := ask("late-model"); err != nil {
		t.Fatalf("after reload: %v", err)
	}
	if h.fake.Last().Body["model"] != "gpt-4o-mini" {
		t.Errorf("upstream model = %v", h.fake.Last().Body["model"])
	}
	// A broken file keeps the previous catalog.
	if err := os.WriteFile(h.srv.Config.ModelsFile, []byte("models: [ {id: "), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := h.srv.Reload(); err == nil {
		t.Fatal("a broken models file was accepted")
	}
	if err := ask("late-model"); err != nil {
		t.Fatalf("after a failed reload: %v", err)
	}
}

func TestBillingModeRefusesUnpricedModels(t *testing.T) {
	h := startGateway(t, "sqlite", map[string]string{"STRIPE_SECRET_KEY": "sk_test_123"})
	_, err := h.client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model: "unpriced-chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
	})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 {
		t.Fatalf("unpriced model with billing on: %v", err)
	}
	if len(h.fake.Requests()) != 0 {
		t.Fatalf("an unpriced model reached the upstream")
	}
}

func TestCustomProvider(t *testing.T) {
	h := startGateway(t, "sqlite", nil)
	ctx := context.Background()
	for model, upstream := range map[string]string{"my-chat": "my-chat-v1", "acme/my-chat-v1": "my-chat-v1", "acme/anything-else": "anything-else"} {
		resp, err := h.client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
		})
		if err != nil {
			t.Fatalf("%s: %v", model, err)
		}
		last := h.fake.Last()
		if last.Body["model"] != upstream || last.Header.Get("Authorization") != "Bearer sk-acme" {
			t.Errorf("%s: upstream got model %v auth %q", model, last.Body["model"], last.Header.Get("Authorization"))
		}
		cost := resp.Usage.JSON.ExtraFields["cost"].Raw()
		if model == "acme/anything-else" && cost != "null" {
			t.Errorf("unlisted custom model priced: %s", cost)
		}
		if model == "my-chat" && cost == "null" {
			t.Errorf("listed custom model unpriced")
		}
	}
}

func TestKeyPoolRoundRobin(t *testing.T) {
	h := startGateway(t, "sqlite", map[string]string{"LLM_OPENAI_API_KEY": "sk-one, sk-two"})
	seen := map[string]int{}
	for i := 0; i < 4; i++ {
		if _, err := h.client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
			Model: "gpt-4o", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
		}); err != nil {
			t.Fatal(err)
		}
		seen[h.fake.Last().Header.Get("Authorization")]++
	}
	if seen["Bearer sk-one"] != 2 || seen["Bearer sk-two"] != 2 {
		t.Fatalf("keys used = %v", seen)
	}
}
