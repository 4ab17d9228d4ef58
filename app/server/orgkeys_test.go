package server_test

import (
	"context"
	"strings"
	"testing"

	"github.com/llmgw/gateway/app/provision"
)

// TestOrganizationProviderKeys: an organization's own provider keys (bring
// your own key) by project mode. hybrid (the default): the org's key first,
// the gateway's when it fails; credits: the gateway's only; api-keys: the
// org's only, including providers the gateway has no key for.
func TestOrganizationProviderKeys(t *testing.T) {
	h := startGateway(t, "sqlite", nil)
	ctx := context.Background()
	// Through the master API: stored encrypted, listed masked, in use at once.
	if st, p := h.call("POST", "/v1/master/provider-keys", h.setup.MasterKey, `{"provider":"openai","token":"org-openai-key","name":"mine"}`); st != 201 || p["token"] == "org-openai-key" {
		t.Fatalf("create: %d %v", st, p)
	}
	if st, p := h.call("POST", "/v1/master/provider-keys", h.setup.MasterKey, `{"provider":"nope","token":"x"}`); st != 400 {
		t.Fatalf("unknown provider: %d %v", st, p)
	}
	// The gateway has no Anthropic key of its own.
	if _, err := h.srv.Prov.AddProviderKey(ctx, h.setup.OrganizationID, provision.CLI, "anthropic", "mine", h.fake.URL, "org-anthropic-key"); err != nil {
		t.Fatal(err)
	}
	if err := h.srv.OrgKeys.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if st, list := h.call("GET", "/v1/master/provider-keys", h.setup.MasterKey, ""); st != 200 || len(list["providerKeys"].([]any)) != 2 || strings.Contains(toJSON(list), "org-openai-key") {
		t.Fatalf("list: %d %v", st, list)
	}
	usedKey := func() string {
		r := h.fake.Last()
		if k := r.Header.Get("x-api-key"); k != "" {
			return k
		}
		return strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	}
	setMode := func(mode string) {
		if st, p := h.call("PATCH", "/v1/master/projects/"+h.setup.ProjectID, h.setup.MasterKey, `{"mode":"`+mode+`"}`); st != 200 {
			t.Fatalf("mode %s: %d %v", mode, st, p)
		}
	}

	setMode("hybrid")
	if _, err := chatModel(t, h, "openai/gpt-4o-mini"); err != nil || usedKey() != "org-openai-key" {
		t.Fatalf("hybrid: %v, key %q", err, usedKey())
	}
	h.fake.KeyStatus("org-openai-key", 401) // the org's key fails: the gateway's takes over
	if _, err := chatModel(t, h, "openai/gpt-4o-mini"); err != nil || usedKey() != "sk-upstream-test" {
		t.Fatalf("hybrid fallback: %v, key %q", err, usedKey())
	}
	h.fake.KeyStatus("org-openai-key", 0)

	setMode("credits")
	if _, err := chatModel(t, h, "openai/gpt-4o-mini"); err != nil || usedKey() != "sk-upstream-test" {
		t.Fatalf("credits: %v, key %q", err, usedKey())
	}
	_, err := chatModel(t, h, "claude-haiku-4-5")
	wantAPIError(t, err, 400, "provider_not_configured", "")

	setMode("api-keys")
	if resp, err := chatModel(t, h, "claude-haiku-4-5"); err != nil || usedKey() != "org-anthropic-key" || resp.Model != "anthropic/claude-haiku-4-5" {
		t.Fatalf("api-keys, provider the gateway has no key for: %v %v, key %q", resp, err, usedKey())
	}
	_, err = chatModel(t, h, "gemini-2.5-flash")
	wantAPIError(t, err, 400, "provider_not_configured", "")

	// Deactivated through the API: api-keys mode has nothing left for OpenAI.
	_, list := h.call("GET", "/v1/master/provider-keys", h.setup.MasterKey, "")
	for _, k := range list["providerKeys"].([]any) {
		if k.(map[string]any)["provider"] == "openai" {
			if st, _ := h.call("PATCH", "/v1/master/provider-keys/"+k.(map[string]any)["id"].(string), h.setup.MasterKey, `{"status":"inactive"}`); st != 200 {
				t.Fatalf("deactivate: %d", st)
			}
		}
	}
	_, err = chatModel(t, h, "openai/gpt-4o-mini")
	wantAPIError(t, err, 400, "provider_not_configured", "")
}
