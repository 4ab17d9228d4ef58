package openai

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/llmgw/gateway/app/providers"
	"github.com/llmgw/gateway/app/providers/providertest"
)

const detailsMessages = `"messages":[{"role":"user","content":"q"},
	{"role":"assistant","content":"a","reasoning":"r","reasoning_details":[{"type":"reasoning.text","text":"r","signature":"sig","format":"anthropic-claude-v1","index":0}]},
	{"role":"user","content":"again"}]`

// TestReasoningDialect: the neutral reasoning object and reasoning_details go
// to OpenRouter as they are; OpenAI, Azure and other compatible upstreams get
// reasoning_effort and no reasoning_details.
func TestReasoningDialect(t *testing.T) {
	tests := []struct {
		name, body string
		effort     any // reasoning_effort sent (nil: none)
	}{
		{"effort", `{"model":"m",` + detailsMessages + `,"reasoning":{"effort":"high","max_tokens":100,"exclude":true}}`, "high"},
		{"effort already set", `{"model":"m",` + detailsMessages + `,"reasoning_effort":"low","reasoning":{"effort":"high"}}`, "low"},
		{"max_tokens only", `{"model":"m",` + detailsMessages + `,"reasoning":{"max_tokens":2000}}`, nil},
		{"enabled", `{"model":"m",` + detailsMessages + `,"reasoning":{"enabled":true}}`, "medium"},
		{"disabled", `{"model":"m",` + detailsMessages + `,"reasoning":{"enabled":false}}`, nil},
		{"no reasoning", `{"model":"m",` + detailsMessages + `}`, nil},
	}
	u := newUpstream(t, providertest.Respond(200, "application/json", providertest.Fixture(t, "chat_tool_calls.json")))
	azure, azureLast := azureResource(t, providertest.Respond(200, "application/json", providertest.Fixture(t, "chat_tool_calls.json")))
	openRouter := u.target()
	openRouter.Provider = "openrouter"
	for _, tc := range tests {
		for _, up := range []struct {
			name       string
			p          *Provider
			t          providers.Target
			last       func() []byte
			extensions bool
		}{
			{"compatible", New(u.Client()), u.target(), func() []byte { return u.Last(t).Body }, false},
			{"openai", New(u.Client()), providers.Target{Provider: "openai", Model: "gpt-5", BaseURL: u.URL}, func() []byte { return u.Last(t).Body }, false},
			{"azure", NewAzure(azure.Client(), ""), azureTarget(azure), func() []byte { return azureLast().body }, false},
			{"openrouter", New(u.Client()), openRouter, func() []byte { return u.Last(t).Body }, true},
		} {
			for _, stream := range []bool{false, true} {
				req := providertest.ChatRequest(t, tc.body)
				before, _ := json.Marshal(req)
				var err error
				if stream {
					// The fake answers JSON: the stream fails after the request was sent.
					_, err = up.p.ChatStream(context.Background(), up.t, req)
				} else {
					_, err = up.p.Chat(context.Background(), up.t, req)
				}
				if !stream && err != nil {
					t.Fatalf("%s/%s: %v", tc.name, up.name, err)
				}
				var got map[string]any
				if err := json.Unmarshal(up.last(), &got); err != nil {
					t.Fatal(err)
				}
				var want map[string]any
				_ = json.Unmarshal([]byte(tc.body), &want)
				msgs := got["messages"].([]any)
				_, hasDetails := msgs[1].(map[string]any)["reasoning_details"]
				if up.extensions {
					if !reflect.DeepEqual(got["reasoning"], want["reasoning"]) || !reflect.DeepEqual(got["reasoning_effort"], want["reasoning_effort"]) || !hasDetails {
						t.Errorf("%s/%s: OpenRouter got %v %v, details %v", tc.name, up.name, got["reasoning"], got["reasoning_effort"], hasDetails)
					}
				} else {
					if _, ok := got["reasoning"]; ok || !reflect.DeepEqual(got["reasoning_effort"], tc.effort) || hasDetails {
						t.Errorf("%s/%s: got reasoning %v, reasoning_effort %v, details %v", tc.name, up.name, got["reasoning"], got["reasoning_effort"], hasDetails)
					}
					if msgs[1].(map[string]any)["reasoning"] != "r" {
						t.Errorf("%s/%s: the message's reasoning text was dropped: %v", tc.name, up.name, msgs[1])
					}
				}
				if after, _ := json.Marshal(req); string(after) != string(before) {
					t.Errorf("%s/%s: the caller's request was mutated", tc.name, up.name)
				}
			}
		}
	}
}

func TestReasoningDialectOpenRouterHost(t *testing.T) {
	p := New(nil)
	for base, want := range map[string]bool{
		"https://openrouter.ai/api":     true,
		"https://eu.openrouter.ai/api/": true,
		"https://api.openai.com":        false,
		"https://notopenrouter.ai/api":  false,
		"::bad":                         false,
	} {
		if got := p.takesExtensions(providers.Target{Provider: "custom", BaseURL: base}); got != want {
			t.Errorf("%s: %v", base, got)
		}
	}
	if NewAzure(nil, "").takesExtensions(providers.Target{Provider: "openrouter"}) {
		t.Error("azure")
	}
}

func TestReasoningNotAnObject(t *testing.T) {
	u := newUpstream(t, providertest.Respond(200, "application/json", providertest.Fixture(t, "chat_tool_calls.json")))
	_, err := New(u.Client()).Chat(context.Background(), u.target(), providertest.ChatRequest(t, `{"model":"m","messages":[{"role":"user","content":"q"}],"reasoning":"high"}`))
	pe := asError(t, err, providers.KindUnsupported)
	if pe.Param != "reasoning" || pe.API().Status != 400 {
		t.Errorf("%+v", pe)
	}
	if len(u.Requests()) != 0 {
		t.Error("sent upstream")
	}
}
