package server_test

import (
	"context"
	"errors"
	"os"
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
	added := modelsFile + `
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
