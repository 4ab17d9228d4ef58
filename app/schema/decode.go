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

// chatFields maps the known top-level fields to their place in ChatRequest.
// A field sent twice is decoded once, from its last occurrence, as
// encoding/json does with maps.
var chatFields = [...]struct {
	name   string
	target func(r *ChatRequest) any
}{
	{"model", func(r *ChatRequest) any { return &r.Model }},
	{"stream", func(r *ChatRequest) any { return &r.Stream }},
	{"stream_options", func(r *ChatRequest) any { return &r.StreamOptions }},
	{"max_tokens", func(r *ChatRequest) any { return &r.MaxTokens }},
	{"max_completion_tokens", func(r *ChatRequest) any { return &r.MaxCompletionTokens }},
	{"temperature", func(r *ChatRequest) any { return &r.Temperature }},
	{"top_p", func(r *ChatRequest) any { return &r.TopP }},
	{"n", func(r *ChatRequest) any { return &r.N }},
	{"stop", func(r *ChatRequest) any { return &r.Stop }},
	{"seed", func(r *ChatRequest) any { return &r.Seed }},
	{"presence_penalty", func(r *ChatRequest) any { return &r.PresencePenalty }},
	{"frequency_penalty", func(r *ChatRequest) any { return &r.FrequencyPenalty }},
	{"logit_bias", func(r *ChatRequest) any { return &r.LogitBias }},
	{"logprobs", func(r *ChatRequest) any { return &r.Logprobs }},
	{"top_logprobs", func(r *ChatRequest) any { return &r.TopLogprobs }},
	{"tools", func(r *ChatRequest) any { return &r.Tools }},
	{"tool_choice", func(r *ChatRequest) any { return &r.ToolChoice }},
	{"parallel_tool_calls", func(r *ChatRequest) any { return &r.ParallelToolCalls }},
	{"response_format", func(r *ChatRequest) any { return &r.ResponseFormat }},
	{"user", func(r *ChatRequest) any { return &r.User }},
	{"reasoning_effort", func(r *ChatRequest) any { return &r.ReasoningEffort }},
	{"reasoning", func(r *ChatRequest) any { return &r.Reasoning }},
}

// chatFieldIndex finds a field in chatFields.
var chatFieldIndex = func() map[string]int {
	m := make(map[string]int, len(chatFields))
	for i, f := range chatFields {
		m[f.name] = i
	}
	return m
}()

// UnmarshalJSON validates the body in one pass, then walks it without
// re-validating: messages are decoded by hand (see message.go), the other
// known fields with encoding/json from their own (small) bytes. Unknown
// fields are kept in Extra for pass-through. The request keeps its own copy
// of b, so b may be reused afterwards.
func (r *ChatRequest) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return &SyntaxError{Err: fmt.Errorf("empty body")}
	}
	if err := validJSON(b); err != nil {
		return err
	}
	if b[0] != '{' {
		return &SyntaxError{Err: fmt.Errorf("the body must be a JSON object")}
	}
	b = bytes.Clone(b) // raw message sources point into it
	*r = ChatRequest{}
	var known [len(chatFields)][]byte
	var messages []byte
	err := eachMember(b, func(m member) error {
		k := keyBytes(m.key)
		if string(k) == "messages" {
			messages = m.val
		} else if i, ok := chatFieldIndex[string(k)]; ok {
			known[i] = m.val
		} else {
			if r.Extra == nil {
				r.Extra = make(map[string]json.RawMessage)
			}
			r.Extra[string(k)] = m.val
		}
		return nil
	})
	if err != nil {
		return err
	}
	if messages != nil {
		if err := r.decodeMessages(messages); err != nil {
			return err
		}
	}
	for i, v := range known {
		if v != nil {
			if err := decodeField(chatFields[i].name, v, chatFields[i].target(r)); err != nil {
				return err
			}
		}
	}
	return nil
}

// decodeField decodes one known field; null leaves raw fields nil.
func decodeField(k string, v []byte, target any) error {
	if raw, ok := target.(*json.RawMessage); ok {
		*raw = nullToNil(v)
		return nil
	}
	if err := json.Unmarshal(v, target); err != nil {
		return &FieldError{Param: k, Msg: fmt.Sprintf("Invalid value for '%s': %s", k, describe(err))}
	}
	return nil
}

// MarshalJSON writes the known fields followed by Extra, so an OpenAI-compatible
// upstream sees every field the client sent.
//
// Messages are written apart into the one output buffer: those the gateway
// did not change as the client's bytes (see msgSource), the others encoded.
// Through encoding/json every content string would be validated, escaped and
// copied again, several full passes over 100 KB prompts.
func (r ChatRequest) MarshalJSON() ([]byte, error) {
	type plain ChatRequest // drops the methods, avoiding recursion
	msgs := r.Messages
	r.Messages = nil
	head, err := json.Marshal(plain(r))
	if err != nil {
		return nil, err
	}
	r.Messages = msgs
	const field = `"messages":null`
	i := bytes.Index(head, []byte(field)) // the first: quotes inside strings are escaped
	out := make([]byte, 0, len(head)+r.messagesSize()+extraSize(r.Extra))
	out = append(out, head[:i+len(field)-len("null")]...)
	if out, err = r.appendMessages(out); err != nil {
		return nil, err
	}
	out = append(out, head[i+len(field):len(head)-1]...) // without the closing brace
	return appendExtra(out, r.Extra), nil
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

// appendExtra appends extra fields (sorted, for deterministic output) and
// the closing brace to obj, an encoded object without its closing brace.
func appendExtra(obj []byte, extra map[string]json.RawMessage) []byte {
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	empty := len(bytes.TrimSpace(obj[1:])) == 0
	for _, k := range keys {
		if !empty {
			obj = append(obj, ',')
		}
		empty = false
		kb, _ := json.Marshal(k)
		obj = append(obj, kb...)
		obj = append(obj, ':')
		obj = append(obj, extra[k]...)
	}
	return append(obj, '}')
}

func extraSize(extra map[string]json.RawMessage) int {
	n := 1
	for k, v := range extra {
		n += len(k) + len(v) + 8
	}
	return n
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
