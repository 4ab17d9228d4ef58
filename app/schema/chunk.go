package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// chunkSource is a stream chunk as the upstream sent it, kept so that an
// OpenAI-format client can be sent the upstream's bytes with only the model
// rewritten, instead of a re-encoding of the decoded struct (see
// ChatChunk.AppendRaw).
type chunkSource struct {
	raw        []byte // the event's data, owned by the chunk
	modelStart int    // the model value is raw[modelStart:modelEnd]
	modelEnd   int
	usage      bool // raw has a non-null usage (which the gateway withholds)
	clean      bool // plain: no decoded key twice
	snap       ChatChunk
}

// DecodeChunk decodes the data of one chat completion stream event by hand:
// validated once, walked without re-validation, strings unquoted once (the
// stream's hot path: encoding/json was a quarter of a stream's CPU). errObj
// is the value of an "error" member when the event carries one instead of a
// chunk (null counts as absent). The data is copied: the chunk does not
// alias the caller's buffer.
func DecodeChunk(data []byte) (ch *ChatChunk, errObj []byte, err error) {
	data = bytes.TrimSpace(data)
	if err := validJSON(data); err != nil {
		return nil, nil, err
	}
	if len(data) == 0 || data[0] != '{' {
		return nil, nil, &SyntaxError{Err: fmt.Errorf("a chunk must be a JSON object")}
	}
	raw := bytes.Clone(data)
	ch = &ChatChunk{}
	src := &chunkSource{raw: raw, modelStart: -1, clean: plain(raw, chunkShape)}
	err = eachMember(raw, func(m member) error {
		k := keyBytes(m.key)
		switch string(k) {
		case "id":
			return decodeString(&ch.ID, m.val)
		case "object":
			return decodeString(&ch.Object, m.val)
		case "created":
			return json.Unmarshal(m.val, &ch.Created)
		case "model":
			src.modelStart, src.modelEnd = m.at, m.at+len(m.val)
			return decodeString(&ch.Model, m.val)
		case "choices":
			return ch.decodeChoices(m.val)
		case "usage":
			ch.Usage = nil
			if m.val[0] == 'n' {
				return nil
			}
			src.usage = true
			return json.Unmarshal(m.val, &ch.Usage)
		case "system_fingerprint":
			return decodeString(&ch.SystemFingerprint, m.val)
		case "metadata":
			ch.Metadata = m.val
		case "error":
			errObj = nullToNil(m.val)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	src.snap = snapshotChunk(ch)
	ch.src = src
	return ch, errObj, nil
}

// chunkShape: the keys the gateway decodes in a chunk must each appear once
// for the upstream's bytes to be forwarded; other keys pass through as sent.
var chunkShape = &shape{open: true, keys: map[string]*shape{
	"id": nil, "object": nil, "created": nil, "model": nil, "usage": nil, "system_fingerprint": nil, "metadata": nil, "error": nil,
	"choices": {elem: &shape{open: true, keys: map[string]*shape{"index": nil, "finish_reason": nil, "logprobs": nil,
		"delta": {open: true, keys: map[string]*shape{"role": nil, "content": nil, "reasoning": nil, "refusal": nil,
			"tool_calls": {elem: messageShape.keys["tool_calls"].elem}, "reasoning_details": {elem: messageShape.keys["reasoning_details"].elem}}}}}},
}}

func (ch *ChatChunk) decodeChoices(v []byte) error {
	switch v[0] {
	case 'n':
		ch.Choices = nil
		return nil
	case '[':
	default:
		return fmt.Errorf("choices must be an array")
	}
	n := 0
	_ = eachElement(v, func(int, []byte) error { n++; return nil })
	ch.Choices = make([]ChunkChoice, n)
	return eachElement(v, func(i int, cv []byte) error {
		switch cv[0] {
		case 'n':
			return nil
		case '{':
			return ch.Choices[i].decode(cv)
		}
		return fmt.Errorf("choices[%d] must be an object", i)
	})
}

func (c *ChunkChoice) decode(b []byte) error {
	return eachMember(b, func(m member) error {
		switch string(keyBytes(m.key)) {
		case "index":
			return json.Unmarshal(m.val, &c.Index)
		case "delta":
			return c.Delta.decode(m.val)
		case "finish_reason":
			return decodeStringPtr(&c.FinishReason, m.val)
		case "logprobs":
			c.Logprobs = m.val // as encoding/json keeps a RawMessage, null included
		}
		return nil
	})
}

func (d *Delta) decode(b []byte) error {
	switch b[0] {
	case 'n':
		return nil
	case '{':
	default:
		return fmt.Errorf("delta must be an object")
	}
	return eachMember(b, func(m member) error {
		switch string(keyBytes(m.key)) {
		case "role":
			return decodeString(&d.Role, m.val)
		case "content":
			return decodeStringPtr(&d.Content, m.val)
		case "reasoning":
			return decodeStringPtr(&d.Reasoning, m.val)
		case "refusal":
			return decodeStringPtr(&d.Refusal, m.val)
		case "tool_calls":
			return json.Unmarshal(m.val, &d.ToolCalls)
		case "reasoning_details":
			return json.Unmarshal(m.val, &d.ReasoningDetails)
		}
		return nil
	})
}

// decodeStringPtr decodes a JSON string or null (nil) in bytes the decoded
// value owns.
func decodeStringPtr(p **string, v []byte) error {
	if v[0] == 'n' {
		*p = nil
		return nil
	}
	var s string
	if err := decodeString(&s, v); err != nil {
		return err
	}
	*p = &s
	return nil
}

// snapshotChunk copies a chunk deeply enough that any later change to it is
// seen by sameChunk.
func snapshotChunk(ch *ChatChunk) ChatChunk {
	s := *ch
	s.src = nil
	s.Choices = cloneSlice(ch.Choices)
	for i := range s.Choices {
		d := &s.Choices[i].Delta
		d.Content, d.Reasoning, d.Refusal = clonePtr(d.Content), clonePtr(d.Reasoning), clonePtr(d.Refusal)
		s.Choices[i].FinishReason = clonePtr(s.Choices[i].FinishReason)
		d.ToolCalls = cloneCalls(d.ToolCalls)
		d.ReasoningDetails = cloneSlice(d.ReasoningDetails)
	}
	return s
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// sameChunk reports whether a still encodes as b did, the model aside.
func sameChunk(a, b *ChatChunk) bool {
	if a.ID != b.ID || a.Object != b.Object || a.Created != b.Created || a.Usage != nil ||
		a.SystemFingerprint != b.SystemFingerprint || !bytes.Equal(a.Metadata, b.Metadata) ||
		len(a.Choices) != len(b.Choices) || (a.Choices == nil) != (b.Choices == nil) {
		return false
	}
	for i := range a.Choices {
		x, y := &a.Choices[i], &b.Choices[i]
		if x.Index != y.Index || !samePtr(x.FinishReason, y.FinishReason) || !bytes.Equal(x.Logprobs, y.Logprobs) ||
			!sameDelta(&x.Delta, &y.Delta) {
			return false
		}
	}
	return true
}

func sameDelta(a, b *Delta) bool {
	return a.Role == b.Role && samePtr(a.Content, b.Content) && samePtr(a.Reasoning, b.Reasoning) &&
		samePtr(a.Refusal, b.Refusal) && sameCalls(a.ToolCalls, b.ToolCalls) &&
		sameDetails(a.ReasoningDetails, b.ReasoningDetails)
}

// AppendRaw appends the chunk as the upstream sent it, with its model
// replaced by modelJSON (an encoded JSON string), and reports true; or
// appends nothing and reports false when the chunk must be encoded instead:
// it was not decoded by DecodeChunk, it carried usage (which the gateway
// withholds until its own priced usage chunk), had a key twice or no model,
// or was changed since it was decoded.
func (ch *ChatChunk) AppendRaw(dst, modelJSON []byte) ([]byte, bool) {
	s := ch.src
	if s == nil || s.usage || !s.clean || s.modelStart < 0 || !sameChunk(ch, &s.snap) {
		return dst, false
	}
	dst = append(dst, s.raw[:s.modelStart]...)
	dst = append(dst, modelJSON...)
	return append(dst, s.raw[s.modelEnd:]...), true
}
