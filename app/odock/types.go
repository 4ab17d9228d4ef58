package odock

import (
	"bytes"
	"encoding/json"

	"github.com/llmgw/gateway/app/schema"
)

// Request is a decoded, validated POST /v1/llm/chat body. DecodeRequest
// normalises it: the provider is lower-cased, image blocks become image_url
// blocks, tools and tool calls take the flat shape, response_format and
// tool_choice their struct form. Nil pointers are absent fields.
type Request struct {
	Provider         string          `json:"provider,omitempty"`
	Model            string          `json:"model"`
	Messages         []Message       `json:"messages"`
	Temperature      *float64        `json:"temperature,omitempty"`
	MaxTokens        *int            `json:"max_tokens,omitempty"`
	TopP             *float64        `json:"top_p,omitempty"`
	TopK             *int            `json:"top_k,omitempty"`
	StopSequences    []string        `json:"stop_sequences,omitempty"`
	PresencePenalty  *float64        `json:"presence_penalty,omitempty"`
	FrequencyPenalty *float64        `json:"frequency_penalty,omitempty"`
	Seed             *int64          `json:"seed,omitempty"`
	Metadata         json.RawMessage `json:"metadata,omitempty"` // a JSON object, as sent
	ResponseFormat   *ResponseFormat `json:"response_format,omitempty"`
	Tools            []Tool          `json:"tools,omitempty"`
	ToolChoice       *ToolChoice     `json:"tool_choice,omitempty"`
	Stream           bool            `json:"stream,omitempty"`
}

// Message is one conversation turn. Role is system, developer, user,
// assistant or tool.
type Message struct {
	Role       string     `json:"role"`
	Content    Content    `json:"content"`
	Name       string     `json:"name,omitempty"`
	ToolCalls  []ToolCall `json:"tool_calls,omitempty"`   // assistant only
	ToolCallID string     `json:"tool_call_id,omitempty"` // tool only (required there)
}

// Content is a string or a list of blocks; neither means null/absent.
type Content struct {
	Text   *string
	Blocks []ContentBlock
}

// TextContent builds a string content.
func TextContent(s string) Content { return Content{Text: &s} }

// IsNull reports an absent or null content.
func (c Content) IsNull() bool { return c.Text == nil && c.Blocks == nil }

func (c Content) MarshalJSON() ([]byte, error) { return schema.MarshalTextOrList(c.Text, c.Blocks) }

// UnmarshalJSON decodes without validation (DecodeRequest validates).
func (c *Content) UnmarshalJSON(b []byte) error {
	*c = Content{}
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		c.Text = &s
		return nil
	}
	if len(b) > 0 && b[0] == '[' {
		c.Blocks = []ContentBlock{}
		return json.Unmarshal(b, &c.Blocks)
	}
	return nil
}

// Content block types.
const (
	BlockText       = "text"
	BlockImageURL   = "image_url"
	BlockImage      = "image" // accepted on input, normalised to image_url
	BlockToolUse    = "tool_use"
	BlockToolResult = "tool_result"
	BlockThinking   = "thinking"
)

// ContentBlock is one element of an array content, in requests and in the
// response's content_blocks. Which fields are meaningful depends on Type;
// MarshalJSON writes exactly those.
type ContentBlock struct {
	Type string `json:"type"`
	// text
	Text string `json:"text,omitempty"`
	// thinking
	Thinking  string `json:"thinking,omitempty"`
	Signature string `json:"signature,omitempty"`
	// image_url: an https URL or a data: URI
	ImageURL *schema.ImageURL `json:"image_url,omitempty"`
	// tool_use: Input is the call's arguments as a JSON value
	ID    string          `json:"id,omitempty"`
	Name  string          `json:"name,omitempty"`
	Input json.RawMessage `json:"input,omitempty"`
	// tool_result: Content is text (a string or text blocks)
	ToolUseID string   `json:"tool_use_id,omitempty"`
	Content   *Content `json:"content,omitempty"`
	IsError   bool     `json:"is_error,omitempty"`
}

func (b ContentBlock) MarshalJSON() ([]byte, error) {
	switch b.Type {
	case BlockText:
		return json.Marshal(struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}{b.Type, b.Text})
	case BlockThinking:
		return json.Marshal(struct {
			Type      string `json:"type"`
			Thinking  string `json:"thinking"`
			Signature string `json:"signature,omitempty"`
		}{b.Type, b.Thinking, b.Signature})
	case BlockToolUse:
		in := b.Input
		if len(in) == 0 {
			in = json.RawMessage("{}")
		}
		return json.Marshal(struct {
			Type  string          `json:"type"`
			ID    string          `json:"id"`
			Name  string          `json:"name"`
			Input json.RawMessage `json:"input"`
		}{b.Type, b.ID, b.Name, in})
	case BlockToolResult:
		c := Content{}
		if b.Content != nil {
			c = *b.Content
		}
		if c.IsNull() {
			c = TextContent("")
		}
		return json.Marshal(struct {
			Type      string  `json:"type"`
			ToolUseID string  `json:"tool_use_id"`
			Content   Content `json:"content"`
			IsError   bool    `json:"is_error,omitempty"`
		}{b.Type, b.ToolUseID, c, b.IsError})
	}
	type plain ContentBlock
	return json.Marshal(plain(b))
}

// Tool is a function the model may call.
type Tool struct {
	Type        string          `json:"type"` // "function"
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"` // a JSON Schema object
	Strict      *bool           `json:"strict,omitempty"`
}

// ToolCall is a call the model made (response tool_calls) or one an assistant
// message replays. Arguments is the JSON text as the model produced it.
type ToolCall struct {
	ID        string `json:"id"`
	Type      string `json:"type"` // "function"
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// Tool choice types.
const (
	ChoiceAuto     = "auto"
	ChoiceNone     = "none"
	ChoiceRequired = "required" // "any" is accepted as a synonym
	ChoiceTool     = "tool"     // Name must be set
)

// ToolChoice says whether and which tool the model must call.
type ToolChoice struct {
	Type string `json:"type"`
	Name string `json:"name,omitempty"`
}

// ResponseFormat asks for text, any JSON object, or JSON matching a schema.
// JSONSchema is OpenAI's json_schema object ({name, schema, strict?,
// description?}), set for type json_schema only.
type ResponseFormat struct {
	Type       string          `json:"type"` // text | json_object | json_schema
	JSONSchema json.RawMessage `json:"json_schema,omitempty"`
}

// Response is the body of a non-streaming answer (and of the stream's done
// event). Every field is always present.
type Response struct {
	Provider          string         `json:"provider"`
	Model             string         `json:"model"`
	Content           string         `json:"content"`
	StopReason        string         `json:"stop_reason"`
	ContentBlocks     []ContentBlock `json:"content_blocks"`
	ToolCalls         []ToolCall     `json:"tool_calls"`
	InputTokens       int            `json:"input_tokens"`
	OutputTokens      int            `json:"output_tokens"`
	ProviderUsage     *schema.Usage  `json:"provider_usage"`
	ProviderRequestID string         `json:"provider_request_id"`
}

// Stop reasons.
const (
	StopEndTurn       = "end_turn"
	StopMaxTokens     = "max_tokens"
	StopToolUse       = "tool_use"
	StopContentFilter = "content_filter"
	StopRefusal       = "refusal"
)

// Stream event types (also the SSE event names).
const (
	EventStart = "start"
	EventDelta = "delta"
	EventDone  = "done"
	EventError = "error"
)

// StreamEvent is the data of one server-sent event.
type StreamEvent struct {
	Type string `json:"type"`
	// start
	Provider          string `json:"provider,omitempty"`
	Model             string `json:"model,omitempty"`
	ProviderRequestID string `json:"provider_request_id,omitempty"`
	// delta
	Content   *string         `json:"content,omitempty"`
	Thinking  *string         `json:"thinking,omitempty"`
	ToolCalls []ToolCallDelta `json:"tool_calls,omitempty"`
	// done
	Response *Response `json:"response,omitempty"`
	// error
	Error *ErrorDetail `json:"error,omitempty"`
}

// ToolCallDelta is a fragment of a streamed tool call: the first fragment of
// a call carries its id and name, the following ones more arguments text.
// Index counts the calls of the answer from 0.
type ToolCallDelta struct {
	Index     int    `json:"index"`
	ID        string `json:"id,omitempty"`
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

// ErrorResponse is the error body: {"error":{"code","message","status"}}.
type ErrorResponse struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail describes an error; Status repeats the HTTP status.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Status  int    `json:"status"`
}
