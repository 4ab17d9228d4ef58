package anthropic

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/llmgw/gateway/app/schema"
)

// effortOf maps Anthropic's output_config.effort to the gateway's reasoning
// effort; Anthropic's "max" is the gateway's "xhigh".
var effortOf = map[string]string{"low": "low", "medium": "medium", "high": "high", "xhigh": "xhigh", "max": "xhigh"}

// ToChat translates the request into the neutral (OpenAI) schema. Errors are
// *FieldError naming the Anthropic field. The translation:
//
//   - system (string or text blocks) becomes the first message, role system:
//     a string, or text parts when a block carries cache_control (kept so that
//     an Anthropic upstream can still cache);
//   - a role "system" turn inside messages (the mid-conversation-system beta,
//     which Claude Code sends for model names it does not know) becomes a
//     system message at the same place; upstreams without system turns in
//     the middle (Anthropic's own adapter) hoist it into their system prompt;
//   - a user turn's tool_result blocks become role "tool" messages, in order,
//     ahead of a user message with the turn's other blocks. Images inside a
//     tool_result cannot go in a tool message (OpenAI only allows text there),
//     so they move to that user message; is_error has no equivalent and is
//     dropped (the result's text usually says what went wrong);
//   - images become image_url parts (data URIs or URLs); base64 PDF documents
//     become file parts, plain-text documents text parts; file-id, URL and
//     content-block documents are refused;
//   - an assistant turn's text becomes its content and tool_use blocks its
//     tool_calls; its thinking and redacted_thinking blocks become
//     reasoning_details (format anthropic-claude-v1) with their signatures
//     and data unchanged, so that an Anthropic upstream gets them back as
//     they were issued (see reasoning.go). The thinking text is not copied
//     into the message's reasoning: upstreams other than Anthropic have no
//     use for it;
//   - max_tokens becomes max_completion_tokens (OpenAI's current name, the
//     only one its reasoning models accept);
//   - stop_sequences -> stop, top_k -> Extra["top_k"] (forwarded to upstreams
//     that know it), tools -> function tools, tool_choice auto/any/tool/none ->
//     auto/required/function/none, disable_parallel_tool_use ->
//     parallel_tool_calls false;
//   - thinking enabled -> reasoning {"max_tokens": budget_tokens}; adaptive, or
//     output_config.effort -> reasoning {"effort": ...}; disabled -> nothing;
//   - output_config.format json_schema -> response_format json_schema;
//   - stream -> stream with stream_options.include_usage (the endpoint needs
//     usage for message_delta).
//
// Refused (server-side features the gateway cannot provide): server tools
// (web search, code execution, ...), mcp_servers, and their result blocks.
// Dropped: metadata (see SessionID), cache_control on tools and on the
// request, service_tier, container, and any other unknown field.
func (r *MessagesRequest) ToChat() (*schema.ChatRequest, error) {
	out := &schema.ChatRequest{Model: r.Model, Stream: r.Stream}
	if r.Stream {
		out.StreamOptions = &schema.StreamOptions{IncludeUsage: true}
	}
	if raw, ok := r.Extra["mcp_servers"]; ok && nonEmptyArray(raw) {
		return nil, fieldErr("mcp_servers", "MCP servers are not supported by this gateway.")
	}
	if r.MaxTokens > 0 {
		n := r.MaxTokens
		out.MaxCompletionTokens = &n
	}
	if r.Temperature != nil {
		v := *r.Temperature
		out.Temperature = &v
	}
	if r.TopP != nil {
		v := *r.TopP
		out.TopP = &v
	}
	if r.TopK != nil {
		b, _ := json.Marshal(*r.TopK)
		out.Extra = map[string]json.RawMessage{"top_k": b}
	}
	if len(r.StopSequences) > 0 {
		out.Stop, _ = json.Marshal(r.StopSequences)
	}

	if r.System != nil {
		if m, ok := systemMessage(r.System); ok {
			out.Messages = append(out.Messages, m)
		}
	}
	for i := range r.Messages {
		msgs, err := chatMessages(i, &r.Messages[i])
		if err != nil {
			return nil, err
		}
		out.Messages = append(out.Messages, msgs...)
	}

	var err error
	if out.Tools, err = chatTools(r.Tools); err != nil {
		return nil, err
	}
	if tc := r.ToolChoice; tc != nil {
		switch tc.Type {
		case "auto":
			out.ToolChoice = json.RawMessage(`"auto"`)
		case "any":
			out.ToolChoice = json.RawMessage(`"required"`)
		case "none":
			out.ToolChoice = json.RawMessage(`"none"`)
		case "tool":
			out.ToolChoice, _ = json.Marshal(map[string]any{"type": "function", "function": map[string]string{"name": tc.Name}})
		}
		if tc.DisableParallelToolUse != nil && *tc.DisableParallelToolUse {
			f := false
			out.ParallelToolCalls = &f
		}
	}
	out.Reasoning = r.reasoning()
	if oc := r.OutputConfig; oc != nil && oc.Format != nil {
		if oc.Format.Type != "json_schema" || isNull(oc.Format.Schema) {
			return nil, fieldErr("output_config.format", "only a json_schema format with a schema is supported")
		}
		out.ResponseFormat, _ = json.Marshal(map[string]any{
			"type":        "json_schema",
			"json_schema": map[string]any{"name": "response", "schema": oc.Format.Schema},
		})
	}
	return out, nil
}

func nonEmptyArray(raw json.RawMessage) bool {
	var a []json.RawMessage
	if json.Unmarshal(raw, &a) == nil {
		return len(a) > 0
	}
	return !isNull(raw)
}

// reasoning maps thinking and output_config.effort to the gateway's
// reasoning object (nil: the client did not ask).
func (r *MessagesRequest) reasoning() json.RawMessage {
	effort := ""
	if r.OutputConfig != nil {
		effort = effortOf[r.OutputConfig.Effort]
	}
	th := r.Thinking
	switch {
	case th != nil && th.Type == "disabled":
		return nil
	case th != nil && th.Type == "enabled":
		b, _ := json.Marshal(map[string]int{"max_tokens": th.BudgetTokens})
		return b
	case th != nil && th.Type == "adaptive" && effort == "":
		effort = "medium"
	}
	if effort == "" {
		return nil
	}
	b, _ := json.Marshal(map[string]string{"effort": effort})
	return b
}

// systemMessage: a plain string unless a block carries cache_control.
func systemMessage(c *Content) (schema.Message, bool) {
	if c.Text != nil {
		if *c.Text == "" {
			return schema.Message{}, false
		}
		return schema.Message{Role: "system", Content: schema.TextContent(*c.Text)}, true
	}
	var texts []string
	cached := false
	var parts []schema.ContentPart
	for _, b := range c.Blocks {
		if b.Text == "" {
			continue
		}
		texts = append(texts, b.Text)
		parts = append(parts, schema.ContentPart{Type: "text", Text: b.Text, CacheControl: b.CacheControl})
		cached = cached || len(b.CacheControl) > 0
	}
	if len(parts) == 0 {
		return schema.Message{}, false
	}
	if cached {
		return schema.Message{Role: "system", Content: schema.Content{Parts: parts}}, true
	}
	return schema.Message{Role: "system", Content: schema.TextContent(strings.Join(texts, "\n\n"))}, true
}

// chatMessages translates one Anthropic turn into one or more chat messages.
func chatMessages(i int, m *Message) ([]schema.Message, error) {
	path := fmt.Sprintf("messages.%d.content", i)
	if m.Role == "system" {
		if sm, ok := systemMessage(&m.Content); ok {
			return []schema.Message{sm}, nil
		}
		return nil, nil
	}
	if m.Content.Text != nil {
		return []schema.Message{{Role: m.Role, Content: schema.TextContent(*m.Content.Text)}}, nil
	}
	if m.Role == "assistant" {
		msg, err := assistantMessage(path, m.Content.Blocks)
		if err != nil {
			return nil, err
		}
		return []schema.Message{msg}, nil
	}
	var out []schema.Message
	var parts []schema.ContentPart
	for j, b := range m.Content.Blocks {
		bp := fmt.Sprintf("%s.%d", path, j)
		if b.Type == "tool_result" {
			tm, images, err := toolMessage(bp, &b)
			if err != nil {
				return nil, err
			}
			out = append(out, tm)
			parts = append(parts, images...)
			continue
		}
		p, err := userPart(bp, &b)
		if err != nil {
			return nil, err
		}
		if p != nil {
			parts = append(parts, *p)
		}
	}
	if len(parts) > 0 || len(out) == 0 {
		out = append(out, schema.Message{Role: "user", Content: userContent(parts)})
	}
	return out, nil
}

// userContent is a string for a single plain text part (what every chat
// server accepts), parts otherwise.
func userContent(parts []schema.ContentPart) schema.Content {
	if len(parts) == 1 && parts[0].Type == "text" && len(parts[0].CacheControl) == 0 {
		return schema.TextContent(parts[0].Text)
	}
	if parts == nil {
		return schema.TextContent("")
	}
	return schema.Content{Parts: parts}
}

// userPart translates a user block; nil for blocks with nothing to say.
func userPart(path string, b *ContentBlock) (*schema.ContentPart, error) {
	switch b.Type {
	case "text":
		if b.Text == "" {
			return nil, nil
		}
		return &schema.ContentPart{Type: "text", Text: b.Text, CacheControl: b.CacheControl}, nil
	case "image":
		if b.Source == nil {
			return nil, fieldErr(path+".source", "Field required")
		}
		u, err := imageURL(path+".source", b.Source)
		if err != nil {
			return nil, err
		}
		return &schema.ContentPart{Type: "image_url", ImageURL: &schema.ImageURL{URL: u}, CacheControl: b.CacheControl}, nil
	case "document":
		if b.Source == nil {
			return nil, fieldErr(path+".source", "Field required")
		}
		return documentPart(path, b)
	}
	return nil, fieldErr(path+".type", "content block type %q is not supported in user messages by this gateway", b.Type)
}

func imageURL(path string, s *Source) (string, error) {
	switch s.Type {
	case "base64":
		if s.MediaType == "" || s.Data == "" {
			return "", fieldErr(path, "base64 image sources require media_type and data")
		}
		return "data:" + s.MediaType + ";base64," + s.Data, nil
	case "url":
		if s.URL == "" {
			return "", fieldErr(path+".url", "Field required")
		}
		return s.URL, nil
	}
	return "", fieldErr(path+".type", "image source type %q is not supported by this gateway (base64 and url are)", s.Type)
}

func documentPart(path string, b *ContentBlock) (*schema.ContentPart, error) {
	s := b.Source
	switch {
	case s.Type == "base64" && s.MediaType == "application/pdf" && s.Data != "":
		name := b.Title
		if !strings.HasSuffix(strings.ToLower(name), ".pdf") {
			name = "document.pdf"
		}
		f, _ := json.Marshal(map[string]string{"filename": name, "file_data": "data:application/pdf;base64," + s.Data})
		return &schema.ContentPart{Type: "file", File: f, CacheControl: b.CacheControl}, nil
	case s.Type == "text":
		if s.Data == "" {
			return nil, nil
		}
		return &schema.ContentPart{Type: "text", Text: s.Data, CacheControl: b.CacheControl}, nil
	}
	return nil, fieldErr(path+".source", "document sources other than base64 PDF and plain text are not supported by this gateway")
}

// toolMessage translates a tool_result; its images are returned apart.
func toolMessage(path string, b *ContentBlock) (schema.Message, []schema.ContentPart, error) {
	m := schema.Message{Role: "tool", ToolCallID: b.ToolUseID}
	if b.Content == nil || b.Content.Text != nil {
		text := ""
		if b.Content != nil {
			text = *b.Content.Text
		}
		if len(b.CacheControl) > 0 {
			m.Content = schema.Content{Parts: []schema.ContentPart{{Type: "text", Text: text, CacheControl: b.CacheControl}}}
		} else {
			m.Content = schema.TextContent(text)
		}
		return m, nil, nil
	}
	var texts, images []schema.ContentPart
	cached := len(b.CacheControl) > 0
	for j, inner := range b.Content.Blocks {
		ip := fmt.Sprintf("%s.content.%d", path, j)
		switch inner.Type {
		case "text", "image", "document":
			p, err := userPart(ip, &inner)
			if err != nil {
				return m, nil, err
			}
			if p == nil {
				continue
			}
			if p.Type == "text" {
				texts = append(texts, *p)
				cached = cached || len(p.CacheControl) > 0
			} else {
				images = append(images, *p)
			}
		default:
			return m, nil, fieldErr(ip+".type", "content block type %q is not supported in tool results by this gateway", inner.Type)
		}
	}
	if len(texts) == 0 && len(images) > 0 {
		texts = []schema.ContentPart{{Type: "text", Text: "(the tool returned the content that follows in the next message)"}}
	}
	// cache_control set on the tool_result itself marks its end: it goes on
	// the last text part.
	if len(b.CacheControl) > 0 && len(texts) > 0 {
		texts[len(texts)-1].CacheControl = b.CacheControl
	}
	switch {
	case cached && len(texts) > 0:
		m.Content = schema.Content{Parts: texts}
	default:
		s := make([]string, len(texts))
		for i, t := range texts {
			s[i] = t.Text
		}
		m.Content = schema.TextContent(strings.Join(s, "\n"))
	}
	return m, images, nil
}

func assistantMessage(path string, blocks []ContentBlock) (schema.Message, error) {
	m := schema.Message{Role: "assistant"}
	var text strings.Builder
	var parts []schema.ContentPart
	cached, hasText := false, false
	for j, b := range blocks {
		switch b.Type {
		case "text":
			if b.Text == "" {
				continue
			}
			text.WriteString(b.Text)
			hasText = true
			parts = append(parts, schema.ContentPart{Type: "text", Text: b.Text, CacheControl: b.CacheControl})
			cached = cached || len(b.CacheControl) > 0
		case "tool_use":
			m.ToolCalls = append(m.ToolCalls, schema.ToolCall{ID: b.ID, Type: "function",
				Function: schema.ToolCallFunction{Name: b.Name, Arguments: compactJSON(b.Input)}})
		case "thinking", "redacted_thinking":
			d, _ := reasoningDetail(len(m.ReasoningDetails), &b)
			m.ReasoningDetails = append(m.ReasoningDetails, d)
		default:
			return m, fieldErr(fmt.Sprintf("%s.%d.type", path, j), "content block type %q is not supported in assistant messages by this gateway", b.Type)
		}
	}
	switch {
	case cached:
		m.Content = schema.Content{Parts: parts}
	case hasText || len(m.ToolCalls) == 0:
		// Text parts of one answer are contiguous, hence no separator.
		m.Content = schema.TextContent(text.String())
	}
	return m, nil
}

// chatTools translates custom tools; Anthropic's server tools (typed
// web_search_..., bash_..., ...) run on Anthropic's side and cannot be
// provided by the gateway.
func chatTools(tools []Tool) ([]schema.Tool, error) {
	var out []schema.Tool
	for i, t := range tools {
		if t.Type != "" && t.Type != "custom" {
			return nil, fieldErr(fmt.Sprintf("tools.%d.type", i), "server tool %q is not supported by this gateway", t.Type)
		}
		params := t.InputSchema
		if in := bytes.TrimSpace(params); len(in) == 0 || in[0] != '{' {
			return nil, fieldErr(fmt.Sprintf("tools.%d.input_schema", i), "expected an object")
		}
		out = append(out, schema.Tool{Type: "function", Function: schema.ToolFunction{
			Name: t.Name, Description: t.Description, Parameters: params,
		}})
	}
	return out, nil
}
