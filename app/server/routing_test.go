package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/llmgw/gateway/app/fakeupstream"
)

// TestRoutingAwayFromFailingProviders: gpt-4o-mini is served by openai (the
// fake) and openrouter (second), at the same price.
func TestRoutingAwayFromFailingProviders(t *testing.T) {
	second := fakeupstream.New()
	t.Cleanup(second.Close)
	h := startGateway(t, "sqlite", map[string]string{"LLM_OPENROUTER_API_KEY": "sk-or", "LLM_OPENROUTER_BASE_URL": second.URL})
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	h.srv.Gateway.Selector.Health.SetClock(clock)
	h.srv.Gateway.Selector.SetClock(clock)
	ask := func() (provider string, err error) {
		var raw *httpResponse
		_, err = h.client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
			Model: "gpt-4o-mini", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
		}, option.WithResponseInto(&raw))
		if raw != nil {
			provider = raw.Header.Get("X-LLMGateway-Used-Provider")
		}
		return provider, err
	}

	// A provider failing 100%: zero client errors while the other is healthy.
	h.fake.ForceStatus(500)
	for i := 0; i < 20; i++ {
		if p, err := ask(); err != nil || p != "openrouter" {
			t.Fatalf("request %d: %v (served by %q)", i, err, p)
		}
		now = now.Add(time.Second)
	}
	if n := len(h.fake.Requests()); n > 2 {
		t.Fatalf("the failing provider was still tried first %d times", n)
	}

	// An hour later both are healthy again and openai is preferred back.
	h.fake.ForceStatus(0)
	now = now.Add(2 * time.Hour)
	if p, _ := ask(); p != "openai" {
		t.Fatalf("after recovery: %s", p)
	}

	// openai failing 30%: within a minute of simulated time traffic moves away.
	h.fake.FailRatio(3, 10)
	before := len(h.fake.Requests())
	errs := 0
	for i := 0; i < 30; i++ {
		if _, err := ask(); err != nil {
			errs++
		}
		now = now.Add(2 * time.Second) // 30 requests within one minute
	}
	tried := len(h.fake.Requests()) - before
	if errs != 0 || tried > 12 {
		t.Fatalf("30%% failing provider: %d client errors, tried first %d of 30 times", errs, tried)
	}
	// The last ten requests all went to the healthy provider.
	recent := len(h.fake.Requests())
	for i := 0; i < 10; i++ {
		ask()
	}
	if n := len(h.fake.Requests()) - recent; n != 0 {
		t.Fatalf("the degraded provider still got %d of the last 10 requests", n)
	}
}
