package openai

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"strings"

	"github.com/llmgw/gateway/app/providers"
	"github.com/llmgw/gateway/app/schema"
)

// The neutral schema carries two of OpenRouter's extensions to the Chat
// Completions format: the reasoning object ({"effort","max_tokens","exclude",
// "enabled"}) and reasoning_details on messages (reasoning blocks with their
// signatures, sent back in tool loops). OpenRouter takes both as they are.
// OpenAI and Azure OpenAI answer 400 to the reasoning object ("Unknown
// parameter: 'reasoning'"), and strict compatible servers (Groq, Mistral, ...)
// to unknown message fields, so for every other upstream of this adapter:
//
//   - reasoning.effort becomes reasoning_effort, unless the request has one;
//     reasoning.enabled true without an effort or a token budget becomes
//     reasoning_effort "medium" (OpenRouter's default); max_tokens, exclude
//     and enabled false have no Chat Completions equivalent and are dropped;
//   - reasoning_details are removed from the messages: only the provider that
//     issued them can use them (an Anthropic upstream gets them through the
//     anthropic adapter).

// openRouterHost is the API host of OpenRouter.
const openRouterHost = "openrouter.ai"

// takesExtensions reports whether the upstream is OpenRouter: provider id
// "openrouter" or a base URL on its host. Azure never is.
func (p *Provider) takesExtensions(t providers.Target) bool {
	if p.azureVersion != "" {
		return false
	}
	if t.Provider == "openrouter" {
		return true
	}
	u, err := url.Parse(t.BaseURL)
	if err != nil {
		return false
	}
	h := strings.ToLower(u.Hostname())
	return h == openRouterHost || strings.HasSuffix(h, "."+openRouterHost)
}

// reasoningObject is the neutral (OpenRouter) reasoning parameter.
type reasoningObject struct {
	Effort    *string `json:"effort"`
	MaxTokens *int    `json:"max_tokens"`
	Enabled   *bool   `json:"enabled"`
}

// toChatCompletions rewrites r (a copy the caller owns; its slices are
// shared with the caller's request and only replaced, never written) for an
// upstream without OpenRouter's extensions.
func toChatCompletions(provider string, r *schema.ChatRequest) error {
	if raw := bytes.TrimSpace(r.Reasoning); len(raw) > 0 {
		var ro reasoningObject
		if raw[0] != '{' || json.Unmarshal(raw, &ro) != nil {
			msg := "reasoning must be an object."
			return &providers.Error{Kind: providers.KindUnsupported, Provider: provider, Param: "reasoning",
				Message: msg, Err: errors.New(msg)}
		}
		if r.ReasoningEffort == "" {
			switch {
			case ro.Effort != nil:
				r.ReasoningEffort = *ro.Effort
			case ro.Enabled != nil && *ro.Enabled && ro.MaxTokens == nil:
				r.ReasoningEffort = "medium"
			}
		}
		r.Reasoning = nil
	}
	for i := range r.Messages {
		if len(r.Messages[i].ReasoningDetails) == 0 {
			continue
		}
		msgs := make([]schema.Message, len(r.Messages))
		copy(msgs, r.Messages)
		for j := i; j < len(msgs); j++ {
			msgs[j].ReasoningDetails = nil
		}
		r.Messages = msgs
		break
	}
	return nil
}
