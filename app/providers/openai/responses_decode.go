package openai

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/llmgw/gateway/app/schema"
)

// responsesFields are the top-level fields DecodeResponsesRequest reads, in the
// order errors are looked for (so that a body always gets the same error).
var responsesFields = []string{"model", "input", "instructions", "tools", "tool_choice", "temperature", "top_p",
	"max_output_tokens", "stream", "reasoning", "text", "parallel_tool_calls", "previous_response_id", "store",
	"metadata", "user"}

// DecodeResponsesRequest parses and checks the shape of a POST /v1/responses
// body: that it is a JSON object, that model and input are present, and the
// type of every field it reads, down to input items and their content parts.
// A body that is not a JSON object is a *schema.SyntaxError; any other
// problem a *schema.FieldError whose Param names the field the way OpenAI's
// error envelope does ("input[2].content[0].image_url"). Whether the gateway
// can carry what the request asks for is ToChat's business.
func DecodeResponsesRequest(body []byte) (*ResponsesRequest, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, &schema.SyntaxError{Err: fmt.Errorf("empty body")}
	}
	if body[0] != '{' {
		return nil, &schema.SyntaxError{Err: fmt.Errorf("the body must be a JSON object")}
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, &schema.SyntaxError{Err: err}
	}
	r := &ResponsesRequest{}
	for _, k := range responsesFields {
		v, ok := top[k]
		if !ok || isNull(v) {
			continue
		}
		var err error
		switch k {
		case "model":
			r.Model, err = getString(k, v)
		case "input":
			r.Input, err = decodeInput(v)
		case "instructions":
			var s string
			if s, err = getString(k, v); err == nil {
				r.Instructions = &s
			}
		case "tools":
			r.Tools, err = decodeResponsesTools(v)
		case "tool_choice":
			err = checkToolChoice(v)
			r.ToolChoice = v
		case "temperature":
			r.Temperature, err = getRange(k, v, 0, 2)
		case "top_p":
			r.TopP, err = getRange(k, v, 0, 1)
		case "max_output_tokens":
			if r.MaxOutputTokens, err = getInt(k, v); err == nil && *r.MaxOutputTokens < 1 {
				err = fieldErrorf(k, "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 1, but got %d instead.", *r.MaxOutputTokens)
			}
		case "stream":
			r.Stream, err = getBool(k, v)
		case "reasoning":
			r.Reasoning, err = decodeReasoningConfig(v)
		case "text":
			r.Text, err = decodeTextConfig(v)
		case "parallel_tool_calls":
			var b bool
			if b, err = getBool(k, v); err == nil {
				r.ParallelToolCalls = &b
			}
		case "previous_response_id":
			r.PreviousResponseID, err = getString(k, v)
		case "store":
			var b bool
			if b, err = getBool(k, v); err == nil {
				r.Store = &b
			}
		case "metadata":
			if _, err = getObject(k, v); err == nil {
				r.Metadata = v
			}
		case "user":
			r.User, err = getString(k, v)
		}
		if err != nil {
			return nil, err
		}
	}
	for k, v := range top {
		if !isResponsesField(k) {
			if r.Extra == nil {
				r.Extra = map[string]json.RawMessage{}
			}
			r.Extra[k] = v
		}
	}
	if r.Model == "" {
		return nil, fieldErrorf("model", "Missing required parameter: 'model'.")
	}
	if r.Input.Text == nil && r.Input.Items == nil {
		return nil, fieldErrorf("input", "Missing required parameter: 'input'.")
	}
	return r, nil
}

func isResponsesField(k string) bool {
	for _, f := range responsesFields {
		if f == k {
			return true
		}
	}
	return false
}

func fieldErrorf(param, format string, args ...any) *schema.FieldError {
	return &schema.FieldError{Param: param, Msg: fmt.Sprintf(format, args...)}
}

// jsonKind names the kind of a JSON value for error messages.
func jsonKind(raw json.RawMessage) string {
	switch firstByte(raw) {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

func typeError(param, want string, raw json.RawMessage) *schema.FieldError {
	return fieldErrorf(param, "Invalid type for '%s': expected %s, but got %s instead.", param, want, jsonKind(raw))
}

func missing(param string) *schema.FieldError {
	return fieldErrorf(param, "Missing required parameter: '%s'.", param)
}

func getString(param string, raw json.RawMessage) (string, error) {
	s, ok := rawString(raw)
	if !ok {
		return "", typeError(param, "a string", raw)
	}
	return s, nil
}

// optString reads an optional string field of an object (null or absent: "").
func optString(obj map[string]json.RawMessage, key, param string) (string, error) {
	v, ok := obj[key]
	if !ok || isNull(v) {
		return "", nil
	}
	return getString(param, v)
}

// reqString reads a required string field of an object.
func reqString(obj map[string]json.RawMessage, key, param string) (string, error) {
	v, ok := obj[key]
	if !ok || isNull(v) {
		return "", missing(param)
	}
	return getString(param, v)
}

// reqNonEmpty reads a required string field that must not be empty (ids
// and names).
func reqNonEmpty(obj map[string]json.RawMessage, key, param string) (string, error) {
	s, err := reqString(obj, key, param)
	if err == nil && s == "" {
		err = fieldErrorf(param, "Invalid '%s': empty string. Expected a string with minimum length 1, but got an empty string instead.", param)
	}
	return s, err
}

func getBool(param string, raw json.RawMessage) (bool, error) {
	switch string(bytes.TrimSpace(raw)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, typeError(param, "a boolean", raw)
}

func getNumber(param string, raw json.RawMessage) (float64, error) {
	var f float64
	if c := firstByte(raw); (c != '-' && (c < '0' || c > '9')) || json.Unmarshal(raw, &f) != nil {
		return 0, typeError(param, "a number", raw)
	}
	return f, nil
}

func getRange(param string, raw json.RawMessage, lo, hi float64) (*float64, error) {
	f, err := getNumber(param, raw)
	if err != nil {
		return nil, err
	}
	if f < lo || f > hi {
		return nil, fieldErrorf(param, "Invalid '%s': expected a value between %g and %g, but got %g instead.", param, lo, hi, f)
	}
	return &f, nil
}

func getInt(param string, raw json.RawMessage) (*int, error) {
	var n int
	if c := firstByte(raw); (c != '-' && (c < '0' || c > '9')) || json.Unmarshal(raw, &n) != nil {
		return nil, typeError(param, "an integer", raw)
	}
	return &n, nil
}

func getObject(param string, raw json.RawMessage) (map[string]json.RawMessage, error) {
	var obj map[string]json.RawMessage
	if firstByte(raw) != '{' || json.Unmarshal(raw, &obj) != nil {
		return nil, typeError(param, "an object", raw)
	}
	return obj, nil
}

func getArray(param string, raw json.RawMessage) ([]json.RawMessage, error) {
	var arr []json.RawMessage
	if firstByte(raw) != '[' || json.Unmarshal(raw, &arr) != nil {
		return nil, typeError(param, "an array", raw)
	}
	if arr == nil {
		arr = []json.RawMessage{}
	}
	return arr, nil
}

func decodeInput(v json.RawMessage) (ResponsesInput, error) {
	if firstByte(v) == '"' {
		s, err := getString("input", v)
		return ResponsesInput{Text: &s}, err
	}
	if firstByte(v) != '[' {
		return ResponsesInput{}, typeError("input", "a string or an array of input items", v)
	}
	raws, err := getArray("input", v)
	if err != nil {
		return ResponsesInput{}, err
	}
	items := make([]ResponsesItem, 0, len(raws))
	for i, raw := range raws {
		it, err := decodeItem(fmt.Sprintf("input[%d]", i), raw)
		if err != nil {
			return ResponsesInput{}, err
		}
		items = append(items, it)
	}
	return ResponsesInput{Items: items}, nil
}

var messageRoles = []string{"user", "assistant", "system", "developer"}

func decodeItem(path string, raw json.RawMessage) (ResponsesItem, error) {
	obj, err := getObject(path, raw)
	if err != nil {
		return ResponsesItem{}, err
	}
	it := ResponsesItem{}
	if it.Type, err = optString(obj, "type", path+".type"); err != nil {
		return it, err
	}
	if it.ID, err = optString(obj, "id", path+".id"); err != nil {
		return it, err
	}
	if it.Status, err = optString(obj, "status", path+".status"); err != nil {
		return it, err
	}
	if it.Type == "" {
		if _, hasRole := obj["role"]; !hasRole {
			return it, missing(path + ".type")
		}
		it.Type = "message" // the short form {"role": ..., "content": ...}
	}
	switch it.Type {
	case "message":
		if it.Role, err = reqString(obj, "role", path+".role"); err != nil {
			return it, err
		}
		if !oneOf(it.Role, messageRoles) {
			return it, invalidValue(path+".role", it.Role, messageRoles)
		}
		c, ok := obj["content"]
		if !ok || isNull(c) {
			return it, missing(path + ".content")
		}
		it.Content, err = decodeContent(path+".content", c, "a string or an array of content parts")
		return it, err
	case "function_call":
		if it.CallID, err = reqNonEmpty(obj, "call_id", path+".call_id"); err != nil {
			return it, err
		}
		if it.Name, err = reqNonEmpty(obj, "name", path+".name"); err != nil {
			return it, err
		}
		it.Arguments, err = reqString(obj, "arguments", path+".arguments")
		return it, err
	case "function_call_output":
		if it.CallID, err = reqNonEmpty(obj, "call_id", path+".call_id"); err != nil {
			return it, err
		}
		o, ok := obj["output"]
		if !ok || isNull(o) {
			return it, missing(path + ".output")
		}
		it.Output, err = decodeContent(path+".output", o, "a string or an array of output content parts")
		return it, err
	}
	// Reasoning items, item references and other item types are kept by
	// type only: ToChat drops or refuses them.
	return it, nil
}

func oneOf(s string, set []string) bool {
	for _, v := range set {
		if s == v {
			return true
		}
	}
	return false
}

func invalidValue(param, got string, supported []string) *schema.FieldError {
	q := make([]string, len(supported))
	for i, s := range supported {
		q[i] = "'" + s + "'"
	}
	list := strings.Join(q, ", ")
	if len(q) > 1 {
		list = strings.Join(q[:len(q)-1], ", ") + ", and " + q[len(q)-1]
	}
	return fieldErrorf(param, "Invalid value: '%s'. Supported values are: %s.", got, list)
}

// decodeContent reads a string or an array of content parts.
func decodeContent(path string, v json.RawMessage, want string) (ResponsesContent, error) {
	switch firstByte(v) {
	case '"':
		s, err := getString(path, v)
		return ResponsesContent{Text: &s}, err
	case '[':
	default:
		return ResponsesContent{}, typeError(path, want, v)
	}
	raws, err := getArray(path, v)
	if err != nil {
		return ResponsesContent{}, err
	}
	parts := make([]ResponsesContentPart, 0, len(raws))
	for j, raw := range raws {
		p, err := decodePart(fmt.Sprintf("%s[%d]", path, j), raw)
		if err != nil {
			return ResponsesContent{}, err
		}
		parts = append(parts, p)
	}
	return ResponsesContent{Parts: parts}, nil
}

func decodePart(path string, raw json.RawMessage) (ResponsesContentPart, error) {
	obj, err := getObject(path, raw)
	if err != nil {
		return ResponsesContentPart{}, err
	}
	p := ResponsesContentPart{}
	if p.Type, err = reqString(obj, "type", path+".type"); err != nil {
		return p, err
	}
	switch p.Type {
	case "input_text", "output_text", "text":
		p.Text, err = reqString(obj, "text", path+".text")
		return p, err
	case "refusal":
		p.Text, err = reqString(obj, "refusal", path+".refusal")
		return p, err
	case "input_image":
		if p.ImageURL, err = optString(obj, "image_url", path+".image_url"); err != nil {
			return p, err
		}
		if p.FileID, err = optString(obj, "file_id", path+".file_id"); err != nil {
			return p, err
		}
		if p.Detail, err = optString(obj, "detail", path+".detail"); err != nil {
			return p, err
		}
		if p.ImageURL == "" && p.FileID == "" {
			return p, fieldErrorf(path, "Invalid '%s': an input_image requires an image_url or a file_id.", path)
		}
		return p, nil
	case "input_file":
		for _, f := range []struct {
			key string
			dst *string
		}{{"file_data", &p.FileData}, {"file_url", &p.FileURL}, {"file_id", &p.FileID}, {"filename", &p.Filename}} {
			if *f.dst, err = optString(obj, f.key, path+"."+f.key); err != nil {
				return p, err
			}
		}
		if p.FileData == "" && p.FileURL == "" && p.FileID == "" {
			return p, fieldErrorf(path, "Invalid '%s': an input_file requires file_data, file_url or file_id.", path)
		}
		return p, nil
	}
	// Other part types (input_audio, ...) are refused by ToChat.
	return p, nil
}

func decodeResponsesTools(v json.RawMessage) ([]ResponsesTool, error) {
	raws, err := getArray("tools", v)
	if err != nil {
		return nil, err
	}
	out := make([]ResponsesTool, 0, len(raws))
	for i, raw := range raws {
		path := fmt.Sprintf("tools[%d]", i)
		obj, err := getObject(path, raw)
		if err != nil {
			return nil, err
		}
		t := ResponsesTool{}
		if t.Type, err = reqString(obj, "type", path+".type"); err != nil {
			return nil, err
		}
		if t.Type == "function" {
			if t.Name, err = reqNonEmpty(obj, "name", path+".name"); err != nil {
				return nil, err
			}
			if t.Description, err = optString(obj, "description", path+".description"); err != nil {
				return nil, err
			}
			if p, ok := obj["parameters"]; ok && !isNull(p) {
				if _, err := getObject(path+".parameters", p); err != nil {
					return nil, err
				}
				t.Parameters = p
			}
			if s, ok := obj["strict"]; ok && !isNull(s) {
				b, err := getBool(path+".strict", s)
				if err != nil {
					return nil, err
				}
				t.Strict = &b
			}
		}
		out = append(out, t)
	}
	return out, nil
}

var toolChoiceModes = []string{"none", "auto", "required"}

func checkToolChoice(v json.RawMessage) error {
	switch firstByte(v) {
	case '"':
		s, _ := rawString(v)
		if !oneOf(s, toolChoiceModes) {
			return invalidValue("tool_choice", s, toolChoiceModes)
		}
		return nil
	case '{':
		obj, err := getObject("tool_choice", v)
		if err != nil {
			return err
		}
		_, err = reqString(obj, "type", "tool_choice.type")
		return err
	}
	return typeError("tool_choice", "a string or an object", v)
}

func decodeReasoningConfig(v json.RawMessage) (*ResponsesReasoningConfig, error) {
	obj, err := getObject("reasoning", v)
	if err != nil {
		return nil, err
	}
	rc := &ResponsesReasoningConfig{}
	if rc.Effort, err = optString(obj, "effort", "reasoning.effort"); err != nil {
		return nil, err
	}
	if rc.Summary, err = optString(obj, "summary", "reasoning.summary"); err != nil {
		return nil, err
	}
	return rc, nil
}

var textFormats = []string{"text", "json_object", "json_schema"}

func decodeTextConfig(v json.RawMessage) (*ResponsesTextConfig, error) {
	obj, err := getObject("text", v)
	if err != nil {
		return nil, err
	}
	tc := &ResponsesTextConfig{}
	if tc.Verbosity, err = optString(obj, "verbosity", "text.verbosity"); err != nil {
		return nil, err
	}
	fv, ok := obj["format"]
	if !ok || isNull(fv) {
		return tc, nil
	}
	fo, err := getObject("text.format", fv)
	if err != nil {
		return nil, err
	}
	f := &ResponsesTextFormat{}
	if f.Type, err = reqString(fo, "type", "text.format.type"); err != nil {
		return nil, err
	}
	if !oneOf(f.Type, textFormats) {
		return nil, invalidValue("text.format.type", f.Type, textFormats)
	}
	if f.Type == "json_schema" {
		if f.Name, err = optString(fo, "name", "text.format.name"); err != nil {
			return nil, err
		}
		if f.Description, err = optString(fo, "description", "text.format.description"); err != nil {
			return nil, err
		}
		sv, ok := fo["schema"]
		if !ok || isNull(sv) {
			return nil, missing("text.format.schema")
		}
		if _, err := getObject("text.format.schema", sv); err != nil {
			return nil, err
		}
		f.Schema = sv
		if s, ok := fo["strict"]; ok && !isNull(s) {
			b, err := getBool("text.format.strict", s)
			if err != nil {
				return nil, err
			}
			f.Strict = &b
		}
	}
	tc.Format = f
	return tc, nil
}
