// Package schema holds the provider-neutral wire types of the gateway. They follow
// the OpenAI Chat Completions format, which is the lingua franca every provider
// adapter translates to and from. Fields the gateway does not interpret are kept
// verbatim in Extra so an OpenAI-compatible upstream receives exactly what the
// client sent.
package schema

import (
	"bytes"
	"encoding/json"
	"errors"
)

// ChatRequest is an OpenAI chat completion request.
type ChatRequest struct {
	Model               string          `json:"model"`
	Messages            []Message       `json:"messages"`
	Stream              bool            `json:"stream,omitempty"`
	StreamOptions       *StreamOptions  `json:"stream_options,omitempty"`
	MaxTokens           *int            `json:"max_tokens,omitempty"`
	MaxCompletionTokens *int            `json:"max_completion_tokens,omitempty"`
	Temperature         *float64        `json:"temperature,omitempty"`
	TopP                *float64        `json:"top_p,omitempty"`
	N                   *int            `json:"n,omitempty"`
	Stop                json.RawMessage `json:"stop,omitempty"` // string or []string
	Seed                *int64          `json:"seed,omitempty"`
	PresencePenalty     *float64        `json:"presence_penalty,omitempty"`
	FrequencyPenalty    *float64        `json:"frequency_penalty,omitempty"`
	LogitBias           json.RawMessage `json:"logit_bias,omitempty"`
	Logprobs            *bool           `json:"logprobs,omitempty"`
	TopLogprobs         *int            `json:"top_logprobs,omitempty"`
	Tools               []Tool          `json:"tools,omitempty"`
	ToolChoice          json.RawMessage `json:"tool_choice,omitempty"` // "auto" | "none" | "required" | object
	ParallelToolCalls   *bool           `json:"parallel_tool_calls,omitempty"`
	ResponseFormat      json.RawMessage `json:"response_format,omitempty"`
	User                string          `json:"user,omitempty"`
	ReasoningEffort     string          `json:"reasoning_effort,omitempty"`
	Reasoning           json.RawMessage `json:"reasoning,omitempty"`

	// Extra holds every top-level field not listed above, passed through as sent.
	Extra map[string]json.RawMessage `json:"-"`

	// sources are the decoded messages as the client sent them, index for
	// index (see msgSource). Copies of the request share them; they are
	// only read.
	sources []msgSource
}

// StreamOptions is the OpenAI stream_options object.
type StreamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// Message is one chat message. Content is a string or an array of parts.
type Message struct {
	Role       string     `json:"role"`
	Content    Content    `json:"content"`
	Name       string     `json:"name,omitempty"`
	ToolCalls  []ToolCall `json:"tool_calls,omitempty"`
	ToolCallID string     `json:"tool_call_id,omitempty"`
	Refusal    *string    `json:"refusal,omitempty"`
	// Reasoning carries the model's thinking text (gateway extension, as OpenRouter does).
	Reasoning string `json:"reasoning,omitempty"`
	// ReasoningDetails carries the model's reasoning blocks as OpenRouter
	// does: the thinking text with the provider's signature, and encrypted
	// (redacted) reasoning. Clients send them back unchanged on the assistant
	// message, which is what lets an Anthropic tool loop keep thinking on.
	ReasoningDetails []ReasoningDetail `json:"reasoning_details,omitempty"`
}

// ReasoningDetail is one item of reasoning_details (OpenRouter's format).
// Index numbers the reasoning blocks of one message; in a stream, items with
// the same index are pieces of one block (texts and signatures concatenate).
type ReasoningDetail struct {
	Type      string `json:"type"` // ReasoningText, ReasoningSummary or ReasoningEncrypted
	ID        string `json:"id,omitempty"`
	Format    string `json:"format,omitempty"` // e.g. ReasoningFormatAnthropic
	Index     int    `json:"index"`
	Text      string `json:"text,omitempty"`      // reasoning.text
	Signature string `json:"signature,omitempty"` // reasoning.text
	Summary   string `json:"summary,omitempty"`   // reasoning.summary
	Data      string `json:"data,omitempty"`      // reasoning.encrypted
}

// reasoning_details item types and formats.
const (
	ReasoningText      = "reasoning.text"
	ReasoningSummary   = "reasoning.summary"
	ReasoningEncrypted = "reasoning.encrypted"

	// ReasoningFormatAnthropic marks Anthropic thinking (signature) and
	// redacted_thinking (data) blocks.
	ReasoningFormatAnthropic = "anthropic-claude-v1"
)

// Content is a message content: either a plain string or a list of parts.
// A null/absent content (assistant messages with tool calls) has neither.
type Content struct {
	Text  *string
	Parts []ContentPart
}

// TextContent builds a plain string content.
func TextContent(s string) Content { return Content{Text: &s} }

// IsNull reports whether the content was absent or null.
func (c Content) IsNull() bool { return c.Text == nil && c.Parts == nil }

// String returns the concatenated text of the content (text parts only).
func (c Content) String() string {
	if c.Text != nil {
		return *c.Text
	}
	var b bytes.Buffer
	for _, p := range c.Parts {
		if p.Type == "text" {
			if b.Len() > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(p.Text)
		}
	}
	return b.String()
}

func (c Content) MarshalJSON() ([]byte, error) { return MarshalTextOrList(c.Text, c.Parts) }

// MarshalTextOrList encodes a content that the chat formats allow to be a
// string, a list (parts, blocks), or absent: the string when text is set,
// else the list when it is non-nil, else null.
func MarshalTextOrList[T any](text *string, list []T) ([]byte, error) {
	switch {
	case text != nil:
		return json.Marshal(*text)
	case list != nil:
		return json.Marshal(list)
	}
	return []byte("null"), nil
}

func (c *Content) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	*c = Content{}
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		return nil
	}
	switch b[0] {
	case '"':
		s, err := unquote(b)
		if err != nil {
			return err
		}
		c.Text = &s
		return nil
	case '[':
		parts := []ContentPart{}
		if err := json.Unmarshal(b, &parts); err != nil {
			return err
		}
		c.Parts = parts
		return nil
	}
	return errors.New("content must be a string or an array of content parts")
}

// ContentPart is one element of an array content.
type ContentPart struct {
	Type       string          `json:"type"`
	Text       string          `json:"text,omitempty"`
	ImageURL   *ImageURL       `json:"image_url,omitempty"`
	InputAudio json.RawMessage `json:"input_audio,omitempty"`
	File       json.RawMessage `json:"file,omitempty"`
	// CacheControl is the Anthropic prompt-caching marker some clients send inside parts.
	CacheControl json.RawMessage `json:"cache_control,omitempty"`
}

// ImageURL is an image reference: an https URL or a data: URI.
type ImageURL struct {
	URL    string `json:"url"`
	Detail string `json:"detail,omitempty"`
}

// Tool is a function tool definition.
type Tool struct {
	Type     string       `json:"type"`
	Function ToolFunction `json:"function"`
}

// ToolFunction describes a callable function.
type ToolFunction struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// ToolCall is a function call made by the assistant. Index is set in stream deltas only.
type ToolCall struct {
	Index    *int             `json:"index,omitempty"`
	ID       string           `json:"id,omitempty"`
	Type     string           `json:"type,omitempty"`
	Function ToolCallFunction `json:"function"`
}

// ToolCallFunction is the function name and JSON-encoded arguments of a call.
type ToolCallFunction struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

// ChatResponse is a non-streaming chat completion.
type ChatResponse struct {
	ID                string          `json:"id"`
	Object            string          `json:"object"`
	Created           int64           `json:"created"`
	Model             string          `json:"model"`
	Choices           []Choice        `json:"choices"`
	Usage             *Usage          `json:"usage,omitempty"`
	SystemFingerprint string          `json:"system_fingerprint,omitempty"`
	ServiceTier       string          `json:"service_tier,omitempty"`
	Metadata          json.RawMessage `json:"metadata,omitempty"`
}

// Choice is one completion choice.
type Choice struct {
	Index        int             `json:"index"`
	Message      Message         `json:"message"`
	FinishReason string          `json:"finish_reason"`
	Logprobs     json.RawMessage `json:"logprobs,omitempty"`
}

// ChatChunk is one streamed chat.completion.chunk.
type ChatChunk struct {
	ID                string          `json:"id"`
	Object            string          `json:"object"`
	Created           int64           `json:"created"`
	Model             string          `json:"model"`
	Choices           []ChunkChoice   `json:"choices"`
	Usage             *Usage          `json:"usage,omitempty"`
	SystemFingerprint string          `json:"system_fingerprint,omitempty"`
	Metadata          json.RawMessage `json:"metadata,omitempty"`

	src *chunkSource // the upstream's bytes, when decoded by DecodeChunk
}

// ChunkChoice is one choice delta of a chunk.
type ChunkChoice struct {
	Index        int             `json:"index"`
	Delta        Delta           `json:"delta"`
	FinishReason *string         `json:"finish_reason"`
	Logprobs     json.RawMessage `json:"logprobs,omitempty"`
}

// Delta is the incremental message of a chunk.
type Delta struct {
	Role      string     `json:"role,omitempty"`
	Content   *string    `json:"content,omitempty"`
	Reasoning *string    `json:"reasoning,omitempty"`
	ToolCalls []ToolCall `json:"tool_calls,omitempty"`
	Refusal   *string    `json:"refusal,omitempty"`
	// ReasoningDetails are reasoning_details pieces (see Message).
	ReasoningDetails []ReasoningDetail `json:"reasoning_details,omitempty"`
}
