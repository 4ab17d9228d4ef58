package odock

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/llmgw/gateway/app/schema"
)

// providerAliases maps Odock provider names to gateway provider ids where
// they differ. Odock's document names OpenAI, Anthropic, Gemini and vLLM
// providers; the gateway calls Google's API "google-ai-studio".
var providerAliases = map[string]string{
	"gemini": "google-ai-studio",
	"google": "google-ai-studio",
}

// GatewayProvider returns the gateway provider id for an Odock provider name
// (lower-cased; aliases applied).
func GatewayProvider(name string) string {
	name = strings.ToLower(strings.TrimSpace(name))
	if id, ok := providerAliases[name]; ok {
		return id
	}
	return name
}

// OdockProvider returns the name Odock clients know for a gateway provider id
// (the reverse of GatewayProvider).
func OdockProvider(id string) string {
	if id == "google-ai-studio" {
		return "gemini"
	}
	return id
}

// GatewayModel is the gateway model id for an Odock provider and model: the
// model alone when no provider is given (the catalog and routing choose the
// provider, as the document says), otherwise "provider/model", which pins the
// request to that provider. A model already prefixed with the provider
// ("openai/gpt-4o" with provider "openai") is kept; any other model
// containing a slash is still prefixed ("openrouter" + "openai/gpt-4o-mini"
// -> "openrouter/openai/gpt-4o-mini", OpenRouter's own model id), so the
// provider always wins and an impossible pair is answered "model not found".
func GatewayModel(provider, model string) string {
	if provider == "" {
		return model
	}
	p := GatewayProvider(provider)
	if rest, ok := strings.CutPrefix(model, provider+"/"); ok && provider != p {
		return p + "/" + rest // "gemini/gemini-2.5-pro" -> "google-ai-studio/gemini-2.5-pro"
	}
	if strings.HasPrefix(model, p+"/") {
		return model
	}
	return p + "/" + model
}

// ToChat translates a request into the gateway's neutral (OpenAI) request.
// Errors are *FieldError. The mapping:
//
//   - provider + model -> Model (GatewayModel);
//   - temperature, top_p, presence_penalty, frequency_penalty, seed as is;
//     max_tokens -> max_completion_tokens (OpenAI's current name, the only one
//     its reasoning models accept; the /v1/messages endpoint does the same);
//   - top_k -> Extra["top_k"] (vLLM and other OpenAI-compatible servers
//     accept it); metadata -> Extra["metadata"], as sent;
//   - stop_sequences -> stop (an array);
//   - response_format -> OpenAI response_format ({type}, or {type:
//     json_schema, json_schema: {name, schema, ...}});
//   - tools -> function tools; tool_choice auto/none/required -> the same
//     string, tool -> {type: function, function: {name}} (the tool must be
//     declared; without tools, auto and none are dropped and others refused);
//   - stream -> stream with stream_options.include_usage (the done event
//     reports the tokens);
//   - messages: string content as is; text and image blocks -> OpenAI parts;
//     an assistant's tool_use blocks and tool_calls -> tool_calls, its text
//     -> a string content (null with only tool calls); thinking blocks are
//     dropped (OpenAI messages have no place for them); a user turn's
//     tool_result blocks -> role "tool" messages, in order, ahead of a user
//     message with the turn's other blocks (is_error has no OpenAI
//     equivalent and is dropped).
func ToChat(r *Request) (*schema.ChatRequest, error) {
	if r == nil {
		return nil, errf("", "the request is empty")
	}
	if strings.TrimSpace(r.Model) == "" {
		return nil, errf("model", "is required")
	}
	if len(r.Messages) == 0 {
		return nil, errf("messages", "must contain at least one message")
	}
	if strings.ContainsAny(r.Provider, "/ \t\r\n") {
		return nil, errf("provider", "must be a provider name such as \"openai\", got %q", r.Provider)
	}
	out := &schema.ChatRequest{
		Model:               GatewayModel(r.Provider, r.Model),
		Stream:              r.Stream,
		MaxCompletionTokens: clone(r.MaxTokens),
		Temperature:         clone(r.Temperature),
		TopP:                clone(r.TopP),
		Seed:                clone(r.Seed),
		PresencePenalty:     clone(r.PresencePenalty),
		FrequencyPenalty:    clone(r.FrequencyPenalty),
	}
	if r.Stream {
		out.StreamOptions = &schema.StreamOptions{IncludeUsage: true}
	}
	if r.TopK != nil {
		setExtra(out, "top_k", json.RawMessage(strconv.Itoa(*r.TopK)))
	}
	if len(r.Metadata) > 0 {
		if kind(r.Metadata) != "object" || !json.Valid(r.Metadata) {
			return nil, errf("metadata", "must be a JSON object")
		}
		setExtra(out, "metadata", compact(r.Metadata))
	}
	if len(r.StopSequences) > 0 {
		out.Stop, _ = json.Marshal(r.StopSequences)
	}
	var err error
	if out.ResponseFormat, err = responseFormat(r.ResponseFormat); err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for i, t := range r.Tools {
		p := fmt.Sprintf("tools[%d]", i)
		if t.Name == "" {
			return nil, errf(p+".name", "is required")
		}
		if t.Type != "" && t.Type != "function" {
			return nil, errf(p+".type", "must be \"function\", got %q", t.Type)
		}
		if len(t.Parameters) > 0 && (kind(t.Parameters) != "object" || !json.Valid(t.Parameters)) {
			return nil, errf(p+".parameters", "must be a JSON object")
		}
		names[t.Name] = true
		fn := schema.ToolFunction{Name: t.Name, Description: t.Description, Strict: clone(t.Strict)}
		if len(t.Parameters) > 0 {
			fn.Parameters = compact(t.Parameters)
		}
		out.Tools = append(out.Tools, schema.Tool{Type: "function", Function: fn})
	}
	if out.ToolChoice, err = toolChoice(r.ToolChoice, names, len(r.Tools) > 0); err != nil {
		return nil, err
	}
	for i := range r.Messages {
		msgs, err := toChatMessages(fmt.Sprintf("messages[%d]", i), &r.Messages[i])
		if err != nil {
			return nil, err
		}
		out.Messages = append(out.Messages, msgs...)
	}
	return out, nil
}

func responseFormat(f *ResponseFormat) (json.RawMessage, error) {
	if f == nil {
		return nil, nil
	}
	switch f.Type {
	case "text", "json_object":
		return json.Marshal(map[string]string{"type": f.Type})
	case "json_schema":
		if kind(f.JSONSchema) != "object" || !json.Valid(f.JSONSchema) {
			return nil, errf("response_format.json_schema", "must be a JSON object")
		}
		return json.Marshal(struct {
			Type       string          `json:"type"`
			JSONSchema json.RawMessage `json:"json_schema"`
		}{f.Type, compact(f.JSONSchema)})
	}
	return nil, errf("response_format.type", "must be one of text, json_object, json_schema, got %q", f.Type)
}

func toolChoice(c *ToolChoice, names map[string]bool, haveTools bool) (json.RawMessage, error) {
	if c == nil {
		return nil, nil
	}
	switch c.Type {
	case ChoiceAuto, ChoiceNone:
		if !haveTools {
			return nil, nil // OpenAI refuses tool_choice without tools; it means nothing then
		}
		return json.Marshal(c.Type)
	case ChoiceRequired:
		if !haveTools {
			return nil, errf("tool_choice", "%q needs tools", c.Type)
		}
		return json.Marshal(c.Type)
	case ChoiceTool, "function":
		if c.Name == "" {
			return nil, errf("tool_choice.name", "is required")
		}
		if !names[c.Name] {
			return nil, errf("tool_choice.name", "no tool named %q in tools", c.Name)
		}
		type fn struct {
			Name string `json:"name"`
		}
		return json.Marshal(struct {
			Type     string `json:"type"`
			Function fn     `json:"function"`
		}{"function", fn{c.Name}})
	}
	return nil, errf("tool_choice.type", "must be one of auto, none, required, tool, got %q", c.Type)
}

// toChatMessages translates one message; a user turn with tool results gives
// several.
func toChatMessages(path string, m *Message) ([]schema.Message, error) {
	allowed, ok := blockTypes[m.Role]
	if !ok {
		return nil, errf(path+".role", "must be one of %s, got %q", strings.Join(roles, ", "), m.Role)
	}
	for i, b := range m.Content.Blocks {
		if !slices.Contains(allowed, b.Type) {
			return nil, errf(fmt.Sprintf("%s.content[%d].type", path, i), "%q blocks are not allowed in %s messages (allowed: %s)",
				b.Type, m.Role, strings.Join(allowed, ", "))
		}
	}
	if len(m.ToolCalls) > 0 && m.Role != "assistant" {
		return nil, errf(path+".tool_calls", "is only allowed in messages with role \"assistant\"")
	}
	switch m.Role {
	case "assistant":
		return assistantMessage(path, m)
	case "user":
		return userMessages(path, m)
	case "tool":
		if m.ToolCallID == "" {
			return nil, errf(path+".tool_call_id", "is required in messages with role \"tool\"")
		}
		if m.Content.IsNull() {
			return nil, errf(path+".content", "is required")
		}
		return []schema.Message{{Role: "tool", ToolCallID: m.ToolCallID, Name: m.Name, Content: textContent(m.Content)}}, nil
	}
	if m.Content.IsNull() {
		return nil, errf(path+".content", "is required")
	}
	return []schema.Message{{Role: m.Role, Name: m.Name, Content: textContent(m.Content)}}, nil
}

func assistantMessage(path string, m *Message) ([]schema.Message, error) {
	out := schema.Message{Role: "assistant", Name: m.Name}
	var texts []string
	for i, b := range m.Content.Blocks {
		switch b.Type {
		case BlockText:
			texts = append(texts, b.Text)
		case BlockToolUse:
			if b.ID == "" || b.Name == "" {
				return nil, errf(fmt.Sprintf("%s.content[%d]", path, i), "tool_use blocks need an id and a name")
			}
			args := "{}"
			if len(b.Input) > 0 {
				if !json.Valid(b.Input) {
					return nil, errf(fmt.Sprintf("%s.content[%d].input", path, i), "must be valid JSON")
				}
				args = string(compact(b.Input))
			}
			out.ToolCalls = append(out.ToolCalls, schema.ToolCall{ID: b.ID, Type: "function",
				Function: schema.ToolCallFunction{Name: b.Name, Arguments: args}})
		}
	}
	for i, tc := range m.ToolCalls {
		if tc.ID == "" || tc.Name == "" {
			return nil, errf(fmt.Sprintf("%s.tool_calls[%d]", path, i), "tool calls need an id and a name")
		}
		args := tc.Arguments
		if args == "" {
			args = "{}"
		}
		out.ToolCalls = append(out.ToolCalls, schema.ToolCall{ID: tc.ID, Type: "function",
			Function: schema.ToolCallFunction{Name: tc.Name, Arguments: args}})
	}
	switch {
	case m.Content.Text != nil:
		out.Content = schema.TextContent(*m.Content.Text)
	case len(texts) == 1:
		out.Content = schema.TextContent(texts[0])
	case len(texts) > 1:
		parts := make([]schema.ContentPart, len(texts))
		for i, t := range texts {
			parts[i] = schema.ContentPart{Type: "text", Text: t}
		}
		out.Content = schema.Content{Parts: parts}
	case len(out.ToolCalls) == 0:
		// Only thinking blocks: an empty turn rather than a null content,
		// which OpenAI refuses without tool calls.
		out.Content = schema.TextContent("")
	}
	return []schema.Message{out}, nil
}

func userMessages(path string, m *Message) ([]schema.Message, error) {
	if m.Content.IsNull() {
		return nil, errf(path+".content", "is required")
	}
	if m.Content.Text != nil {
		return []schema.Message{{Role: "user", Name: m.Name, Content: schema.TextContent(*m.Content.Text)}}, nil
	}
	var out []schema.Message
	var parts []schema.ContentPart
	for i, b := range m.Content.Blocks {
		switch b.Type {
		case BlockText:
			parts = append(parts, schema.ContentPart{Type: "text", Text: b.Text})
		case BlockImageURL, BlockImage:
			if b.ImageURL == nil || b.ImageURL.URL == "" {
				return nil, errf(fmt.Sprintf("%s.content[%d].image_url.url", path, i), "is required")
			}
			u := *b.ImageURL
			parts = append(parts, schema.ContentPart{Type: "image_url", ImageURL: &u})
		case BlockToolResult:
			if b.ToolUseID == "" {
				return nil, errf(fmt.Sprintf("%s.content[%d].tool_use_id", path, i), "is required")
			}
			c := schema.TextContent("")
			if b.Content != nil && !b.Content.IsNull() {
				c = textContent(*b.Content)
			}
			out = append(out, schema.Message{Role: "tool", ToolCallID: b.ToolUseID, Content: c})
		}
	}
	if len(parts) > 0 {
		out = append(out, schema.Message{Role: "user", Name: m.Name, Content: schema.Content{Parts: parts}})
	}
	return out, nil
}

// textContent keeps a string, or the text blocks as text parts.
func textContent(c Content) schema.Content {
	if c.Text != nil {
		return schema.TextContent(*c.Text)
	}
	parts := []schema.ContentPart{}
	for _, b := range c.Blocks {
		if b.Type == BlockText {
			parts = append(parts, schema.ContentPart{Type: "text", Text: b.Text})
		}
	}
	return schema.Content{Parts: parts}
}

func setExtra(r *schema.ChatRequest, k string, v json.RawMessage) {
	if r.Extra == nil {
		r.Extra = map[string]json.RawMessage{}
	}
	r.Extra[k] = v
}

func clone[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
