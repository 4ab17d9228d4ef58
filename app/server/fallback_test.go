package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/llmgw/gateway/app/fakeupstream"
)

// TestFallbackToNextProvider: a provider answering 500 is replaced by the next
// one serving the model; the client sees a success, every attempt is listed in
// metadata.routing and logged, the failed one marked retried.
func TestFallbackToNextProvider(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		second := fakeupstream.New()
		t.Cleanup(second.Close)
		h := startGateway(t, dialect, map[string]string{"LLM_OPENROUTER_API_KEY": "sk-or", "LLM_OPENROUTER_BASE_URL": second.URL})
		h.fake.ForceStatus(500)
		var raw *httpResponse
		resp, err := h.client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
			Model:    "gpt-4o-mini",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
		}, option.WithResponseInto(&raw))
		if err != nil {
			t.Fatal(err)
		}
		if resp.Model != "openrouter/gpt-4o-mini" || second.Last().Body["model"] != "openai/gpt-4o-mini" {
			t.Fatalf("served by %q, second upstream got model %v", resp.Model, second.Last().Body["model"])
		}
		var meta struct {
			Routing []struct {
				Provider   string `json:"provider"`
				StatusCode int    `json:"status_code"`
				ErrorType  string `json:"error_type"`
				Succeeded  bool   `json:"succeeded"`
			} `json:"routing"`
		}
		if err := json.Unmarshal([]byte(resp.JSON.Metadata.Raw()), &meta); err != nil || len(meta.Routing) != 2 {
			t.Fatalf("metadata = %s", resp.JSON.Metadata.Raw())
		}
		if r := meta.Routing; r[0].Provider != "openai" || r[0].StatusCode != 502 || r[0].ErrorType != "server_error" || r[0].Succeeded ||
			r[1].Provider != "openrouter" || !r[1].Succeeded {
			t.Fatalf("routing = %+v", r)
		}
		rows := h.logs(raw.Header.Get("X-Request-Id"))
		if len(rows) != 2 {
			t.Fatalf("rows = %d", len(rows))
		}
		var failed, ok = rows[0], rows[1]
		if failed.UsedProvider != "openai" {
			failed, ok = ok, failed
		}
		if !failed.Retried || failed.RetriedByLogID != ok.ID || failed.Status != 502 || ok.Retried || ok.Status != 200 || ok.TotalCost == nil {
			t.Fatalf("failed %+v\nok %+v", failed, ok)
		}

		// openai just failed, so the selector now prefers openrouter. A 4xx from it
		// is the client's fault: never retried on another provider.
		second.ForceStatus(400)
		before := len(h.fake.Requests())
		_, err = h.client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
			Model: "gpt-4o-mini", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
		})
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || len(h.fake.Requests()) != before {
			t.Fatalf("a 400 was retried on another provider (err %v)", err)
		}
	})
}
