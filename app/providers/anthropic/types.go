package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"

	"github.com/llmgw/gateway/app/schema"
)

// This file holds the Anthropic Messages API wire types, shared by the upstream
// adapter (which writes requests and reads responses) and the inbound
// converters (which read requests and write responses). They cover the fields
// the gateway translates; anything else is either refused or dropped by the
// translation code, never silently forwarded.

// MessagesRequest is an Anthropic Messages API request (POST /v1/messages).
type MessagesRequest struct {
	Model         string      `json:"model"`
	Messages      []Message   `json:"messages"`
	System        *Content    `json:"system,omitempty"` // a string or text blocks
	MaxTokens     int         `json:"max_tokens,omitempty"`
	Metadata      *Metadata   `json:"metadata,omitempty"`
	StopSequences []string    `json:"stop_sequences,omitempty"`
	Stream        bool        `json:"stream,omitempty"`
	Temperature   *float64    `json:"temperature,omitempty"`
	TopP          *float64    `json:"top_p,omitempty"`
	TopK          *int        `json:"top_k,omitempty"`
	Tools         []Tool      `json:"tools,omitempty"`
	ToolChoice    *ToolChoice `json:"tool_choice,omitempty"`
	Thinking      *Thinking   `json:"thinking,omitempty"`
	// OutputConfig carries effort and structured-output format (inbound only).
	OutputConfig *OutputConfig `json:"output_config,omitempty"`

	// Extra holds inbound top-level fields the gateway does not translate
	// (service_tier, container, ...). It is never marshalled.
	Extra map[string]json.RawMessage `json:"-"`
}

// Message is one conversation turn. Role is "user" or "assistant", or
// "system" in an inbound request (a mid-conversation system turn).
type Message struct {
	Role    string  `json:"role"`
	Content Content `json:"content"`
}

// Metadata is the request metadata object.
type Metadata struct {
	UserID string `json:"user_id,omitempty"`
}

// Tool is a tool definition. Custom (client) tools have an empty Type or
// "custom"; any other Type is one of Anthropic's server or built-in tools
// (web_search_20250305, bash_20250124, ...).
type Tool struct {
	Type         string          `json:"type,omitempty"`
	Name         string          `json:"name"`
	Description  string          `json:"description,omitempty"`
	InputSchema  json.RawMessage `json:"input_schema,omitempty"`
	CacheControl json.RawMessage `json:"cache_control,omitempty"`
}

// ToolChoice is {"type":"auto"|"any"|"tool"|"none"}, with name for "tool".
type ToolChoice struct {
	Type                   string `json:"type"`
	Name                   string `json:"name,omitempty"`
	DisableParallelToolUse *bool  `json:"disable_parallel_tool_use,omitempty"`
}

// Thinking is the extended-thinking configuration: "enabled" with a token
// budget, "adaptive" (the model decides) or "disabled".
type Thinking struct {
	Type         string `json:"type"`
	BudgetTokens int    `json:"budget_tokens,omitempty"`
	Display      string `json:"display,omitempty"`
}

// OutputConfig is the request's output_config: an effort level and a
// structured-output JSON schema.
type OutputConfig struct {
	Effort string        `json:"effort,omitempty"`
	Format *OutputFormat `json:"format,omitempty"`
}

// OutputFormat is {"type":"json_schema","schema":{...}}.
type OutputFormat struct {
	Type   string          `json:"type"`
	Schema json.RawMessage `json:"schema,omitempty"`
}

// Content is a message content: a plain string or a list of blocks.
type Content struct {
	Text   *string
	Blocks []ContentBlock
}

// TextOf builds a string content.
func TextOf(s string) Content { return Content{Text: &s} }

// BlocksOf builds a block-list content.
func BlocksOf(b ...ContentBlock) Content {
	if b == nil {
		b = []ContentBlock{}
	}
	return Content{Blocks: b}
}

func (c Content) isNull() bool { return c.Text == nil && c.Blocks == nil }

// MarshalJSON writes a string, a block array, or null.
func (c Content) MarshalJSON() ([]byte, error) { return schema.MarshalTextOrList(c.Text, c.Blocks) }

// UnmarshalJSON accepts a string, a block array, or null.
func (c *Content) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	*c = Content{}
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		return nil
	}
	switch b[0] {
	case '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		c.Text = &s
		return nil
	case '[':
		blocks := []ContentBlock{}
		if err := json.Unmarshal(b, &blocks); err != nil {
			return err
		}
		c.Blocks = blocks
		return nil
	}
	return errors.New("content must be a string or an array of content blocks")
}

// ContentBlock is one content block. It is the union of the block types the
// gateway understands (text, image, document, tool_use, tool_result, thinking,
// redacted_thinking); Type says which fields apply.
type ContentBlock struct {
	Type string `json:"type"`

	Text      string          `json:"text,omitempty"`      // text
	Citations json.RawMessage `json:"citations,omitempty"` // text (response only; never translated)

	Source  *Source `json:"source,omitempty"`  // image, document
	Title   string  `json:"title,omitempty"`   // document
	Context string  `json:"context,omitempty"` // document

	ID    string          `json:"id,omitempty"`    // tool_use
	Name  string          `json:"name,omitempty"`  // tool_use
	Input json.RawMessage `json:"input,omitempty"` // tool_use

	ToolUseID string   `json:"tool_use_id,omitempty"` // tool_result
	Content   *Content `json:"content,omitempty"`     // tool_result
	IsError   bool     `json:"is_error,omitempty"`    // tool_result

	Thinking  string `json:"thinking,omitempty"`  // thinking
	Signature string `json:"signature,omitempty"` // thinking
	Data      string `json:"data,omitempty"`      // redacted_thinking

	CacheControl json.RawMessage `json:"cache_control,omitempty"`
}

// MarshalJSON writes the fields a block type requires even when empty:
// Anthropic rejects a text block without "text" or a tool_use without "input",
// and clients expect "thinking" and "signature" on thinking blocks.
func (b ContentBlock) MarshalJSON() ([]byte, error) {
	switch b.Type {
	case "text":
		return json.Marshal(struct {
			Type         string          `json:"type"`
			Text         string          `json:"text"`
			Citations    json.RawMessage `json:"citations,omitempty"`
			CacheControl json.RawMessage `json:"cache_control,omitempty"`
		}{b.Type, b.Text, b.Citations, b.CacheControl})
	case "tool_use":
		input := b.Input
		if len(bytes.TrimSpace(input)) == 0 {
			input = json.RawMessage("{}")
		}
		return json.Marshal(struct {
			Type         string          `json:"type"`
			ID           string          `json:"id"`
			Name         string          `json:"name"`
			Input        json.RawMessage `json:"input"`
			CacheControl json.RawMessage `json:"cache_control,omitempty"`
		}{b.Type, b.ID, b.Name, input, b.CacheControl})
	case "thinking":
		return json.Marshal(struct {
			Type      string `json:"type"`
			Thinking  string `json:"thinking"`
			Signature string `json:"signature"`
		}{b.Type, b.Thinking, b.Signature})
	}
	type plain ContentBlock
	return json.Marshal(plain(b))
}

// Source is an image or document source: base64 data, a URL, or plain text
// (documents only).
type Source struct {
	Type      string `json:"type"` // base64 | url | text | file
	MediaType string `json:"media_type,omitempty"`
	Data      string `json:"data,omitempty"`
	URL       string `json:"url,omitempty"`
	FileID    string `json:"file_id,omitempty"`
}

// MessagesResponse is a non-streaming Messages API answer.
type MessagesResponse struct {
	ID           string         `json:"id"`
	Type         string         `json:"type"`
	Role         string         `json:"role"`
	Model        string         `json:"model"`
	Content      []ContentBlock `json:"content"`
	StopReason   *string        `json:"stop_reason"`
	StopSequence *string        `json:"stop_sequence"`
	Usage        Usage          `json:"usage"`
}

// Usage is the Anthropic usage object. InputTokens excludes the cached and
// cache-write tokens, which are reported beside it.
type Usage struct {
	InputTokens              int `json:"input_tokens"`
	CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int `json:"cache_read_input_tokens"`
	OutputTokens             int `json:"output_tokens"`
	// OutputTokensDetails is read from upstream answers (newer API versions
	// break out thinking tokens) and never written.
	OutputTokensDetails *OutputTokensDetails `json:"output_tokens_details,omitempty"`
}

// OutputTokensDetails breaks output tokens down.
type OutputTokensDetails struct {
	ThinkingTokens int `json:"thinking_tokens"`
}

// CountTokensResponse is the answer of POST /v1/messages/count_tokens.
type CountTokensResponse struct {
	InputTokens int `json:"input_tokens"`
}
