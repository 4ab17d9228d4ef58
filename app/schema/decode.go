package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
)

// FieldError is a request field that has the wrong type or value. Param names the
// field as the OpenAI error envelope's "param" expects it.
type FieldError struct {
	Param string
	Msg   string
}

func (e *FieldError) Error() string { return e.Msg }

// SyntaxError marks a body that is not valid JSON (or not a JSON object).
type SyntaxError struct{ Err error }

func (e *SyntaxError) Error() string { return "invalid JSON in request body: " + e.Err.Error() }
func (e *SyntaxError) Unwrap() error { return e.Err }

// UnmarshalJSON decodes the top level once into raw values, then each known field
// from its own bytes. Unknown fields are kept in Extra for pass-through.
func (r *ChatRequest) UnmarshalJSON(b []byte) error {
	top, err := decodeObject(b)
	if err != nil {
		return err
	}
	*r = ChatRequest{}
	for k, v := range top {
		var target any
		switch k {
		case "model":
			target = &r.Model
		case "messages":
			target = &r.Messages
		case "stream":
			target = &r.Stream
		case "stream_options":
			target = &r.StreamOptions
		case "max_tokens":
			target = &r.MaxTokens
		case "max_completion_tokens":
			target = &r.MaxCompletionTokens
		case "temperature":
			target = &r.Temperature
		case "top_p":
			target = &r.TopP
		case "n":
			target = &r.N
		case "stop":
			r.Stop = nullToNil(v)
			continue
		case "seed":
			target = &r.Seed
		case "presence_penalty":
			target = &r.PresencePenalty
		case "frequency_penalty":
			target = &r.FrequencyPenalty
		case "logit_bias":
			r.LogitBias = nullToNil(v)
			continue
		case "logprobs":
			target = &r.Logprobs
		case "top_logprobs":
			target = &r.TopLogprobs
		case "tools":
			target = &r.Tools
		case "tool_choice":
			r.ToolChoice = nullToNil(v)
			continue
		case "parallel_tool_calls":
			target = &r.ParallelToolCalls
		case "response_format":
			r.ResponseFormat = nullToNil(v)
			continue
		case "user":
			target = &r.User
		case "reasoning_effort":
			target = &r.ReasoningEffort
		case "reasoning":
			r.Reasoning = nullToNil(v)
			continue
		default:
			if r.Extra == nil {
				r.Extra = make(map[string]json.RawMessage)
			}
			r.Extra[k] = v
			continue
		}
		if err := json.Unmarshal(v, target); err != nil {
			return &FieldError{Param: k, Msg: fmt.Sprintf("Invalid value for '%s': %s", k, describe(err))}
		}
	}
	return nil
}

// MarshalJSON writes the known fields followed by Extra, so an OpenAI-compatible
// upstream sees every field the client sent.
//
// Messages are encoded apart and spliced in: through encoding/json, every
// content string returned by Content.MarshalJSON would be validated and
// compacted once more, a second full pass over 100 KB prompts.
func (r ChatRequest) MarshalJSON() ([]byte, error) {
	type plain ChatRequest // drops the methods, avoiding recursion
	msgs := r.Messages
	r.Messages = nil
	b, err := json.Marshal(plain(r))
	if err != nil {
		return nil, err
	}
	mb, err := marshalMessages(msgs)
	if err != nil {
		return nil, err
	}
	b = splice(b, `"messages":null`, `"messages":`, mb)
	if len(r.Extra) == 0 {
		return b, nil
	}
	return appendExtra(b, r.Extra)
}

func marshalMessages(msgs []Message) ([]byte, error) {
	if msgs == nil {
		return []byte("null"), nil
	}
	out := []byte{'['}
	for i := range msgs {
		if i > 0 {
			out = append(out, ',')
		}
		mb, err := marshalMessage(msgs[i])
		if err != nil {
			return nil, err
		}
		out = append(out, mb...)
	}
	return append(out, ']'), nil
}

// marshalMessage encodes a message with its content spliced in raw.
func marshalMessage(m Message) ([]byte, error) {
	type plain Message
	c := m.Content
	m.Content = Content{}
	b, err := json.Marshal(plain(m))
	if err != nil {
		return nil, err
	}
	var cb []byte
	switch {
	case c.Text != nil:
		cb, err = json.Marshal(*c.Text)
	case c.Parts != nil:
		cb, err = json.Marshal(c.Parts)
	default:
		return b, nil
	}
	if err != nil {
		return nil, err
	}
	return splice(b, `"content":null`, `"content":`, cb), nil
}

// splice replaces the first occurrence of field (a `"name":null` pair written
// by encoding/json) with prefix+value. Inside JSON strings every quote is
// escaped, so the first unescaped occurrence is the field itself.
func splice(b []byte, field, prefix string, value []byte) []byte {
	i := bytes.Index(b, []byte(field))
	if i < 0 {
		return b
	}
	out := make([]byte, 0, len(b)+len(value))
	out = append(out, b[:i]...)
	out = append(out, prefix...)
	out = append(out, value...)
	return append(out, b[i+len(field):]...)
}

// appendExtra splices extra fields (sorted, for deterministic output) into a
// marshalled object. Fields already present win.
func appendExtra(obj []byte, extra map[string]json.RawMessage) ([]byte, error) {
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var buf bytes.Buffer
	buf.Grow(len(obj) + 64*len(keys))
	buf.Write(obj[:len(obj)-1])
	empty := len(bytes.TrimSpace(obj[1:len(obj)-1])) == 0
	for _, k := range keys {
		if !empty {
			buf.WriteByte(',')
		}
		empty = false
		kb, _ := json.Marshal(k)
		buf.Write(kb)
		buf.WriteByte(':')
		buf.Write(extra[k])
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// decodeObject splits a JSON object into its raw top-level values.
func decodeObject(b []byte) (map[string]json.RawMessage, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, &SyntaxError{Err: fmt.Errorf("empty body")}
	}
	if b[0] != '{' {
		return nil, &SyntaxError{Err: fmt.Errorf("the body must be a JSON object")}
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return nil, &SyntaxError{Err: err}
	}
	return top, nil
}

func nullToNil(v json.RawMessage) json.RawMessage {
	if bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
		return nil
	}
	return v
}

// describe turns a decoding error into a short human phrase.
func describe(err error) string {
	switch e := err.(type) {
	case *json.UnmarshalTypeError:
		if e.Field != "" {
			return fmt.Sprintf("field '%s' must be of type %s, got %s", e.Field, e.Type.String(), e.Value)
		}
		return fmt.Sprintf("expected %s, got %s", e.Type.String(), e.Value)
	default:
		return err.Error()
	}
}

// DecodeChatRequest parses a chat completion body.
func DecodeChatRequest(b []byte) (*ChatRequest, error) {
	r := &ChatRequest{}
	if err := r.UnmarshalJSON(b); err != nil {
		return nil, err
	}
	return r, nil
}
