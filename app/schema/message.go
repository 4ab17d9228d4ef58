package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// msgSource is a message as the client sent it: raw is its JSON, snap what
// it decoded to (slices copied). A message still equal to snap is encoded as
// raw, so a 100 KB prompt reaches an OpenAI-compatible upstream as the
// client's bytes instead of being escaped again. raw is nil when re-encoding
// is required: the message is not plain (see plain).
type msgSource struct {
	raw  []byte
	snap Message
}

// decodeMessages decodes the messages array (b is valid JSON) by hand: the
// array and each message are walked without re-validation, and content
// strings are unquoted once.
func (r *ChatRequest) decodeMessages(b []byte) error {
	switch b[0] {
	case 'n':
		return nil
	case '[':
	default:
		return &FieldError{Param: "messages", Msg: "Invalid value for 'messages': expected an array of messages."}
	}
	n := 0
	_ = eachElement(b, func(int, []byte) error { n++; return nil })
	r.Messages = make([]Message, n)
	r.sources = make([]msgSource, n)
	return eachElement(b, func(i int, v []byte) error {
		switch v[0] {
		case 'n': // null decodes to an empty message, refused by validation
			return nil
		case '{':
		default:
			return &FieldError{Param: "messages", Msg: fmt.Sprintf("Invalid value for 'messages[%d]': expected an object.", i)}
		}
		if err := decodeMessage(&r.Messages[i], i, v); err != nil {
			return err
		}
		if plain(v, messageShape) {
			r.sources[i] = msgSource{raw: v, snap: snapshot(r.Messages[i])}
		}
		return nil
	})
}

// decodeMessage decodes one message object. Unknown keys are ignored, as
// encoding/json does.
func decodeMessage(m *Message, i int, b []byte) error {
	return eachMember(b, func(mb member) error {
		k := keyBytes(mb.key)
		target := messageField(m, k)
		if target == nil {
			return nil
		}
		if err := decodeMessageField(target, mb.val); err != nil {
			return &FieldError{Param: "messages", Msg: fmt.Sprintf("Invalid value for 'messages[%d].%s': %s", i, k, err.Error())}
		}
		return nil
	})
}

// shape lists the keys the gateway decodes in an object (keys), or the
// shape of an array's elements (elem). A nil *shape accepts any value. An
// open shape also lets other keys through (an upstream's extensions, sent on
// to the client as they are); its known keys must still appear once.
type shape struct {
	keys map[string]*shape
	elem *shape
	open bool
}

var (
	partShape = &shape{keys: map[string]*shape{"type": nil, "text": nil, "input_audio": nil, "file": nil, "cache_control": nil,
		"image_url": {keys: map[string]*shape{"url": nil, "detail": nil}}}}
	messageShape = &shape{keys: map[string]*shape{
		"role": nil, "name": nil, "tool_call_id": nil, "refusal": nil, "reasoning": nil,
		"content": {elem: partShape},
		"tool_calls": {elem: &shape{keys: map[string]*shape{"index": nil, "id": nil, "type": nil,
			"function": {keys: map[string]*shape{"name": nil, "arguments": nil}}}}},
		"reasoning_details": {elem: &shape{keys: map[string]*shape{"type": nil, "id": nil, "format": nil, "index": nil,
			"text": nil, "signature": nil, "summary": nil, "data": nil}}},
	}}
)

// plain reports whether v (valid JSON) holds only keys its shape knows,
// none twice, all the way down: only then does its decoded form say all it
// says, and may it be forwarded as sent. An unknown key would reach the
// upstream unchecked (and strict ones refuse them); a repeated one may be
// read differently by the upstream's parser than by ours (first or last
// wins), which would let a guardrail check one text and the upstream see
// another.
func plain(v []byte, s *shape) bool {
	if s == nil || len(v) == 0 {
		return true
	}
	switch v[0] {
	case '{':
		if s.keys == nil {
			return true
		}
		var seen [16][]byte // known keys are few: a repeat is found before this fills
		n, ok := 0, true
		_ = eachMember(v, func(m member) error {
			k := keyBytes(m.key)
			sub, known := s.keys[string(k)]
			if !known && s.open {
				return nil
			}
			if !known || n == len(seen) {
				ok = false
				return errStop
			}
			for _, prev := range seen[:n] {
				if string(prev) == string(k) {
					ok = false
					return errStop
				}
			}
			seen[n] = k
			n++
			if !plain(m.val, sub) {
				ok = false
				return errStop
			}
			return nil
		})
		return ok
	case '[':
		if s.elem == nil {
			return true
		}
		ok := true
		_ = eachElement(v, func(_ int, e []byte) error {
			if !plain(e, s.elem) {
				ok = false
				return errStop
			}
			return nil
		})
		return ok
	}
	return true
}

// errStop ends a walk early.
var errStop = errors.New("stop")

// messageField returns the destination of a known message key, or nil.
func messageField(m *Message, k []byte) any {
	switch string(k) {
	case "role":
		return &m.Role
	case "content":
		return &m.Content
	case "name":
		return &m.Name
	case "tool_calls":
		return &m.ToolCalls
	case "tool_call_id":
		return &m.ToolCallID
	case "refusal":
		return &m.Refusal
	case "reasoning":
		return &m.Reasoning
	case "reasoning_details":
		return &m.ReasoningDetails
	}
	return nil
}

func decodeMessageField(target any, v []byte) error {
	switch t := target.(type) {
	case *string:
		return decodeString(t, v)
	case *Content:
		return t.decode(v)
	}
	if err := json.Unmarshal(v, target); err != nil {
		return fmt.Errorf("%s", describe(err))
	}
	return nil
}

// decodeString decodes a JSON string of the request's own body (see
// unquoteIn); null leaves *s unchanged, as encoding/json does.
func decodeString(s *string, v []byte) error {
	switch v[0] {
	case '"':
		u, err := unquoteIn(v, true)
		if err != nil {
			return err
		}
		*s = u
		return nil
	case 'n':
		return nil
	}
	return fmt.Errorf("expected a string")
}

// decode decodes a content value (valid JSON, in the request's own body): a string, an array of parts
// or null.
func (c *Content) decode(v []byte) error {
	*c = Content{}
	switch v[0] {
	case 'n':
		return nil
	case '"':
		s, err := unquoteIn(v, true)
		if err != nil {
			return err
		}
		c.Text = &s
		return nil
	case '[':
		n := 0
		_ = eachElement(v, func(int, []byte) error { n++; return nil })
		c.Parts = make([]ContentPart, n)
		return eachElement(v, func(i int, pv []byte) error {
			switch pv[0] {
			case 'n':
				return nil
			case '{':
				return c.Parts[i].decode(pv)
			}
			return fmt.Errorf("content[%d] must be an object", i)
		})
	}
	return fmt.Errorf("content must be a string or an array of content parts")
}

// decode decodes one content part (valid JSON object). Base64 images make
// parts as large as prompts, so the URL is unquoted by hand too.
func (p *ContentPart) decode(b []byte) error {
	return eachMember(b, func(mb member) error {
		var err error
		switch k := keyBytes(mb.key); string(k) {
		case "type":
			err = decodeString(&p.Type, mb.val)
		case "text":
			err = decodeString(&p.Text, mb.val)
		case "image_url":
			err = p.decodeImageURL(mb.val)
		case "input_audio":
			p.InputAudio = nullToNil(mb.val)
		case "file":
			p.File = nullToNil(mb.val)
		case "cache_control":
			p.CacheControl = nullToNil(mb.val)
		}
		return err
	})
}

func (p *ContentPart) decodeImageURL(v []byte) error {
	switch v[0] {
	case 'n':
		p.ImageURL = nil
		return nil
	case '{':
	default:
		return fmt.Errorf("image_url must be an object")
	}
	u := &ImageURL{}
	p.ImageURL = u
	return eachMember(v, func(mb member) error {
		switch string(keyBytes(mb.key)) {
		case "url":
			return decodeString(&u.URL, mb.val)
		case "detail":
			return decodeString(&u.Detail, mb.val)
		}
		return nil
	})
}

// snapshot copies a message deeply enough that a later change to m, even in
// place (a redacted part text), makes sameMessage false.
func snapshot(m Message) Message {
	m.Content.Text = clonePtr(m.Content.Text)
	m.Content.Parts = cloneSlice(m.Content.Parts)
	for i := range m.Content.Parts {
		m.Content.Parts[i].ImageURL = clonePtr(m.Content.Parts[i].ImageURL)
	}
	m.ToolCalls = cloneCalls(m.ToolCalls)
	m.ReasoningDetails = cloneSlice(m.ReasoningDetails)
	m.Refusal = clonePtr(m.Refusal)
	return m
}

// cloneCalls copies tool calls, their index pointers included.
func cloneCalls(calls []ToolCall) []ToolCall {
	calls = cloneSlice(calls)
	for i := range calls {
		calls[i].Index = clonePtr(calls[i].Index)
	}
	return calls
}

func cloneSlice[T any](s []T) []T {
	if s == nil {
		return nil
	}
	return append(make([]T, 0, len(s)), s...)
}

// sameMessage reports whether a and b encode alike. Strings that share their
// bytes compare in constant time, so checking an untouched 100 KB prompt
// costs nothing.
func sameMessage(a, b *Message) bool {
	return a.Role == b.Role && a.Name == b.Name && a.ToolCallID == b.ToolCallID && a.Reasoning == b.Reasoning &&
		samePtr(a.Refusal, b.Refusal) && sameContent(&a.Content, &b.Content) &&
		sameCalls(a.ToolCalls, b.ToolCalls) && sameDetails(a.ReasoningDetails, b.ReasoningDetails)
}

func sameCalls(a, b []ToolCall) bool {
	if len(a) != len(b) || (a == nil) != (b == nil) {
		return false
	}
	for i := range a {
		x, y := &a[i], &b[i]
		if !samePtr(x.Index, y.Index) || x.ID != y.ID || x.Type != y.Type || x.Function != y.Function {
			return false
		}
	}
	return true
}

func sameDetails(a, b []ReasoningDetail) bool {
	if len(a) != len(b) || (a == nil) != (b == nil) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func samePtr[T comparable](a, b *T) bool {
	return a == nil && b == nil || a != nil && b != nil && *a == *b
}

func sameContent(a, b *Content) bool {
	if !samePtr(a.Text, b.Text) || len(a.Parts) != len(b.Parts) || (a.Parts == nil) != (b.Parts == nil) {
		return false
	}
	for i := range a.Parts {
		x, y := &a.Parts[i], &b.Parts[i]
		if x.Type != y.Type || x.Text != y.Text || !samePtr(x.ImageURL, y.ImageURL) ||
			!bytes.Equal(x.InputAudio, y.InputAudio) || !bytes.Equal(x.File, y.File) || !bytes.Equal(x.CacheControl, y.CacheControl) {
			return false
		}
	}
	return true
}

// appendMessages appends the messages array to out: each message as the
// client sent it when unchanged, else encoded.
func (r *ChatRequest) appendMessages(out []byte) ([]byte, error) {
	if r.Messages == nil {
		return append(out, "null"...), nil
	}
	out = append(out, '[')
	for i := range r.Messages {
		if i > 0 {
			out = append(out, ',')
		}
		m := &r.Messages[i]
		if i < len(r.sources) && r.sources[i].raw != nil && sameMessage(m, &r.sources[i].snap) {
			out = append(out, r.sources[i].raw...)
			continue
		}
		mb, err := marshalMessage(*m)
		if err != nil {
			return nil, err
		}
		out = append(out, mb...)
	}
	return append(out, ']'), nil
}

// messagesSize estimates the encoded size of the messages, to allocate the
// request body once.
func (r *ChatRequest) messagesSize() int {
	n := 2
	for i := range r.Messages {
		if i < len(r.sources) && r.sources[i].raw != nil {
			n += len(r.sources[i].raw) + 1
			continue
		}
		n += 64
		if t := r.Messages[i].Content.Text; t != nil {
			n += len(*t) + len(*t)/8
		}
	}
	return n
}

// WithoutSources returns the request with its raw message sources dropped, so
// it encodes field by field (tests compare encodings through it).
func (r ChatRequest) WithoutSources() ChatRequest {
	r.sources = nil
	return r
}
