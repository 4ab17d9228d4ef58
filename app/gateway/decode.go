package gateway

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/llmgw/gateway/app/apierr"
	"github.com/llmgw/gateway/app/schema"
)

// decodeChat parses and validates a chat completion body (decoded exactly once).
func decodeChat(body []byte) (*schema.ChatRequest, error) {
	req, err := schema.DecodeChatRequest(body)
	if err != nil {
		return nil, decodeError(err)
	}
	if err := validateChat(req); err != nil {
		return nil, err
	}
	return req, nil
}

func decodeError(err error) *apierr.Error {
	var fe *schema.FieldError
	if errors.As(err, &fe) {
		return apierr.BadRequest(fe.Msg, fe.Param)
	}
	var se *schema.SyntaxError
	if errors.As(err, &se) {
		return apierr.InvalidJSON("Invalid JSON in request body: " + se.Err.Error())
	}
	return apierr.InvalidJSON("Invalid JSON in request body.")
}

var validRoles = map[string]bool{"system": true, "developer": true, "user": true, "assistant": true, "tool": true, "function": true}

func validateChat(r *schema.ChatRequest) error {
	if r.Model == "" {
		return apierr.BadRequest("You must provide a model parameter.", "model")
	}
	if len(r.Messages) == 0 {
		return apierr.BadRequest("'messages' must be a non-empty array.", "messages")
	}
	for i, m := range r.Messages {
		param := fmt.Sprintf("messages[%d]", i)
		if !validRoles[m.Role] {
			return apierr.BadRequest(fmt.Sprintf("Invalid value for '%s.role': '%s'. Supported values are: 'system', 'developer', 'user', 'assistant', 'tool'.", param, m.Role), param+".role")
		}
		if m.Role == "tool" && m.ToolCallID == "" {
			return apierr.BadRequest(fmt.Sprintf("Missing required parameter: '%s.tool_call_id'.", param), param+".tool_call_id")
		}
		if m.Content.IsNull() && m.Role != "assistant" {
			return apierr.BadRequest(fmt.Sprintf("Missing required parameter: '%s.content'.", param), param+".content")
		}
	}
	if r.N != nil && (*r.N < 1 || *r.N > 128) {
		return apierr.BadRequest("'n' must be between 1 and 128.", "n")
	}
	if r.MaxTokens != nil && *r.MaxTokens < 1 {
		return apierr.BadRequest("'max_tokens' must be at least 1.", "max_tokens")
	}
	if r.MaxCompletionTokens != nil && *r.MaxCompletionTokens < 1 {
		return apierr.BadRequest("'max_completion_tokens' must be at least 1.", "max_completion_tokens")
	}
	if r.Temperature != nil && (*r.Temperature < 0 || *r.Temperature > 2) {
		return apierr.BadRequest("'temperature' must be between 0 and 2.", "temperature")
	}
	if r.TopP != nil && (*r.TopP < 0 || *r.TopP > 1) {
		return apierr.BadRequest("'top_p' must be between 0 and 1.", "top_p")
	}
	for i, t := range r.Tools {
		if t.Type != "function" || t.Function.Name == "" {
			return apierr.BadRequest(fmt.Sprintf("Invalid tool at 'tools[%d]': type must be 'function' and function.name is required.", i), fmt.Sprintf("tools[%d]", i))
		}
	}
	return nil
}

// decodeEmbeddings parses and validates an embeddings body.
func decodeEmbeddings(body []byte) (*schema.EmbeddingRequest, error) {
	req := &schema.EmbeddingRequest{}
	if err := req.UnmarshalJSON(body); err != nil {
		return nil, decodeError(err)
	}
	if req.Model == "" {
		return nil, apierr.BadRequest("You must provide a model parameter.", "model")
	}
	if len(req.Input) == 0 {
		return nil, apierr.BadRequest("Missing required parameter: 'input'.", "input")
	}
	var probe any
	if json.Unmarshal(req.Input, &probe) != nil {
		return nil, apierr.BadRequest("'input' must be a string or an array.", "input")
	}
	switch v := probe.(type) {
	case string:
	case []any:
		if len(v) == 0 {
			return nil, apierr.BadRequest("'input' must not be empty.", "input")
		}
	default:
		return nil, apierr.BadRequest("'input' must be a string or an array.", "input")
	}
	if req.EncodingFormat != "" && req.EncodingFormat != "float" && req.EncodingFormat != "base64" {
		return nil, apierr.BadRequest("'encoding_format' must be 'float' or 'base64'.", "encoding_format")
	}
	return req, nil
}
