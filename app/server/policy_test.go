package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/llmgw/gateway/app/fakeupstream"
	"github.com/llmgw/gateway/models"
)

// policyModels declares regions for a built-in provider (mistral, EU and US
// endpoints), a model two operators serve, and models in every status.
const policyModels = `
providers:
  - id: mistral
    operator: eu
    regions:
      - {id: eu-west-1, jurisdiction: eu, baseUrl: "EU_URL"}
      - {id: us-east-1, jurisdiction: us, baseUrl: "US_URL"}
models:
  - id: tv-chat
    providers:
      - {provider: openai, model: tv-openai, inputPrice: 1, outputPrice: 1}
      - {provider: mistral, model: tv-mistral, inputPrice: 2, outputPrice: 2}
  - id: gpt-4o
    status: SUSPENDED
  - id: gpt-4.1
    status: HIDDEN
  - id: gpt-5
    status: RESTRICTED
    allowedEmails: [dev@example.com]
  - id: gpt-5-mini
    status: RESTRICTED
    allowedEmails: [someone@else.com]
  - id: dev@example.com/mine
    providers:
      - {provider: openai, model: mine-v1, inputPrice: 1, outputPrice: 1}
  - id: other@example.com/theirs
    providers:
      - {provider: openai, model: theirs-v1, inputPrice: 1, outputPrice: 1}
`

func startPolicyGateway(t *testing.T) (*harness, *fakeupstream.Server, *fakeupstream.Server) {
	eu, us := fakeupstream.New(), fakeupstream.New()
	t.Cleanup(eu.Close)
	t.Cleanup(us.Close)
	mf := filepath.Join(t.TempDir(), "models.yaml")
	body := strings.NewReplacer("EU_URL", eu.URL, "US_URL", us.URL).Replace(policyModels)
	if err := os.WriteFile(mf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	h := startGateway(t, "sqlite", map[string]string{"GATEWAY_MODELS_FILE": mf, "LLM_MISTRAL_API_KEY": "sk-mistral"})
	return h, eu, us
}

func chatModel(t *testing.T, h *harness, model string, opts ...option.RequestOption) (*openai.ChatCompletion, error) {
	t.Helper()
	return h.client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:    model,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
	}, opts...)
}

func wantAPIError(t *testing.T, err error, status int, code, msg string) {
	t.Helper()
	var ae *openai.Error
	if !errors.As(err, &ae) || ae.StatusCode != status || (code != "" && ae.Code != code) || (msg != "" && ae.Message != msg) {
		t.Fatalf("want %d %s %q, got %v", status, code, msg, err)
	}
}

func TestRegionsAndJurisdictionTiers(t *testing.T) {
	h, eu, us := startPolicyGateway(t)

	// provider/model:region pins one region; provider/model chooses among them.
	for model, fake := range map[string]*fakeupstream.Server{"mistral/tv-chat:us-east-1": us, "mistral/tv-chat:eu-west-1": eu} {
		n := len(fake.Requests())
		resp, err := chatModel(t, h, model)
		if err != nil || len(fake.Requests()) != n+1 || fake.Last().Body["model"] != "tv-mistral" {
			t.Fatalf("%s: %v, requests %d->%d", model, err, n, len(fake.Requests()))
		}
		var meta struct {
			Routing []struct{ Region string } `json:"routing"`
		}
		_ = json.Unmarshal([]byte(resp.JSON.Metadata.Raw()), &meta)
		if len(meta.Routing) != 1 || meta.Routing[0].Region != strings.Split(model, ":")[1] {
			t.Fatalf("%s: metadata %s", model, resp.JSON.Metadata.Raw())
		}
	}
	_, err := chatModel(t, h, "mistral/tv-chat:ap-south-1")
	wantAPIError(t, err, 404, "model_not_found", "")

	// Tiers: the cheapest provider overall is OpenAI (US); EU policies only
	// allow Mistral's EU region.
	if resp, err := chatModel(t, h, "global/tv-chat"); err != nil || resp.Model != "openai/tv-chat" {
		t.Fatalf("global: %v %v", resp, err)
	}
	for _, model := range []string{"eu-sovereign/tv-chat", "eu-hosted-cheapest/tv-chat", "eu-sovereign/cheapest"} {
		n := len(eu.Requests())
		resp, err := chatModel(t, h, model)
		if err != nil || resp.Model != "mistral/tv-chat" || len(eu.Requests()) != n+1 {
			t.Fatalf("%s: %v %v", model, resp, err)
		}
		if !strings.Contains(resp.JSON.Metadata.Raw(), `"jurisdiction":"eu-`) {
			t.Fatalf("%s: metadata %s", model, resp.JSON.Metadata.Raw())
		}
	}
	// Only US operators serve gpt-4o-mini: refused under an EU policy.
	_, err = chatModel(t, h, "eu-sovereign/gpt-4o-mini")
	wantAPIError(t, err, 403, "jurisdiction_violation", "")
	// A tier strategy that contradicts the routing field is a 400.
	_, err = chatModel(t, h, "eu-hosted-cheapest/tv-chat", option.WithJSONSet("routing", "throughput"))
	wantAPIError(t, err, 400, "", "")
}

func TestModelStatuses(t *testing.T) {
	h, _, _ := startPolicyGateway(t)
	_, err := chatModel(t, h, "gpt-4o")
	wantAPIError(t, err, 403, "model_not_allowed", "Model 'gpt-4o' is currently suspended.")
	_, err = chatModel(t, h, "openai/gpt-4o")
	wantAPIError(t, err, 403, "model_not_allowed", "Model 'openai/gpt-4o' is currently suspended.")
	_, err = chatModel(t, h, "gpt-4.1")
	wantAPIError(t, err, 403, "model_not_allowed", "")
	_, err = chatModel(t, h, "gpt-5-mini")
	wantAPIError(t, err, 403, "model_not_allowed", "")
	_, err = chatModel(t, h, "other@example.com/theirs")
	wantAPIError(t, err, 403, "model_not_allowed", "")
	// The setup user (dev@example.com) is on gpt-5's allow-list and owns "mine".
	for _, m := range []string{"gpt-5", "dev@example.com/mine"} {
		if _, err := chatModel(t, h, m); err != nil {
			t.Fatalf("%s: %v", m, err)
		}
	}
	// /v1/models: statuses are listed; HIDDEN models only to admins (the setup
	// user is one), others' private models to nobody but their owner.
	listModels := func(key string) map[string]string {
		req, _ := http.NewRequest("GET", h.base+"/v1/models", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		var list struct {
			Data []struct{ ID, Status string } `json:"data"`
		}
		_ = json.Unmarshal(raw, &list)
		status := map[string]string{}
		for _, m := range list.Data {
			status[m.ID] = m.Status
		}
		return status
	}
	status := listModels(h.setup.APIKey)
	if status["gpt-4o"] != "SUSPENDED" || status["gpt-5"] != "RESTRICTED" || status["gpt-4o-mini"] != "ACTIVE" ||
		status["dev@example.com/mine"] != "ACTIVE" || status["gpt-4.1"] != "HIDDEN" {
		t.Fatalf("admin's statuses = %v", status)
	}
	var project models.Project
	h.srv.DB.DB.Where("id = ?", h.setup.ProjectID).Take(&project)
	_, plainKey, err := h.prov.CreateAPIKey(context.Background(), &project, "no user", "", false)
	if err != nil {
		t.Fatal(err)
	}
	status = listModels(plainKey)
	for _, hidden := range []string{"gpt-4.1", "openai/gpt-4.1", "other@example.com/theirs", "dev@example.com/mine"} {
		if _, ok := status[hidden]; ok {
			t.Fatalf("%s listed to a key without a user", hidden)
		}
	}
	// RESTRICTED by organization.
	content, _ := os.ReadFile(h.srv.Config.ModelsFile)
	restricted := strings.Replace(string(content), "allowedEmails: [someone@else.com]", "allowedOrgs: ["+h.setup.OrganizationID+"]", 1)
	if err := os.WriteFile(h.srv.Config.ModelsFile, []byte(restricted), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := h.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, err := chatModel(t, h, "gpt-5-mini"); err != nil {
		t.Fatalf("allowed organization: %v", err)
	}
}

// TestPinnedLowUptimeReroute: a pinned provider whose uptime fell below 90% is
// replaced by the model's best other provider; X-No-Fallback keeps the pin.
func TestPinnedLowUptimeReroute(t *testing.T) {
	second := fakeupstream.New()
	t.Cleanup(second.Close)
	h := startGateway(t, "sqlite", map[string]string{"LLM_OPENROUTER_API_KEY": "sk-or", "LLM_OPENROUTER_BASE_URL": second.URL})
	h.fake.ForceStatus(500)
	_, err := chatModel(t, h, "openai/gpt-4o-mini")
	wantAPIError(t, err, 502, "", "") // pinned: no cross-provider fallback while uptime is unknown/high
	if len(second.Requests()) != 0 {
		t.Fatal("pinned request fell back")
	}
	resp, err := chatModel(t, h, "openai/gpt-4o-mini")
	if err != nil || resp.Model != "openrouter/gpt-4o-mini" || !strings.Contains(resp.JSON.Metadata.Raw(), `"selectionReason":"low-uptime-fallback"`) {
		t.Fatalf("low uptime: %v %v", resp, err)
	}
	n := len(second.Requests())
	_, err = chatModel(t, h, "openai/gpt-4o-mini", option.WithHeader("X-No-Fallback", "true"))
	wantAPIError(t, err, 502, "", "")
	if len(second.Requests()) != n {
		t.Fatal("X-No-Fallback request was rerouted")
	}
	// X-No-Fallback on a root id: exactly one provider is tried.
	second.ForceStatus(500)
	before := len(h.fake.Requests()) + len(second.Requests())
	_, err = chatModel(t, h, "gpt-4o-mini", option.WithHeader("X-No-Fallback", "true"))
	wantAPIError(t, err, 502, "", "")
	if after := len(h.fake.Requests()) + len(second.Requests()); after != before+1 {
		t.Fatalf("%d upstream attempts with X-No-Fallback", after-before)
	}
}

// TestAutoModel: "auto" picks the cheapest configured model that fits the
// request; free_models_only and no_reasoning narrow the choice; both are
// refused without "auto".
func TestAutoModel(t *testing.T) {
	h := startGateway(t, "sqlite", nil)
	writeModels(t, h, `
  - id: free-chat
    capabilities: [streaming]
    contextLength: 50
    providers:
      - {provider: openai, model: free-chat-v1, free: true}
  - id: tiny-thinker
    capabilities: [streaming, tools, reasoning]
    contextLength: 100000
    providers:
      - {provider: openai, model: tiny-thinker-v1, inputPrice: 0.01, outputPrice: 0.02}
`)
	auto := func(prompt string, extra map[string]any) (*openai.ChatCompletion, error) {
		opts := []option.RequestOption{}
		for k, v := range extra {
			opts = append(opts, option.WithJSONSet(k, v))
		}
		return chatModel(t, h, "auto", append(opts, option.WithJSONSet("messages", []map[string]any{{"role": "user", "content": prompt}}))...)
	}
	// The cheapest model overall is the free one, while the prompt fits its 50-token window.
	if resp, err := auto("hi", nil); err != nil || resp.Model != "openai/free-chat" {
		t.Fatalf("small: %v %v", resp, err)
	}
	if !strings.Contains(h.fake.Last().Body["model"].(string), "free-chat") {
		t.Fatalf("upstream got %v", h.fake.Last().Body)
	}
	if _, ok := h.fake.Last().Body["free_models_only"]; ok {
		t.Fatal("gateway parameter forwarded")
	}
	long := strings.Repeat("word ", 200)
	if resp, err := auto(long, nil); err != nil || resp.Model != "openai/tiny-thinker" {
		t.Fatalf("large prompt: %v %v", resp, err)
	}
	if resp, err := auto(long, map[string]any{"no_reasoning": true}); err != nil || resp.Model == "openai/tiny-thinker" || strings.Contains(resp.Model, "free-chat") {
		t.Fatalf("no_reasoning: %v %v", resp, err)
	}
	_, err := auto(long, map[string]any{"free_models_only": true})
	wantAPIError(t, err, 400, "no_model_available", "")
	if resp, err := auto("hi", map[string]any{"reasoning_effort": "low"}); err != nil || resp.Model != "openai/tiny-thinker" {
		t.Fatalf("reasoning_effort: %v %v", resp, err)
	}
	_, err = chatModel(t, h, "gpt-4o-mini", option.WithJSONSet("free_models_only", true))
	wantAPIError(t, err, 400, "", "")
}

// optMessages replaces the messages of a chatModel request with one user turn.
func optMessages(text string) option.RequestOption {
	return option.WithJSONSet("messages", []map[string]any{{"role": "user", "content": text}})
}

// TestJurisdictionRefusalIsLogged: a request refused under a jurisdiction
// policy keeps the decision in its log row (for the compliance export).
func TestJurisdictionRefusalIsLogged(t *testing.T) {
	h, _, _ := startPolicyGateway(t)
	var raw *httpResponse
	_, err := chatModel(t, h, "eu-sovereign/gpt-4o-mini", option.WithResponseInto(&raw))
	wantAPIError(t, err, 403, "jurisdiction_violation", "")
	rows := h.logs(raw.Header.Get("X-Request-Id"))
	if len(rows) != 1 || rows[0].ErrorType != "jurisdiction_violation" || !strings.Contains(rows[0].RoutingAttempts, `"jurisdiction":"eu-sovereign"`) {
		t.Fatalf("rows = %+v", rows)
	}
	// The master API's request logs show the decision too.
	st, logs := h.call("GET", "/v1/master/logs?model=eu-sovereign/gpt-4o-mini", h.setup.MasterKey, "")
	if st != 200 || !strings.Contains(toJSON(logs), `"jurisdiction":"eu-sovereign"`) {
		t.Fatalf("/v1/master/logs: %d %v", st, logs)
	}
}

// TestProviderPriorityZeroDisables: a provider with priority 0 (models file)
// is removed from routing, as a pin and as a fallback.
func TestProviderPriorityZeroDisables(t *testing.T) {
	second := fakeupstream.New()
	t.Cleanup(second.Close)
	mf := filepath.Join(t.TempDir(), "models.yaml")
	if err := os.WriteFile(mf, []byte("providers:\n  - {id: openrouter, priority: 0}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := startGateway(t, "sqlite", map[string]string{"GATEWAY_MODELS_FILE": mf, "LLM_OPENROUTER_API_KEY": "sk-or", "LLM_OPENROUTER_BASE_URL": second.URL})
	_, err := chatModel(t, h, "openrouter/gpt-4o-mini")
	wantAPIError(t, err, 400, "provider_not_configured", "")
	h.fake.ForceStatus(500)
	_, err = chatModel(t, h, "gpt-4o-mini")
	wantAPIError(t, err, 502, "", "")
	if len(second.Requests()) != 0 {
		t.Fatal("a disabled provider was called")
	}
}

// TestLowUptimeFallbackThreshold: LOW_UPTIME_FALLBACK_THRESHOLD=0 disables
// the reroute of pinned providers.
func TestLowUptimeFallbackThreshold(t *testing.T) {
	second := fakeupstream.New()
	t.Cleanup(second.Close)
	h := startGateway(t, "sqlite", map[string]string{"LLM_OPENROUTER_API_KEY": "sk-or", "LLM_OPENROUTER_BASE_URL": second.URL,
		"LOW_UPTIME_FALLBACK_THRESHOLD": "0"})
	h.fake.ForceStatus(500)
	for range 3 {
		_, err := chatModel(t, h, "openai/gpt-4o-mini")
		wantAPIError(t, err, 502, "", "")
	}
	if len(second.Requests()) != 0 {
		t.Fatal("rerouted with the reroute disabled")
	}
}
