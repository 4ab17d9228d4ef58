package odock

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/llmgw/gateway/app/schema"
)

// FieldError is an invalid request. Field names the offending field in
// JSON-path notation ("messages[1].content[0].image_url.url"), or is "" when
// the body as a whole is at fault. Every error DecodeRequest and ToChat
// return is a *FieldError: answer it with 400 and ErrorBody(400, "", err.Error()).
type FieldError struct {
	Field   string
	Message string
}

// Error reads "field: message".
func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

func errf(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// topFields are the request's fields, in the order they are checked (so the
// same body always gets the same error).
var topFields = []string{"provider", "model", "messages", "temperature", "max_tokens", "top_p", "top_k",
	"stop_sequences", "presence_penalty", "frequency_penalty", "seed", "metadata", "response_format",
	"tools", "tool_choice", "stream"}

// serverSide are names a client might use for the document's server-side
// request fields (raw provider payload, upstream base URL, API key, timeout,
// model override): the gateway decides those, never the caller.
var serverSide = []string{"api_key", "apikey", "base_url", "baseurl", "model_override", "provider_payload",
	"raw", "raw_payload", "raw_provider_payload", "timeout", "upstream_api_key", "upstream_base_url",
	"upstream_timeout", "upstream_url", "required_provider"}

// hints answer the likely misspellings of a field.
var hints = map[string]string{
	"stop":                  `use "stop_sequences"`,
	"stopSequences":         `use "stop_sequences"`,
	"max_completion_tokens": `use "max_tokens"`,
	"maxTokens":             `use "max_tokens"`,
	"max_output_tokens":     `use "max_tokens"`,
	"topP":                  `use "top_p"`,
	"topK":                  `use "top_k"`,
	"responseFormat":        `use "response_format"`,
	"toolChoice":            `use "tool_choice"`,
	"system":                `put the system prompt in a message with role "system"`,
	"prompt":                `send "messages"`,
}

// DecodeRequest parses and validates a POST /v1/llm/chat body. It never
// panics; every error is a *FieldError naming the field.
func DecodeRequest(b []byte) (*Request, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, errf("", "the request body is empty")
	}
	if b[0] != '{' {
		return nil, errf("", "the request body must be a JSON object")
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return nil, errf("", "the request body is not valid JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if err := checkKeys("", top, topFields...); err != nil {
		return nil, err
	}
	r := &Request{}
	for _, k := range topFields {
		v, ok := top[k]
		if !ok || isNull(v) {
			continue
		}
		if err := r.decodeField(k, v); err != nil {
			return nil, err
		}
	}
	if r.Model == "" {
		return nil, errf("model", "is required")
	}
	if r.Messages == nil {
		return nil, errf("messages", "is required")
	}
	return r, nil
}

func (r *Request) decodeField(k string, v json.RawMessage) error {
	var err error
	switch k {
	case "provider":
		var s string
		if s, err = str(k, v); err == nil {
			s = strings.ToLower(strings.TrimSpace(s))
			if strings.ContainsAny(s, "/ \t\r\n") {
				return errf(k, "must be a provider name such as \"openai\", got %q", s)
			}
			r.Provider = s
		}
	case "model":
		if r.Model, err = str(k, v); err == nil && strings.TrimSpace(r.Model) == "" {
			return errf(k, "must not be empty")
		}
	case "messages":
		r.Messages, err = decodeMessages(k, v)
	case "temperature":
		r.Temperature, err = numIn(k, v, 0, 2)
	case "max_tokens":
		r.MaxTokens, err = intAtLeast(k, v, 1)
	case "top_p":
		r.TopP, err = numIn(k, v, 0, 1)
	case "top_k":
		r.TopK, err = intAtLeast(k, v, 1)
	case "stop_sequences":
		r.StopSequences, err = decodeStop(k, v)
	case "presence_penalty":
		r.PresencePenalty, err = numIn(k, v, -2, 2)
	case "frequency_penalty":
		r.FrequencyPenalty, err = numIn(k, v, -2, 2)
	case "seed":
		var n int64
		if n, err = integer(k, v); err == nil {
			r.Seed = &n
		}
	case "metadata":
		if _, err = obj(k, v); err == nil {
			r.Metadata = compact(v)
		}
	case "response_format":
		r.ResponseFormat, err = decodeResponseFormat(k, v)
	case "tools":
		r.Tools, err = decodeTools(k, v)
	case "tool_choice":
		r.ToolChoice, err = decodeToolChoice(k, v)
	case "stream":
		r.Stream, err = boolean(k, v)
	}
	return err
}

var roles = []string{"system", "developer", "user", "assistant", "tool"}

func decodeMessages(path string, v json.RawMessage) ([]Message, error) {
	items, err := arr(path, v)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, errf(path, "must contain at least one message")
	}
	out := make([]Message, len(items))
	for i, item := range items {
		if err := decodeMessage(fmt.Sprintf("%s[%d]", path, i), item, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func decodeMessage(path string, v json.RawMessage, m *Message) error {
	fields, err := obj(path, v)
	if err != nil {
		return err
	}
	if err := checkKeys(path, fields, "role", "content", "name", "tool_calls", "tool_call_id"); err != nil {
		return err
	}
	rv, ok := fields["role"]
	if !ok || isNull(rv) {
		return errf(join(path, "role"), "is required")
	}
	if m.Role, err = str(join(path, "role"), rv); err != nil {
		return err
	}
	if !slices.Contains(roles, m.Role) {
		return errf(join(path, "role"), "must be one of %s, got %q", strings.Join(roles, ", "), m.Role)
	}
	if nv, ok := fields["name"]; ok && !isNull(nv) {
		if m.Name, err = str(join(path, "name"), nv); err != nil {
			return err
		}
	}
	if tv, ok := fields["tool_call_id"]; ok && !isNull(tv) {
		if m.Role != "tool" {
			return errf(join(path, "tool_call_id"), "is only allowed in messages with role \"tool\"")
		}
		if m.ToolCallID, err = str(join(path, "tool_call_id"), tv); err != nil {
			return err
		}
	}
	if m.Role == "tool" && m.ToolCallID == "" {
		return errf(join(path, "tool_call_id"), "is required in messages with role \"tool\"")
	}
	if tv, ok := fields["tool_calls"]; ok && !isNull(tv) {
		if m.Role != "assistant" {
			return errf(join(path, "tool_calls"), "is only allowed in messages with role \"assistant\"")
		}
		if m.ToolCalls, err = decodeToolCalls(join(path, "tool_calls"), tv); err != nil {
			return err
		}
	}
	cpath := join(path, "content")
	if cv, ok := fields["content"]; ok && !isNull(cv) {
		if m.Content, err = decodeContent(cpath, cv, m.Role); err != nil {
			return err
		}
	}
	if m.Content.IsNull() && !(m.Role == "assistant" && len(m.ToolCalls) > 0) {
		if m.Role == "assistant" {
			return errf(cpath, "is required unless tool_calls is set")
		}
		return errf(cpath, "is required")
	}
	// Tool call ids must be unique within the turn (tool_use blocks and tool_calls).
	seen := map[string]bool{}
	for _, b := range m.Content.Blocks {
		if b.Type == BlockToolUse {
			if seen[b.ID] {
				return errf(cpath, "tool call id %q is used twice", b.ID)
			}
			seen[b.ID] = true
		}
	}
	for i, tc := range m.ToolCalls {
		if seen[tc.ID] {
			return errf(fmt.Sprintf("%s.tool_calls[%d].id", path, i), "tool call id %q is used twice", tc.ID)
		}
		seen[tc.ID] = true
	}
	return nil
}

// blockTypes are the block types each role may send.
var blockTypes = map[string][]string{
	"system":    {BlockText},
	"developer": {BlockText},
	"tool":      {BlockText},
	"user":      {BlockText, BlockImageURL, BlockImage, BlockToolResult},
	"assistant": {BlockText, BlockThinking, BlockToolUse},
}

func decodeContent(path string, v json.RawMessage, role string) (Content, error) {
	switch kind(v) {
	case "string":
		s, err := str(path, v)
		return Content{Text: &s}, err
	case "array":
	default:
		return Content{}, errf(path, "must be a string or an array of content blocks, got %s", kind(v))
	}
	items, err := arr(path, v)
	if err != nil {
		return Content{}, err
	}
	if len(items) == 0 {
		return Content{}, errf(path, "must contain at least one content block")
	}
	blocks := make([]ContentBlock, len(items))
	for i, item := range items {
		if blocks[i], err = decodeBlock(fmt.Sprintf("%s[%d]", path, i), item, role); err != nil {
			return Content{}, err
		}
	}
	return Content{Blocks: blocks}, nil
}

func decodeBlock(path string, v json.RawMessage, role string) (ContentBlock, error) {
	fields, err := obj(path, v)
	if err != nil {
		return ContentBlock{}, err
	}
	tv, ok := fields["type"]
	if !ok || isNull(tv) {
		return ContentBlock{}, errf(join(path, "type"), "is required")
	}
	t, err := str(join(path, "type"), tv)
	if err != nil {
		return ContentBlock{}, err
	}
	allowed := blockTypes[role]
	if !slices.Contains(allowed, t) {
		return ContentBlock{}, errf(join(path, "type"), "%q blocks are not allowed in %s messages (allowed: %s)",
			t, role, strings.Join(allowed, ", "))
	}
	b := ContentBlock{Type: t}
	switch t {
	case BlockText:
		if err := checkKeys(path, fields, "type", "text"); err != nil {
			return b, err
		}
		b.Text, err = requiredStr(path, fields, "text", true)
	case BlockThinking:
		if err := checkKeys(path, fields, "type", "thinking", "signature"); err != nil {
			return b, err
		}
		if b.Thinking, err = requiredStr(path, fields, "thinking", true); err == nil {
			b.Signature, err = optionalStr(path, fields, "signature")
		}
	case BlockImageURL:
		if err := checkKeys(path, fields, "type", "image_url"); err != nil {
			return b, err
		}
		b.ImageURL, err = decodeImageURL(join(path, "image_url"), fields["image_url"])
	case BlockImage:
		b.Type = BlockImageURL
		b.ImageURL, err = decodeImage(path, fields)
	case BlockToolUse:
		if err := checkKeys(path, fields, "type", "id", "name", "input"); err != nil {
			return b, err
		}
		if b.ID, err = requiredStr(path, fields, "id", false); err != nil {
			return b, err
		}
		if b.Name, err = requiredStr(path, fields, "name", false); err != nil {
			return b, err
		}
		b.Input = json.RawMessage("{}")
		if iv, ok := fields["input"]; ok && !isNull(iv) {
			if _, err = obj(join(path, "input"), iv); err == nil {
				b.Input = compact(iv)
			}
		}
	case BlockToolResult:
		if err := checkKeys(path, fields, "type", "tool_use_id", "content", "is_error"); err != nil {
			return b, err
		}
		if b.ToolUseID, err = requiredStr(path, fields, "tool_use_id", false); err != nil {
			return b, err
		}
		if cv, ok := fields["content"]; ok && !isNull(cv) {
			var c Content
			if c, err = decodeContent(join(path, "content"), cv, "tool"); err != nil {
				return b, err
			}
			b.Content = &c
		}
		if ev, ok := fields["is_error"]; ok && !isNull(ev) {
			b.IsError, err = boolean(join(path, "is_error"), ev)
		}
	}
	return b, err
}

// decodeImageURL reads OpenAI's image_url: {"url", "detail"?} or a bare URL string.
func decodeImageURL(path string, v json.RawMessage) (*schema.ImageURL, error) {
	if v == nil || isNull(v) {
		return nil, errf(path, "is required")
	}
	if kind(v) == "string" {
		u, _ := str(path, v)
		return &schema.ImageURL{URL: u}, checkURL(path, u)
	}
	fields, err := obj(path, v)
	if err != nil {
		return nil, err
	}
	if err := checkKeys(path, fields, "url", "detail"); err != nil {
		return nil, err
	}
	out := &schema.ImageURL{}
	if out.URL, err = requiredStr(path, fields, "url", false); err != nil {
		return nil, err
	}
	if err := checkURL(join(path, "url"), out.URL); err != nil {
		return nil, err
	}
	if out.Detail, err = optionalStr(path, fields, "detail"); err != nil {
		return nil, err
	}
	if out.Detail != "" && !slices.Contains([]string{"auto", "low", "high"}, out.Detail) {
		return nil, errf(join(path, "detail"), "must be one of auto, low, high, got %q", out.Detail)
	}
	return out, nil
}

var imageMediaTypes = []string{"image/jpeg", "image/png", "image/gif", "image/webp"}

// decodeImage reads an image block: {"url"} or {"source": {"type": "url", "url"}
// | {"type": "base64", "media_type", "data"}}, with an optional detail.
func decodeImage(path string, fields map[string]json.RawMessage) (*schema.ImageURL, error) {
	if err := checkKeys(path, fields, "type", "url", "source", "detail"); err != nil {
		return nil, err
	}
	out := &schema.ImageURL{}
	var err error
	if out.Detail, err = optionalStr(path, fields, "detail"); err != nil {
		return nil, err
	}
	uv, hasURL := fields["url"]
	sv, hasSource := fields["source"]
	hasURL, hasSource = hasURL && !isNull(uv), hasSource && !isNull(sv)
	switch {
	case hasURL && hasSource:
		return nil, errf(path, "set either url or source, not both")
	case hasURL:
		if out.URL, err = str(join(path, "url"), uv); err != nil {
			return nil, err
		}
		return out, checkURL(join(path, "url"), out.URL)
	case !hasSource:
		return nil, errf(join(path, "source"), "is required (or url)")
	}
	spath := join(path, "source")
	src, err := obj(spath, sv)
	if err != nil {
		return nil, err
	}
	st, err := requiredStr(spath, src, "type", false)
	if err != nil {
		return nil, err
	}
	switch st {
	case "url":
		if err := checkKeys(spath, src, "type", "url"); err != nil {
			return nil, err
		}
		if out.URL, err = requiredStr(spath, src, "url", false); err != nil {
			return nil, err
		}
		return out, checkURL(join(spath, "url"), out.URL)
	case "base64":
		if err := checkKeys(spath, src, "type", "media_type", "data"); err != nil {
			return nil, err
		}
		mt, err := requiredStr(spath, src, "media_type", false)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(imageMediaTypes, mt) {
			return nil, errf(join(spath, "media_type"), "must be one of %s, got %q", strings.Join(imageMediaTypes, ", "), mt)
		}
		data, err := requiredStr(spath, src, "data", false)
		if err != nil {
			return nil, err
		}
		out.URL = "data:" + mt + ";base64," + data
		return out, nil
	}
	return nil, errf(join(spath, "type"), "must be \"base64\" or \"url\", got %q", st)
}

func checkURL(path, u string) error {
	for _, p := range []string{"https://", "http://", "data:"} {
		if len(u) > len(p) && strings.EqualFold(u[:len(p)], p) {
			return nil
		}
	}
	return errf(path, "must be an http(s) URL or a data: URI")
}

// decodeToolCalls reads an assistant's tool_calls: the flat shape of the
// response ({id, type?, name, arguments}) or OpenAI's ({id, type, function:
// {name, arguments}}). arguments is JSON text or a JSON value.
func decodeToolCalls(path string, v json.RawMessage) ([]ToolCall, error) {
	items, err := arr(path, v)
	if err != nil {
		return nil, err
	}
	out := make([]ToolCall, 0, len(items))
	for i, item := range items {
		p := fmt.Sprintf("%s[%d]", path, i)
		fields, err := obj(p, item)
		if err != nil {
			return nil, err
		}
		if err := checkKeys(p, fields, "id", "type", "name", "arguments", "function"); err != nil {
			return nil, err
		}
		tc := ToolCall{Type: "function"}
		if tc.ID, err = requiredStr(p, fields, "id", false); err != nil {
			return nil, err
		}
		if err := checkFunctionType(p, fields); err != nil {
			return nil, err
		}
		fn, fp := fields, p
		if fv, ok := fields["function"]; ok && !isNull(fv) {
			if _, n := fields["name"]; n {
				return nil, errf(join(p, "name"), "set name inside function or at the top level, not both")
			}
			if _, a := fields["arguments"]; a {
				return nil, errf(join(p, "arguments"), "set arguments inside function or at the top level, not both")
			}
			fp = join(p, "function")
			if fn, err = obj(fp, fv); err != nil {
				return nil, err
			}
			if err := checkKeys(fp, fn, "name", "arguments"); err != nil {
				return nil, err
			}
		}
		if tc.Name, err = requiredStr(fp, fn, "name", false); err != nil {
			return nil, err
		}
		tc.Arguments = "{}"
		if av, ok := fn["arguments"]; ok && !isNull(av) {
			if kind(av) == "string" {
				tc.Arguments, _ = str("", av)
			} else {
				tc.Arguments = string(compact(av))
			}
		}
		out = append(out, tc)
	}
	return out, nil
}

func checkFunctionType(path string, fields map[string]json.RawMessage) error {
	tv, ok := fields["type"]
	if !ok || isNull(tv) {
		return nil
	}
	t, err := str(join(path, "type"), tv)
	if err == nil && t != "function" {
		err = errf(join(path, "type"), "must be \"function\", got %q", t)
	}
	return err
}

// decodeTools reads tools in the flat shape ({type?, name, description?,
// parameters? | input_schema?, strict?}) or OpenAI's ({type, function: {...}}).
func decodeTools(path string, v json.RawMessage) ([]Tool, error) {
	items, err := arr(path, v)
	if err != nil {
		return nil, err
	}
	out := make([]Tool, 0, len(items))
	names := map[string]bool{}
	for i, item := range items {
		p := fmt.Sprintf("%s[%d]", path, i)
		fields, err := obj(p, item)
		if err != nil {
			return nil, err
		}
		if err := checkFunctionType(p, fields); err != nil {
			return nil, err
		}
		fn, fp := fields, p
		if fv, ok := fields["function"]; ok && !isNull(fv) {
			if err := checkKeys(p, fields, "type", "function"); err != nil {
				return nil, err
			}
			fp = join(p, "function")
			if fn, err = obj(fp, fv); err != nil {
				return nil, err
			}
			if err := checkKeys(fp, fn, "name", "description", "parameters", "strict"); err != nil {
				return nil, err
			}
		} else if err := checkKeys(p, fields, "type", "name", "description", "parameters", "input_schema", "strict"); err != nil {
			return nil, err
		}
		t := Tool{Type: "function"}
		if t.Name, err = requiredStr(fp, fn, "name", false); err != nil {
			return nil, err
		}
		if names[t.Name] {
			return nil, errf(join(fp, "name"), "tool %q is defined twice", t.Name)
		}
		names[t.Name] = true
		if t.Description, err = optionalStr(fp, fn, "description"); err != nil {
			return nil, err
		}
		pv, hasP := fn["parameters"]
		sv, hasS := fn["input_schema"]
		hasP, hasS = hasP && !isNull(pv), hasS && !isNull(sv)
		if hasP && hasS {
			return nil, errf(join(fp, "input_schema"), "set parameters or input_schema, not both")
		}
		key := "parameters"
		if hasS {
			pv, key = sv, "input_schema"
		}
		if hasP || hasS {
			if _, err := obj(join(fp, key), pv); err != nil {
				return nil, err
			}
			t.Parameters = compact(pv)
		}
		if sv, ok := fn["strict"]; ok && !isNull(sv) {
			b, err := boolean(join(fp, "strict"), sv)
			if err != nil {
				return nil, err
			}
			t.Strict = &b
		}
		out = append(out, t)
	}
	return out, nil
}

// decodeToolChoice reads "auto" | "none" | "required" | "any", or an object
// {type: auto|none|required|any} or {type: tool|function, name} or
// {type: function, function: {name}}.
func decodeToolChoice(path string, v json.RawMessage) (*ToolChoice, error) {
	mode := func(p, s string) (*ToolChoice, error) {
		switch s {
		case ChoiceAuto, ChoiceNone, ChoiceRequired:
			return &ToolChoice{Type: s}, nil
		case "any":
			return &ToolChoice{Type: ChoiceRequired}, nil
		}
		return nil, errf(p, "must be one of auto, none, required, any, tool, got %q", s)
	}
	if kind(v) == "string" {
		s, _ := str(path, v)
		return mode(path, s)
	}
	fields, err := obj(path, v)
	if err != nil {
		return nil, errf(path, "must be a string or an object, got %s", kind(v))
	}
	if err := checkKeys(path, fields, "type", "name", "function"); err != nil {
		return nil, err
	}
	t, err := requiredStr(path, fields, "type", false)
	if err != nil {
		return nil, err
	}
	if t != ChoiceTool && t != "function" {
		if len(fields) > 1 {
			return nil, errf(path, "type %q takes no other field", t)
		}
		return mode(join(path, "type"), t)
	}
	fn, fp := fields, path
	if fv, ok := fields["function"]; ok && !isNull(fv) {
		if _, n := fields["name"]; n {
			return nil, errf(join(path, "name"), "set name inside function or at the top level, not both")
		}
		fp = join(path, "function")
		if fn, err = obj(fp, fv); err != nil {
			return nil, err
		}
		if err := checkKeys(fp, fn, "name"); err != nil {
			return nil, err
		}
	}
	name, err := requiredStr(fp, fn, "name", false)
	if err != nil {
		return nil, err
	}
	return &ToolChoice{Type: ChoiceTool, Name: name}, nil
}

// decodeResponseFormat reads "text" | "json" | "json_object", or
// {type: text|json_object} or {type: json_schema, json_schema: {name?, schema,
// strict?, description?}} or the same with name/schema/strict/description
// at the top level.
func decodeResponseFormat(path string, v json.RawMessage) (*ResponseFormat, error) {
	simple := func(p, s string) (*ResponseFormat, error) {
		switch s {
		case "text", "json_object":
			return &ResponseFormat{Type: s}, nil
		case "json":
			return &ResponseFormat{Type: "json_object"}, nil
		}
		return nil, errf(p, "must be one of text, json_object, json_schema, got %q", s)
	}
	if kind(v) == "string" {
		s, _ := str(path, v)
		if s == "json_schema" {
			return nil, errf(path, "json_schema needs a schema: send {\"type\":\"json_schema\",\"json_schema\":{\"name\":...,\"schema\":{...}}}")
		}
		return simple(path, s)
	}
	fields, err := obj(path, v)
	if err != nil {
		return nil, errf(path, "must be a string or an object, got %s", kind(v))
	}
	t, err := requiredStr(path, fields, "type", false)
	if err != nil {
		return nil, err
	}
	if t != "json_schema" {
		if err := checkKeys(path, fields, "type"); err != nil {
			return nil, err
		}
		return simple(join(path, "type"), t)
	}
	if err := checkKeys(path, fields, "type", "json_schema", "name", "schema", "strict", "description"); err != nil {
		return nil, err
	}
	src, sp := fields, path
	if jv, ok := fields["json_schema"]; ok && !isNull(jv) {
		for _, k := range []string{"name", "schema", "strict", "description"} {
			if _, dup := fields[k]; dup {
				return nil, errf(join(path, k), "set %s inside json_schema or at the top level, not both", k)
			}
		}
		sp = join(path, "json_schema")
		if src, err = obj(sp, jv); err != nil {
			return nil, err
		}
		if err := checkKeys(sp, src, "name", "schema", "strict", "description"); err != nil {
			return nil, err
		}
	}
	var js struct {
		Name        string          `json:"name"`
		Description string          `json:"description,omitempty"`
		Schema      json.RawMessage `json:"schema"`
		Strict      *bool           `json:"strict,omitempty"`
	}
	if js.Name, err = optionalStr(sp, src, "name"); err != nil {
		return nil, err
	}
	if js.Name == "" {
		js.Name = "response"
	}
	if js.Description, err = optionalStr(sp, src, "description"); err != nil {
		return nil, err
	}
	schemaV, ok := src["schema"]
	if !ok || isNull(schemaV) {
		return nil, errf(join(sp, "schema"), "is required for type json_schema")
	}
	if _, err := obj(join(sp, "schema"), schemaV); err != nil {
		return nil, err
	}
	js.Schema = compact(schemaV)
	if sv, ok := src["strict"]; ok && !isNull(sv) {
		b, err := boolean(join(sp, "strict"), sv)
		if err != nil {
			return nil, err
		}
		js.Strict = &b
	}
	raw, err := json.Marshal(js)
	if err != nil {
		return nil, errf(sp, "cannot be encoded: %v", err)
	}
	return &ResponseFormat{Type: "json_schema", JSONSchema: raw}, nil
}

func decodeStop(path string, v json.RawMessage) ([]string, error) {
	if kind(v) == "string" {
		s, _ := str(path, v)
		if s == "" {
			return nil, errf(path, "must not be an empty string")
		}
		return []string{s}, nil
	}
	items, err := arr(path, v)
	if err != nil {
		return nil, errf(path, "must be an array of strings, got %s", kind(v))
	}
	out := make([]string, 0, len(items))
	for i, item := range items {
		p := fmt.Sprintf("%s[%d]", path, i)
		s, err := str(p, item)
		if err != nil {
			return nil, err
		}
		if s == "" {
			return nil, errf(p, "must not be an empty string")
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// ---- JSON helpers --------------------------------------------------------

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func kind(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "nothing"
	}
	switch v[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

func isNull(v json.RawMessage) bool { return kind(v) == "null" }

// checkKeys rejects the first (sorted) key not in allowed.
func checkKeys(path string, fields map[string]json.RawMessage, allowed ...string) error {
	var unknown []string
	for k := range fields {
		if !slices.Contains(allowed, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	k := unknown[0]
	switch {
	case path == "" && slices.Contains(serverSide, strings.ToLower(k)):
		return errf(k, "is set by the gateway and cannot be sent in a request")
	case path == "" && hints[k] != "":
		return errf(k, "unknown field; %s", hints[k])
	}
	return errf(join(path, k), "unknown field (allowed: %s)", strings.Join(allowed, ", "))
}

func obj(path string, v json.RawMessage) (map[string]json.RawMessage, error) {
	if kind(v) != "object" {
		return nil, errf(path, "must be an object, got %s", kind(v))
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(v, &m); err != nil {
		return nil, errf(path, "is not a valid JSON object")
	}
	return m, nil
}

func arr(path string, v json.RawMessage) ([]json.RawMessage, error) {
	if kind(v) != "array" {
		return nil, errf(path, "must be an array, got %s", kind(v))
	}
	var a []json.RawMessage
	if err := json.Unmarshal(v, &a); err != nil {
		return nil, errf(path, "is not a valid JSON array")
	}
	return a, nil
}

func str(path string, v json.RawMessage) (string, error) {
	if kind(v) != "string" {
		return "", errf(path, "must be a string, got %s", kind(v))
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", errf(path, "is not a valid JSON string")
	}
	return s, nil
}

// requiredStr reads fields[key]; allowEmpty says whether "" is valid.
func requiredStr(path string, fields map[string]json.RawMessage, key string, allowEmpty bool) (string, error) {
	v, ok := fields[key]
	if !ok || isNull(v) {
		return "", errf(join(path, key), "is required")
	}
	s, err := str(join(path, key), v)
	if err == nil && !allowEmpty && s == "" {
		err = errf(join(path, key), "must not be empty")
	}
	return s, err
}

func optionalStr(path string, fields map[string]json.RawMessage, key string) (string, error) {
	v, ok := fields[key]
	if !ok || isNull(v) {
		return "", nil
	}
	return str(join(path, key), v)
}

func boolean(path string, v json.RawMessage) (bool, error) {
	if kind(v) != "boolean" {
		return false, errf(path, "must be a boolean, got %s", kind(v))
	}
	var b bool
	if err := json.Unmarshal(v, &b); err != nil {
		return false, errf(path, "must be a boolean")
	}
	return b, nil
}

func number(path string, v json.RawMessage) (float64, error) {
	if kind(v) != "number" {
		return 0, errf(path, "must be a number, got %s", kind(v))
	}
	f, err := strconv.ParseFloat(string(bytes.TrimSpace(v)), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, errf(path, "must be a finite number")
	}
	return f, nil
}

func numIn(path string, v json.RawMessage, lo, hi float64) (*float64, error) {
	f, err := number(path, v)
	if err != nil {
		return nil, err
	}
	if f < lo || f > hi {
		return nil, errf(path, "must be between %g and %g, got %g", lo, hi, f)
	}
	return &f, nil
}

// integer reads an integer; 512.0 and 5e2 are accepted as 512.
func integer(path string, v json.RawMessage) (int64, error) {
	if kind(v) != "number" {
		return 0, errf(path, "must be an integer, got %s", kind(v))
	}
	s := string(bytes.TrimSpace(v))
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, errf(path, "must be an integer, got %s", s)
	}
	return int64(f), nil
}

func intAtLeast(path string, v json.RawMessage, lo int64) (*int, error) {
	n, err := integer(path, v)
	if err != nil {
		return nil, err
	}
	if n < lo || n > math.MaxInt32 {
		return nil, errf(path, "must be an integer between %d and %d, got %d", lo, math.MaxInt32, n)
	}
	i := int(n)
	return &i, nil
}

// compact returns v without insignificant whitespace (v is valid JSON).
func compact(v json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, v); err != nil {
		return append(json.RawMessage(nil), v...)
	}
	return b.Bytes()
}
