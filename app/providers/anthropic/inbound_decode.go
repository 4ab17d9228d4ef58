package anthropic

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// FieldError is an invalid Anthropic request. Field is the offending field in
// Anthropic's dotted notation ("messages.2.content.0.source.media_type"), or
// "" when the body as a whole is at fault. Every error returned by
// DecodeMessagesRequest, DecodeCountTokensRequest and ToChat is a *FieldError:
// the endpoint answers it with status 400 and WriteError(400, err.Error()).
type FieldError struct {
	Field   string
	Message string
}

// Error reads like Anthropic's own validation messages: "field: message".
func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// CountTokensRequest is a POST /v1/messages/count_tokens request: a Messages
// request without max_tokens (and without sampling parameters, which are
// ignored when present). ToChat translates it like a Messages request.
type CountTokensRequest struct {
	MessagesRequest
}

// DecodeMessagesRequest parses and checks the shape of a POST /v1/messages
// body: required fields (model, max_tokens, messages), types, roles, and
// content blocks. Translation problems (block types or tools the gateway
// cannot carry) are reported by ToChat.
func DecodeMessagesRequest(body []byte) (*MessagesRequest, error) {
	return decodeRequest(body, true)
}

// DecodeCountTokensRequest parses a POST /v1/messages/count_tokens body.
func DecodeCountTokensRequest(body []byte) (*CountTokensRequest, error) {
	r, err := decodeRequest(body, false)
	if err != nil {
		return nil, err
	}
	return &CountTokensRequest{MessagesRequest: *r}, nil
}

// requestFields are the top-level fields decoded, in the order errors are
// looked for (so that the same body always gets the same error).
var requestFields = []string{"model", "max_tokens", "messages", "system", "metadata", "stop_sequences", "stream",
	"temperature", "top_p", "top_k", "tools", "tool_choice", "thinking", "output_config"}

func decodeRequest(body []byte, needMaxTokens bool) (*MessagesRequest, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, fieldErr("", "The request body is empty.")
	}
	var top map[string]json.RawMessage
	if body[0] != '{' || json.Unmarshal(body, &top) != nil {
		return nil, fieldErr("", "The request body is not a valid JSON object.")
	}
	r := &MessagesRequest{}
	for _, k := range requestFields {
		v, ok := top[k]
		if !ok || isNull(v) {
			continue
		}
		var err error
		switch k {
		case "model":
			err = decodeField(k, v, &r.Model)
		case "max_tokens":
			err = decodeField(k, v, &r.MaxTokens)
		case "messages":
			r.Messages, err = decodeMessages(v)
		case "system":
			r.System, err = decodeSystem(v)
		case "metadata":
			err = decodeField(k, v, &r.Metadata)
		case "stop_sequences":
			err = decodeField(k, v, &r.StopSequences)
		case "stream":
			err = decodeField(k, v, &r.Stream)
		case "temperature":
			err = decodeField(k, v, &r.Temperature)
		case "top_p":
			err = decodeField(k, v, &r.TopP)
		case "top_k":
			err = decodeField(k, v, &r.TopK)
		case "tools":
			r.Tools, err = decodeTools(v)
		case "tool_choice":
			err = decodeToolChoice(v, &r.ToolChoice)
		case "thinking":
			err = decodeThinking(v, &r.Thinking)
		case "output_config":
			err = decodeField(k, v, &r.OutputConfig)
		}
		if err != nil {
			return nil, err
		}
	}
	for k, v := range top {
		if !isRequestField(k) {
			if r.Extra == nil {
				r.Extra = map[string]json.RawMessage{}
			}
			r.Extra[k] = v
		}
	}
	if r.Model == "" {
		return nil, fieldErr("model", "Field required")
	}
	if needMaxTokens {
		if _, ok := top["max_tokens"]; !ok || isNull(top["max_tokens"]) {
			return nil, fieldErr("max_tokens", "Field required")
		}
		if r.MaxTokens < 1 {
			return nil, fieldErr("max_tokens", "must be at least 1")
		}
	}
	if len(r.Messages) == 0 {
		return nil, fieldErr("messages", "at least one message is required")
	}
	return r, nil
}

func isRequestField(k string) bool {
	for _, f := range requestFields {
		if f == k {
			return true
		}
	}
	return false
}

// decodeField unmarshals v into dst, naming the field (and the nested field
// a type error points at) on failure.
func decodeField(field string, v json.RawMessage, dst any) error {
	if err := json.Unmarshal(v, dst); err != nil {
		if te, ok := err.(*json.UnmarshalTypeError); ok {
			if f := strings.TrimPrefix(te.Field, "blockFields."); f != "" {
				field += "." + f // (the embedded struct of decodeBlock is no field)
			}
			return fieldErr(field, "expected %s, got %s", typeName(te.Type), te.Value)
		}
		return fieldErr(field, "invalid value: %s", err.Error())
	}
	return nil
}

func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "an integer"
	case reflect.Float64, reflect.Float32:
		return "a number"
	case reflect.Slice:
		return "an array"
	case reflect.Map, reflect.Struct, reflect.Pointer:
		return "an object"
	}
	return t.String()
}

func decodeMessages(v json.RawMessage) ([]Message, error) {
	var raws []json.RawMessage
	if json.Unmarshal(v, &raws) != nil {
		return nil, fieldErr("messages", "expected an array")
	}
	out := make([]Message, 0, len(raws))
	for i, raw := range raws {
		path := fmt.Sprintf("messages.%d", i)
		var m struct {
			Role    json.RawMessage `json:"role"`
			Content json.RawMessage `json:"content"`
		}
		if r := bytes.TrimSpace(raw); len(r) == 0 || r[0] != '{' || json.Unmarshal(r, &m) != nil {
			return nil, fieldErr(path, "expected an object")
		}
		var role string
		if err := decodeField(path+".role", m.Role, &role); err != nil || role != "user" && role != "assistant" && role != "system" {
			return nil, fieldErr(path+".role", "must be \"user\", \"assistant\" or \"system\"")
		}
		if isNull(m.Content) {
			return nil, fieldErr(path+".content", "Field required")
		}
		c, err := decodeContent(path+".content", m.Content)
		if err != nil {
			return nil, err
		}
		if role == "system" {
			// A system turn inside the conversation (Anthropic's
			// mid-conversation-system beta, which Claude Code uses for
			// models it does not know): text only, like the system field.
			for j, b := range c.Blocks {
				if b.Type != "text" {
					return nil, fieldErr(fmt.Sprintf("%s.content.%d.type", path, j), "system messages may only contain text blocks")
				}
			}
		}
		out = append(out, Message{Role: role, Content: c})
	}
	return out, nil
}

// decodeContent reads a string or a block array, naming the failing block.
func decodeContent(path string, v json.RawMessage) (Content, error) {
	v = bytes.TrimSpace(v)
	if len(v) > 0 && v[0] == '"' {
		var s string
		if err := decodeField(path, v, &s); err != nil {
			return Content{}, err
		}
		return TextOf(s), nil
	}
	var raws []json.RawMessage
	if len(v) == 0 || v[0] != '[' || json.Unmarshal(v, &raws) != nil {
		return Content{}, fieldErr(path, "expected a string or an array of content blocks")
	}
	blocks := make([]ContentBlock, 0, len(raws))
	for j, raw := range raws {
		b, err := decodeBlock(fmt.Sprintf("%s.%d", path, j), raw)
		if err != nil {
			return Content{}, err
		}
		blocks = append(blocks, b)
	}
	return BlocksOf(blocks...), nil
}

func decodeBlock(path string, raw json.RawMessage) (ContentBlock, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return ContentBlock{}, fieldErr(path, "expected an object")
	}
	var shell struct {
		Type json.RawMessage `json:"type"`
	}
	if json.Unmarshal(raw, &shell) != nil {
		return ContentBlock{}, fieldErr(path, "expected an object")
	}
	var typ string
	if s, ok := rawString(shell.Type); ok && s != "" {
		typ = s
	} else {
		return ContentBlock{}, fieldErr(path+".type", "Field required")
	}
	switch typ {
	case "text", "image", "document", "tool_use", "tool_result", "thinking", "redacted_thinking":
	default:
		// Other types (server tool blocks, search results, ...) have fields
		// of other shapes; ToChat refuses them by type.
		return ContentBlock{Type: typ}, nil
	}
	// blockFields skips Content's decoder: a tool_result's content is
	// decoded apart, to name its failing block.
	type blockFields ContentBlock
	var p struct {
		blockFields
		Content json.RawMessage `json:"content"`
	}
	if err := decodeField(path, raw, &p); err != nil {
		return ContentBlock{}, err
	}
	b := ContentBlock(p.blockFields)
	b.Type = typ
	if typ == "tool_result" && !isNull(p.Content) {
		c, err := decodeContent(path+".content", p.Content)
		if err != nil {
			return ContentBlock{}, err
		}
		b.Content = &c
	}
	switch typ {
	case "image", "document":
		if b.Source == nil {
			return ContentBlock{}, fieldErr(path+".source", "Field required")
		}
	case "tool_use":
		if b.ID == "" || b.Name == "" {
			return ContentBlock{}, fieldErr(path, "tool_use blocks require an id and a name")
		}
		if in := bytes.TrimSpace(b.Input); len(in) > 0 && in[0] != '{' && !isNull(in) {
			return ContentBlock{}, fieldErr(path+".input", "expected an object")
		}
	case "tool_result":
		if b.ToolUseID == "" {
			return ContentBlock{}, fieldErr(path+".tool_use_id", "Field required")
		}
	}
	return b, nil
}

func decodeSystem(v json.RawMessage) (*Content, error) {
	c, err := decodeContent("system", v)
	if err != nil {
		return nil, err
	}
	for i, b := range c.Blocks {
		if b.Type != "text" {
			return nil, fieldErr(fmt.Sprintf("system.%d.type", i), "system blocks must be text blocks")
		}
	}
	return &c, nil
}

func decodeTools(v json.RawMessage) ([]Tool, error) {
	var raws []json.RawMessage
	if json.Unmarshal(v, &raws) != nil {
		return nil, fieldErr("tools", "expected an array")
	}
	out := make([]Tool, 0, len(raws))
	for i, raw := range raws {
		path := fmt.Sprintf("tools.%d", i)
		var t Tool
		if len(bytes.TrimSpace(raw)) == 0 || bytes.TrimSpace(raw)[0] != '{' {
			return nil, fieldErr(path, "expected an object")
		}
		if err := decodeField(path, raw, &t); err != nil {
			return nil, err
		}
		if t.Name == "" {
			return nil, fieldErr(path+".name", "Field required")
		}
		if (t.Type == "" || t.Type == "custom") && isNull(t.InputSchema) {
			return nil, fieldErr(path+".input_schema", "Field required")
		}
		out = append(out, t)
	}
	return out, nil
}

func decodeToolChoice(v json.RawMessage, dst **ToolChoice) error {
	if err := decodeField("tool_choice", v, dst); err != nil {
		return err
	}
	tc := *dst
	if tc == nil {
		return nil
	}
	switch tc.Type {
	case "auto", "any", "none":
	case "tool":
		if tc.Name == "" {
			return fieldErr("tool_choice.name", "Field required")
		}
	default:
		return fieldErr("tool_choice.type", "must be one of auto, any, tool, none")
	}
	return nil
}

func decodeThinking(v json.RawMessage, dst **Thinking) error {
	if err := decodeField("thinking", v, dst); err != nil {
		return err
	}
	th := *dst
	if th == nil {
		return nil
	}
	switch th.Type {
	case "enabled":
		if th.BudgetTokens < 1 {
			return fieldErr("thinking.budget_tokens", "Field required")
		}
	case "disabled", "adaptive":
	default:
		return fieldErr("thinking.type", "must be one of enabled, disabled, adaptive")
	}
	return nil
}

// SessionID identifies the client's session for logging and sticky routing:
// metadata.user_id as sent, except for the formats Claude Code uses, where
// the session id inside is returned: a JSON object string carrying
// "session_id" (current versions) or "user_<hash>_account_<uuid>_session_<uuid>"
// (earlier versions). "" when there is no metadata.user_id.
func (r *MessagesRequest) SessionID() string {
	if r.Metadata == nil {
		return ""
	}
	id := strings.TrimSpace(r.Metadata.UserID)
	if strings.HasPrefix(id, "{") {
		var v struct {
			SessionID string `json:"session_id"`
		}
		if json.Unmarshal([]byte(id), &v) == nil && v.SessionID != "" {
			return v.SessionID
		}
	}
	if i := strings.LastIndex(id, "_session_"); i >= 0 && i+len("_session_") < len(id) {
		return id[i+len("_session_"):]
	}
	return r.Metadata.UserID
}
