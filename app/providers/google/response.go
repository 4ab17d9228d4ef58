package google

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/llmgw/gateway/app/providers"
	"github.com/llmgw/gateway/app/schema"
)

// Chat implements providers.Provider.
func (p *Provider) Chat(ctx context.Context, t providers.Target, req *schema.ChatRequest) (*schema.ChatResponse, error) {
	g, err := buildRequest(t.Provider, t.Model, req)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(g)
	if err != nil {
		return nil, invalidRequest(t.Provider, "", "The request could not be encoded: "+err.Error())
	}
	resp, err := p.post(ctx, t, "generateContent", body, "application/json")
	if err != nil {
		return nil, err
	}
	b, err := readAll(ctx, t, resp)
	if err != nil {
		return nil, err
	}
	var env responseEnvelope
	if b = bytes.TrimSpace(b); len(b) == 0 || b[0] != '{' {
		if f, ok := parseErrorBody(b); ok {
			return nil, payloadError(t.Provider, f)
		}
		return nil, badResponse(t.Provider, "invalid generateContent JSON", nil)
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, badResponse(t.Provider, "invalid generateContent JSON", err)
	}
	if !isNull(env.Error) {
		f, _ := parseErrorBody(b)
		return nil, payloadError(t.Provider, f)
	}
	if len(env.Candidates) == 0 && (env.PromptFeedback == nil || env.PromptFeedback.BlockReason == "") {
		return nil, badResponse(t.Provider, "generateContent answer without candidates", nil)
	}
	return chatFromGenerate(&env.GenerateResponse, t.Model, time.Now().Unix()), nil
}

// responseEnvelope decodes an answer while noticing an error object in it.
type responseEnvelope struct {
	GenerateResponse
	Error json.RawMessage `json:"error"`
}

// chatFromGenerate translates a complete generateContent answer. A prompt
// blocked before generation (promptFeedback.blockReason, no candidates) is an
// answer, not a failure: one empty choice finished by "content_filter".
func chatFromGenerate(g *GenerateResponse, model string, created int64) *schema.ChatResponse {
	ids := newIDs(g.ResponseID)
	out := &schema.ChatResponse{
		ID:      ids.responseID,
		Object:  "chat.completion",
		Created: created,
		Model:   orDefault(g.ModelVersion, model),
		Choices: []schema.Choice{},
		Usage:   usageFrom(g.UsageMetadata),
	}
	if len(g.Candidates) == 0 {
		out.Choices = append(out.Choices, schema.Choice{
			Message:      schema.Message{Role: "assistant", Content: schema.TextContent("")},
			FinishReason: "content_filter",
		})
		return out
	}
	for _, c := range g.Candidates {
		var parts []Part
		if c.Content != nil {
			parts = c.Content.Parts
		}
		text, reasoning, calls := translateParts(parts, ids)
		msg := schema.Message{Role: "assistant", Reasoning: reasoning, ToolCalls: calls}
		if text != "" || len(calls) == 0 {
			// OpenAI's convention: null content only beside tool calls.
			msg.Content = schema.TextContent(text)
		}
		out.Choices = append(out.Choices, schema.Choice{
			Index:        c.Index,
			Message:      msg,
			FinishReason: finishReason(c.FinishReason, len(calls) > 0),
		})
	}
	return out
}

// translateParts splits a candidate's parts into answer text, thought text
// and tool calls. Parts the OpenAI format cannot carry (inline media output,
// executable code of server-side tools, which the adapter never enables) are
// left out.
func translateParts(parts []Part, ids *idGen) (text, reasoning string, calls []schema.ToolCall) {
	var tb, rb strings.Builder
	for _, p := range parts {
		switch {
		case p.FunctionCall != nil:
			calls = append(calls, schema.ToolCall{
				ID:   ids.call(p.FunctionCall.ID),
				Type: "function",
				Function: schema.ToolCallFunction{
					Name:      p.FunctionCall.Name,
					Arguments: argsString(p.FunctionCall.Args),
				},
			})
		case p.Thought:
			rb.WriteString(p.Text)
		default:
			tb.WriteString(p.Text)
		}
	}
	return tb.String(), rb.String(), calls
}

// argsString renders function call arguments as the compact JSON object
// OpenAI clients parse; absent arguments are "{}".
func argsString(args json.RawMessage) string {
	if isNull(args) {
		return "{}"
	}
	return string(compactJSON(args))
}

// finishReason maps Gemini's finishReason to OpenAI's. A STOP that produced
// function calls is "tool_calls"; the blocking reasons are
// "content_filter"; MAX_TOKENS is "length"; anything else (OTHER,
// MALFORMED_FUNCTION_CALL, LANGUAGE, ...) is "stop".
func finishReason(r string, hasCalls bool) string {
	switch r {
	case "MAX_TOKENS":
		return "length"
	case "SAFETY", "RECITATION", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII",
		"IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION":
		return "content_filter"
	}
	if hasCalls {
		return "tool_calls"
	}
	return "stop"
}

// usageFrom translates usageMetadata; nil when Gemini reported none.
// Gemini's promptTokenCount already includes the cached tokens, as OpenAI's
// prompt_tokens does. Thinking tokens are billed as output, so they count as
// completion tokens (and as reasoning_tokens). Tokens of server-side tool
// results (toolUsePromptTokenCount) are input: they join prompt_tokens.
func usageFrom(m *UsageMetadata) *schema.Usage {
	if m == nil {
		return nil
	}
	u := &schema.Usage{
		PromptTokens:            m.PromptTokenCount + m.ToolUsePromptTokenCount,
		CompletionTokens:        m.CandidatesTokenCount + m.ThoughtsTokenCount,
		TotalTokens:             m.TotalTokenCount,
		PromptTokensDetails:     &schema.PromptTokensDetails{CachedTokens: m.CachedContentTokenCount},
		CompletionTokensDetails: &schema.CompletionTokensDetails{ReasoningTokens: m.ThoughtsTokenCount},
	}
	if u.TotalTokens == 0 {
		u.TotalTokens = u.PromptTokens + u.CompletionTokens
	}
	return u
}

// idGen names a response and its tool calls. Tool call ids are
// call_<response>_<n>: deterministic for one response (stream and
// non-stream agree), and distinct across the turns of a conversation, which
// some providers a conversation may be routed to next require. An id Gemini
// gave a call itself is kept.
type idGen struct {
	responseID string
	callPrefix string
	n          int
}

func newIDs(responseID string) *idGen {
	g := &idGen{responseID: responseID}
	if responseID == "" {
		g.responseID = "chatcmpl-" + randomID()
	}
	key := strings.TrimPrefix(g.responseID, "chatcmpl-")
	var b strings.Builder
	for i := 0; i < len(key) && b.Len() < 24; i++ {
		if c := key[i]; c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteByte(c)
		}
	}
	g.callPrefix = "call_" + b.String() + "_"
	return g
}

func (g *idGen) call(upstreamID string) string {
	n := g.n
	g.n++
	if upstreamID != "" {
		return upstreamID
	}
	return g.callPrefix + strconv.Itoa(n)
}

const idAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func randomID() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
	}
	return string(b[:])
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
