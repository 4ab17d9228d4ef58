package openai

import (
	"bytes"
	"encoding/json"
)

// This file holds the wire types of OpenAI's Responses API (POST /v1/responses)
// as the gateway serves it to clients: ResponsesRequest is what a client sends,
// ResponsesResponse what it gets back. DecodeResponsesRequest and ToChat turn a
// request into the neutral (Chat Completions) schema; FromChatResponse and
// ResponsesStreamEncoder turn the neutral answer back into this format.

// ResponsesRequest is a decoded POST /v1/responses body. Fields the gateway
// does not translate are kept in Extra (see ToChat for what happens to them).
type ResponsesRequest struct {
	Model string
	// Input is a plain string or a list of items.
	Input           ResponsesInput
	Instructions    *string
	Tools           []ResponsesTool
	ToolChoice      json.RawMessage // "auto" | "none" | "required" | object, as sent
	Temperature     *float64
	TopP            *float64
	MaxOutputTokens *int
	Stream          bool
	Reasoning       *ResponsesReasoningConfig
	Text            *ResponsesTextConfig
	// ParallelToolCalls is nil when the client did not say.
	ParallelToolCalls  *bool
	PreviousResponseID string
	Store              *bool
	Metadata           json.RawMessage // object of strings, as sent
	User               string

	// Extra holds every other top-level field, as sent.
	Extra map[string]json.RawMessage
}

// ResponsesInput is the request's input: Text for a plain string, Items for
// an array (never both).
type ResponsesInput struct {
	Text  *string
	Items []ResponsesItem
}

// ResponsesItem is one input item. Type is "message" for messages sent in the
// short form without a type. Which fields are set depends on Type:
//
//   - message: Role, Content (and ID, Status when echoed from an output);
//   - function_call: CallID, Name, Arguments (and ID, Status);
//   - function_call_output: CallID, Output;
//   - reasoning: ID, Summary (never translated);
//   - anything else: Type only (ToChat refuses it).
type ResponsesItem struct {
	Type      string
	ID        string
	Role      string
	Status    string
	Content   ResponsesContent
	CallID    string
	Name      string
	Arguments string
	Output    ResponsesContent
}

// ResponsesContent is a message's content or a function call's output: a
// plain string (Text) or a list of parts.
type ResponsesContent struct {
	Text  *string
	Parts []ResponsesContentPart
}

// ResponsesContentPart is one content part of an input item: input_text,
// output_text and refusal carry Text; input_image ImageURL or FileID (and
// Detail); input_file FileData, FileURL or FileID (and Filename).
type ResponsesContentPart struct {
	Type     string `json:"type"`
	Text     string `json:"text,omitempty"`
	ImageURL string `json:"image_url,omitempty"`
	FileID   string `json:"file_id,omitempty"`
	Detail   string `json:"detail,omitempty"`
	FileData string `json:"file_data,omitempty"`
	FileURL  string `json:"file_url,omitempty"`
	Filename string `json:"filename,omitempty"`
}

// ResponsesTool is one entry of tools. Only function tools are translated;
// for any other type only Type is read.
type ResponsesTool struct {
	Type        string          `json:"type"`
	Name        string          `json:"name,omitempty"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// ResponsesReasoningConfig is the request's reasoning object.
type ResponsesReasoningConfig struct {
	Effort  string `json:"effort,omitempty"`
	Summary string `json:"summary,omitempty"`
}

// ResponsesTextConfig is the request's text object.
type ResponsesTextConfig struct {
	Format    *ResponsesTextFormat `json:"format,omitempty"`
	Verbosity string               `json:"verbosity,omitempty"`
}

// ResponsesTextFormat is text.format: type text, json_object or json_schema
// (with Name, Schema, Strict, Description).
type ResponsesTextFormat struct {
	Type        string          `json:"type"`
	Name        string          `json:"name,omitempty"`
	Description string          `json:"description,omitempty"`
	Schema      json.RawMessage `json:"schema,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// ResponsesResponse is a Response object: the body of a non-streaming answer
// and the "response" of the stream's lifecycle events. Fields are in the
// order OpenAI sends them; the ones OpenAI sends as null are pointers without
// omitempty.
type ResponsesResponse struct {
	ID                 string                `json:"id"`
	Object             string                `json:"object"`
	CreatedAt          int64                 `json:"created_at"`
	Status             string                `json:"status"`
	Background         bool                  `json:"background"`
	CompletedAt        *int64                `json:"completed_at"`
	Error              *ResponsesError       `json:"error"`
	IncompleteDetails  *IncompleteDetails    `json:"incomplete_details"`
	Instructions       *string               `json:"instructions"`
	MaxOutputTokens    *int                  `json:"max_output_tokens"`
	Model              string                `json:"model"`
	Output             []ResponsesOutputItem `json:"output"`
	ParallelToolCalls  bool                  `json:"parallel_tool_calls"`
	PreviousResponseID *string               `json:"previous_response_id"`
	Reasoning          ResponsesReasoning    `json:"reasoning"`
	ServiceTier        string                `json:"service_tier,omitempty"`
	Store              bool                  `json:"store"`
	Temperature        float64               `json:"temperature"`
	Text               json.RawMessage       `json:"text"`
	ToolChoice         json.RawMessage       `json:"tool_choice"`
	Tools              json.RawMessage       `json:"tools"`
	TopP               float64               `json:"top_p"`
	Truncation         string                `json:"truncation"`
	Usage              *ResponsesUsage       `json:"usage"`
	User               *string               `json:"user"`
	Metadata           json.RawMessage       `json:"metadata"`
}

// ResponsesError is a failed response's error.
type ResponsesError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// IncompleteDetails says why a response is incomplete: "max_output_tokens"
// or "content_filter".
type IncompleteDetails struct {
	Reason string `json:"reason"`
}

// ResponsesReasoning is the response's reasoning configuration echo.
type ResponsesReasoning struct {
	Effort  *string `json:"effort"`
	Summary *string `json:"summary"`
}

// ResponsesUsage is the Responses usage object. Cost and CostDetails are the
// gateway's pricing (the same values as usage.cost and usage.cost_details of
// a chat completion), present only when the price of the model is known.
type ResponsesUsage struct {
	InputTokens         int                 `json:"input_tokens"`
	InputTokensDetails  InputTokensDetails  `json:"input_tokens_details"`
	OutputTokens        int                 `json:"output_tokens"`
	OutputTokensDetails OutputTokensDetails `json:"output_tokens_details"`
	TotalTokens         int                 `json:"total_tokens"`
	Cost                *float64            `json:"cost,omitempty"`
	CostDetails         json.RawMessage     `json:"cost_details,omitempty"`
}

// InputTokensDetails breaks the input tokens down (both are part of
// input_tokens).
type InputTokensDetails struct {
	CachedTokens     int `json:"cached_tokens"`
	CacheWriteTokens int `json:"cache_write_tokens"`
}

// OutputTokensDetails breaks the output tokens down.
type OutputTokensDetails struct {
	ReasoningTokens int `json:"reasoning_tokens"`
}

// ResponsesOutputItem is one item of a response's output: a message (Role,
// Content), a function_call (CallID, Name, Arguments) or a reasoning item
// (Summary). It marshals with exactly the fields of its type.
type ResponsesOutputItem struct {
	ID        string                   `json:"id"`
	Type      string                   `json:"type"`
	Status    string                   `json:"status,omitempty"`
	Role      string                   `json:"role,omitempty"`
	Content   []ResponsesOutputContent `json:"content,omitempty"`
	CallID    string                   `json:"call_id,omitempty"`
	Name      string                   `json:"name,omitempty"`
	Arguments string                   `json:"arguments,omitempty"`
	Summary   []ResponsesSummaryPart   `json:"summary,omitempty"`
}

// MarshalJSON writes the fields of the item's type, empty arrays and strings
// included (clients index content[0] and parse arguments).
func (it ResponsesOutputItem) MarshalJSON() ([]byte, error) {
	switch it.Type {
	case "message":
		content := it.Content
		if content == nil {
			content = []ResponsesOutputContent{}
		}
		return json.Marshal(struct {
			ID      string                   `json:"id"`
			Type    string                   `json:"type"`
			Status  string                   `json:"status"`
			Content []ResponsesOutputContent `json:"content"`
			Role    string                   `json:"role"`
		}{it.ID, it.Type, it.Status, content, it.Role})
	case "function_call":
		return json.Marshal(struct {
			ID        string `json:"id"`
			Type      string `json:"type"`
			Status    string `json:"status"`
			Arguments string `json:"arguments"`
			CallID    string `json:"call_id"`
			Name      string `json:"name"`
		}{it.ID, it.Type, it.Status, it.Arguments, it.CallID, it.Name})
	case "reasoning":
		summary := it.Summary
		if summary == nil {
			summary = []ResponsesSummaryPart{}
		}
		return json.Marshal(struct {
			ID      string                 `json:"id"`
			Type    string                 `json:"type"`
			Summary []ResponsesSummaryPart `json:"summary"`
		}{it.ID, it.Type, summary})
	}
	type plain ResponsesOutputItem
	return json.Marshal(plain(it))
}

// ResponsesOutputContent is a message's content part: output_text (Text) or
// refusal (Refusal).
type ResponsesOutputContent struct {
	Type    string `json:"type"`
	Text    string `json:"text,omitempty"`
	Refusal string `json:"refusal,omitempty"`
}

// MarshalJSON writes an output_text part with its (always empty) annotations
// and logprobs, and a refusal part with its refusal.
func (c ResponsesOutputContent) MarshalJSON() ([]byte, error) {
	if c.Type == "refusal" {
		return json.Marshal(struct {
			Type    string `json:"type"`
			Refusal string `json:"refusal"`
		}{c.Type, c.Refusal})
	}
	return json.Marshal(struct {
		Type        string     `json:"type"`
		Annotations []struct{} `json:"annotations"`
		Logprobs    []struct{} `json:"logprobs"`
		Text        string     `json:"text"`
	}{c.Type, []struct{}{}, []struct{}{}, c.Text})
}

// ResponsesSummaryPart is one part of a reasoning item's summary.
type ResponsesSummaryPart struct {
	Type string `json:"type"` // summary_text
	Text string `json:"text"`
}

// firstByte is the first non-space byte of raw (0 if none).
func firstByte(raw json.RawMessage) byte {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return 0
	}
	return raw[0]
}
