package testprovider

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/llmgw/gateway/app/providers"
	"github.com/llmgw/gateway/app/schema"
)

const maxN = 128 // OpenAI's limit for n

// reply is the planned answer of one request, shared by Chat and ChatStream so
// that a stream always concatenates to the non-streaming answer.
type reply struct {
	id      string
	created int64
	n       int

	pieces []string // the answer split into words, each with its trailing space
	text   string
	finish string

	toolID, toolName, toolArgs string // set for a tool call

	usage schema.Usage
}

func (r *reply) isToolCall() bool { return r.toolName != "" }

// plan validates the request and computes the answer.
func (p *Provider) plan(ctx context.Context, t providers.Target, req *schema.ChatRequest) (*reply, error) {
	switch t.Model {
	case ModelEcho:
	case ModelEmbed:
		return nil, statusError(t, 400, "The model `embed` is an embedding model and does not support chat completions.", "model_not_supported", "model")
	default:
		return nil, modelNotFound(t)
	}
	if err := ctxError(ctx, t); err != nil {
		return nil, err
	}
	if len(req.Messages) == 0 {
		return nil, statusError(t, 400, "[] is too short - 'messages'", "", "messages")
	}
	r := &reply{id: newID("chatcmpl-test-"), created: time.Now().Unix(), n: 1}
	if req.N != nil {
		if *req.N < 1 || *req.N > maxN {
			return nil, statusError(t, 400, fmt.Sprintf("Invalid 'n': expected a value between 1 and %d, but got %d instead.", maxN, *req.N), "", "n")
		}
		r.n = *req.N
	}
	limit, param := maxWords(req)
	if param != "" && limit < 1 {
		return nil, statusError(t, 400, fmt.Sprintf("Invalid '%s': integer below minimum value. Expected a value >= 1, but got %d instead.", param, limit), "integer_below_min_value", param)
	}

	last := lastUserText(req.Messages)
	var completion int
	if name, args, ok := parseCall(last); ok && len(req.Tools) > 0 && !toolChoiceNone(req) {
		r.toolID, r.toolName, r.toolArgs = newID("call_"), name, args
		r.finish = "tool_calls"
		completion = p.countTokens(name + " " + args)
	} else {
		r.pieces = splitWords("echo: " + last)
		r.finish = "stop"
		if param != "" && len(r.pieces) > limit {
			r.pieces = r.pieces[:limit]
			r.pieces[limit-1] = strings.TrimRightFunc(r.pieces[limit-1], unicode.IsSpace)
			r.finish = "length"
		}
		r.text = strings.Join(r.pieces, "")
		completion = p.countTokens(r.text)
	}

	// prompt_tokens: the sum over messages of the token count of the message's
	// role, text and tool calls joined by spaces. Simple and stable, which is
	// all a test provider needs to promise.
	prompt := 0
	for i := range req.Messages {
		prompt += p.countTokens(messageText(&req.Messages[i]))
	}
	completion *= r.n
	r.usage = schema.Usage{PromptTokens: prompt, CompletionTokens: completion, TotalTokens: prompt + completion}
	return r, nil
}

// maxWords returns the smaller of max_tokens and max_completion_tokens and the
// name of the one that applies; param is "" when neither was sent.
func maxWords(req *schema.ChatRequest) (limit int, param string) {
	if req.MaxTokens != nil {
		limit, param = *req.MaxTokens, "max_tokens"
	}
	if m := req.MaxCompletionTokens; m != nil && (param == "" || *m < limit) {
		limit, param = *m, "max_completion_tokens"
	}
	return limit, param
}

func lastUserText(msgs []schema.Message) string {
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role == "user" {
			return msgs[i].Content.String()
		}
	}
	return ""
}

func messageText(m *schema.Message) string {
	parts := []string{m.Role}
	if s := m.Content.String(); s != "" {
		parts = append(parts, s)
	}
	for _, tc := range m.ToolCalls {
		parts = append(parts, tc.Function.Name, tc.Function.Arguments)
	}
	return strings.Join(parts, " ")
}

// parseCall recognises "call <name> [arguments]"; arguments default to "{}".
func parseCall(text string) (name, args string, ok bool) {
	rest, found := strings.CutPrefix(text, "call ")
	if !found {
		return "", "", false
	}
	rest = strings.TrimSpace(rest)
	if rest == "" {
		return "", "", false
	}
	name, args = rest, ""
	if i := strings.IndexFunc(rest, unicode.IsSpace); i >= 0 {
		name, args = rest[:i], strings.TrimSpace(rest[i:])
	}
	if args == "" {
		args = "{}"
	}
	return name, args, true
}

func toolChoiceNone(req *schema.ChatRequest) bool {
	return strings.TrimSpace(string(req.ToolChoice)) == `"none"`
}

// splitWords cuts s before each word but the first, so every piece is a word
// with the whitespace that follows it and the pieces concatenate to s.
func splitWords(s string) []string {
	var out []string
	start, sawWord, prevSpace := 0, false, false
	for i, r := range s {
		space := unicode.IsSpace(r)
		if !space && prevSpace && sawWord {
			out = append(out, s[start:i])
			start = i
		}
		if !space {
			sawWord = true
		}
		prevSpace = space
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

// Chat implements providers.Provider.
func (p *Provider) Chat(ctx context.Context, t providers.Target, req *schema.ChatRequest) (*schema.ChatResponse, error) {
	r, err := p.plan(ctx, t, req)
	if err != nil {
		return nil, err
	}
	resp := &schema.ChatResponse{
		ID: r.id, Object: "chat.completion", Created: r.created, Model: t.Model,
		Choices: make([]schema.Choice, r.n),
	}
	for i := range resp.Choices {
		msg := schema.Message{Role: "assistant"}
		if r.isToolCall() {
			msg.ToolCalls = []schema.ToolCall{{ID: r.toolID, Type: "function",
				Function: schema.ToolCallFunction{Name: r.toolName, Arguments: r.toolArgs}}}
		} else {
			msg.Content = schema.TextContent(r.text)
		}
		resp.Choices[i] = schema.Choice{Index: i, Message: msg, FinishReason: r.finish}
	}
	u := r.usage
	resp.Usage = &u
	return resp, nil
}
