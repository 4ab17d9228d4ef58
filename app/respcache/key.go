package respcache

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"slices"
	"sync"
	"unicode/utf8"

	"github.com/llmgw/gateway/app/schema"
)

// keyVersion starts every encoded key. Change it whenever the encoding below
// changes (a field added, removed or reordered, a tag changed): old entries
// then simply stop matching instead of answering a different request.
const keyVersion = "llmgw/respcache/key/v2" // v2: messages[].reasoning_details

// excludedExtras are fields outside the OpenAI schema (kept in
// ChatRequest.Extra) that never change the answer, so they are not part of the
// key:
//
//   - metadata: OpenAI's stored-completion tags / caller bookkeeping
//   - routing: the gateway's provider-selection strategy (auto|price|...)
//   - prompt_cache_key: the provider prompt-cache / sticky-session hint
//   - session_id: the gateway's sticky-session identifier
//
// Every other extra field is part of the key.
var excludedExtras = map[string]bool{
	"metadata":         true,
	"routing":          true,
	"prompt_cache_key": true,
	"session_id":       true,
}

// ExcludedExtra reports whether the extra (non-OpenAI) request field name is
// left out of the key. The known fields left out are stream, stream_options
// and user.
func ExcludedExtra(name string) bool { return excludedExtras[name] }

// Key returns the cache key of req in project projectID: the hex SHA-256 of a
// canonical encoding of the version, the project and every request field that
// can change the answer.
//
// In the key: model, messages (role, content — a string and the same text as
// one part are different —, name, tool calls, tool_call_id, refusal,
// reasoning, reasoning_details, and every part field including cache_control), max_tokens,
// max_completion_tokens, temperature, top_p, n, stop, seed, presence_penalty,
// frequency_penalty, logit_bias, logprobs, top_logprobs, tools, tool_choice,
// parallel_tool_calls, response_format, reasoning_effort, reasoning, and every
// Extra field except those ExcludedExtra names.
//
// Not in the key: stream, stream_options, user, and the excluded extras.
//
// Canonicalisation: every token of the encoding is type-tagged and either of
// fixed size or length-prefixed, so no two different requests encode to the
// same bytes. Numbers of known fields are compared by value (1 == 1.0). Raw
// JSON values (stop, logit_bias, tool_choice, response_format, reasoning, tool
// parameters, part payloads, extras) are compared as JSON: whitespace and the
// order of object keys do not matter, string escapes are decoded, a duplicate
// object key keeps its last value, a JSON null equals an absent known field;
// number literals are compared as written (1 and 1.0 differ there: a miss,
// never a wrong hit). A raw value that is not valid JSON is hashed verbatim.
func Key(projectID string, req *schema.ChatRequest) string {
	if req == nil {
		req = &schema.ChatRequest{}
	}
	e := encPool.Get().(*encoder)
	e.buf, e.mems = e.buf[:0], e.mems[:0]
	e.request(projectID, req)
	sum := sha256.Sum256(e.buf)
	if cap(e.buf) <= 1<<20 { // do not pin huge buffers in the pool
		encPool.Put(e)
	}
	var out [2 * sha256.Size]byte
	hex.Encode(out[:], sum[:])
	return string(out[:])
}

// Cacheable reports whether the cache may answer req at all. Decisions:
//
//   - logprobs (or top_logprobs > 0) requested: not cacheable. Log
//     probabilities are dropped when a streamed answer is rebuilt and cannot be
//     replayed faithfully, so a hit could silently lack them.
//   - no messages: not cacheable (the request is invalid anyway).
//   - temperature > 0, no seed, n > 1, tools: cacheable. The project opted in;
//     an n > 1 hit returns the same n (mutually different) choices again.
func Cacheable(req *schema.ChatRequest) bool {
	if req == nil || len(req.Messages) == 0 {
		return false
	}
	if req.Logprobs != nil && *req.Logprobs {
		return false
	}
	if req.TopLogprobs != nil && *req.TopLogprobs > 0 {
		return false
	}
	return true
}

// Token tags of the canonical encoding.
const (
	tagNil     = 'n' // absent field (nil pointer, nil raw value, JSON null of a known raw field)
	tagStr     = 's' // uvarint length + bytes
	tagInt     = 'i' // zig-zag varint
	tagFloat   = 'f' // 8 bytes, IEEE 754 bits
	tagTrue    = 'T'
	tagFalse   = 'F'
	tagList    = 'l' // uvarint count + items (known lists)
	tagStruct  = 'x' // a present sub-object of fixed shape follows
	tagRaw     = 'r' // uvarint length + bytes: a raw value that is not valid JSON
	tagJNull   = 'z' // JSON null inside a raw value
	tagJNum    = 'd' // uvarint length + literal
	tagJArr    = '[' // items, then ']'
	tagJArrEnd = ']'
	tagJObj    = '{' // sorted (key string, value) pairs, then '}'
	tagJObjEnd = '}'
)

type encoder struct {
	buf  []byte
	mems []member // stack of the object members being canonicalised
	tmp  []byte
}

type member struct {
	key        []byte
	start, end int // the value's encoding in buf
}

var encPool = sync.Pool{New: func() any { return &encoder{buf: make([]byte, 0, 4096)} }}

// request writes the whole key material. The order is part of the format.
func (e *encoder) request(projectID string, r *schema.ChatRequest) {
	e.str(keyVersion)
	e.str(projectID)
	e.str(r.Model)
	e.list(len(r.Messages))
	for i := range r.Messages {
		e.message(&r.Messages[i])
	}
	e.optInt(r.MaxTokens)
	e.optInt(r.MaxCompletionTokens)
	e.optFloat(r.Temperature)
	e.optFloat(r.TopP)
	e.optInt(r.N)
	e.rawField(r.Stop)
	if r.Seed == nil {
		e.nil()
	} else {
		e.int(*r.Seed)
	}
	e.optFloat(r.PresencePenalty)
	e.optFloat(r.FrequencyPenalty)
	e.rawField(r.LogitBias)
	e.optBool(r.Logprobs)
	e.optInt(r.TopLogprobs)
	e.list(len(r.Tools))
	for i := range r.Tools {
		t := &r.Tools[i]
		e.str(t.Type)
		e.str(t.Function.Name)
		e.str(t.Function.Description)
		e.rawField(t.Function.Parameters)
		e.optBool(t.Function.Strict)
	}
	e.rawField(r.ToolChoice)
	e.optBool(r.ParallelToolCalls)
	e.rawField(r.ResponseFormat)
	e.str(r.ReasoningEffort)
	e.rawField(r.Reasoning)
	e.extras(r.Extra)
}

func (e *encoder) message(m *schema.Message) {
	e.str(m.Role)
	switch c := m.Content; {
	case c.Text != nil:
		e.str(*c.Text)
	case c.Parts != nil:
		e.list(len(c.Parts))
		for i := range c.Parts {
			p := &c.Parts[i]
			e.str(p.Type)
			e.str(p.Text)
			if p.ImageURL == nil {
				e.nil()
			} else {
				e.buf = append(e.buf, tagStruct)
				e.str(p.ImageURL.URL)
				e.str(p.ImageURL.Detail)
			}
			e.rawField(p.InputAudio)
			e.rawField(p.File)
			e.rawField(p.CacheControl)
		}
	default:
		e.nil()
	}
	e.str(m.Name)
	e.list(len(m.ToolCalls))
	for i := range m.ToolCalls {
		tc := &m.ToolCalls[i]
		e.optInt(tc.Index)
		e.str(tc.ID)
		e.str(tc.Type)
		e.str(tc.Function.Name)
		e.str(tc.Function.Arguments)
	}
	e.str(m.ToolCallID)
	if m.Refusal == nil {
		e.nil()
	} else {
		e.str(*m.Refusal)
	}
	e.str(m.Reasoning)
	e.list(len(m.ReasoningDetails))
	for i := range m.ReasoningDetails {
		d := &m.ReasoningDetails[i]
		e.str(d.Type)
		e.str(d.ID)
		e.str(d.Format)
		e.int(int64(d.Index))
		e.str(d.Text)
		e.str(d.Signature)
		e.str(d.Summary)
		e.str(d.Data)
	}
}

// extras writes the kept Extra fields sorted by name.
func (e *encoder) extras(extra map[string]json.RawMessage) {
	var arr [16]string
	names := arr[:0]
	for k := range extra {
		if !excludedExtras[k] {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	e.list(len(names))
	for _, k := range names {
		e.str(k)
		e.raw(extra[k])
	}
}

func (e *encoder) nil() { e.buf = append(e.buf, tagNil) }

func (e *encoder) str(s string) {
	e.buf = append(e.buf, tagStr)
	e.buf = binary.AppendUvarint(e.buf, uint64(len(s)))
	e.buf = append(e.buf, s...)
}

func (e *encoder) bytesTok(tag byte, b []byte) {
	e.buf = append(e.buf, tag)
	e.buf = binary.AppendUvarint(e.buf, uint64(len(b)))
	e.buf = append(e.buf, b...)
}

func (e *encoder) list(n int) {
	e.buf = append(e.buf, tagList)
	e.buf = binary.AppendUvarint(e.buf, uint64(n))
}

func (e *encoder) int(v int64) {
	e.buf = append(e.buf, tagInt)
	e.buf = binary.AppendVarint(e.buf, v)
}

func (e *encoder) optInt(p *int) {
	if p == nil {
		e.nil()
		return
	}
	e.int(int64(*p))
}

func (e *encoder) optFloat(p *float64) {
	if p == nil {
		e.nil()
		return
	}
	f := *p
	if f == 0 {
		f = 0 // -0 == 0
	}
	e.buf = append(e.buf, tagFloat)
	e.buf = binary.BigEndian.AppendUint64(e.buf, math.Float64bits(f))
}

func (e *encoder) optBool(p *bool) {
	switch {
	case p == nil:
		e.nil()
	case *p:
		e.buf = append(e.buf, tagTrue)
	default:
		e.buf = append(e.buf, tagFalse)
	}
}

// rawField writes a known raw field: absent and JSON null are the same (the
// upstream request omits both).
func (e *encoder) rawField(b json.RawMessage) {
	t := bytes.TrimSpace(b)
	if len(t) == 0 || string(t) == "null" {
		e.nil()
		return
	}
	e.raw(b)
}

// raw writes a JSON value canonically, or verbatim if it is not valid JSON.
func (e *encoder) raw(b []byte) {
	start, base := len(e.buf), len(e.mems)
	p := jsonParser{b: b}
	p.ws()
	if e.jvalue(&p, 0) {
		p.ws()
		if p.i == len(p.b) {
			return
		}
	}
	e.buf, e.mems = e.buf[:start], e.mems[:base]
	e.bytesTok(tagRaw, b)
}

// maxDepth bounds the nesting of raw values (as encoding/json does).
const maxDepth = 10000

func (e *encoder) jvalue(p *jsonParser, depth int) bool {
	if depth > maxDepth || p.i >= len(p.b) {
		return false
	}
	switch c := p.b[p.i]; c {
	case '{':
		return e.jobject(p, depth)
	case '[':
		p.i++
		e.buf = append(e.buf, tagJArr)
		p.ws()
		if p.eat(']') {
			e.buf = append(e.buf, tagJArrEnd)
			return true
		}
		for {
			p.ws()
			if !e.jvalue(p, depth+1) {
				return false
			}
			p.ws()
			if p.eat(',') {
				continue
			}
			if p.eat(']') {
				e.buf = append(e.buf, tagJArrEnd)
				return true
			}
			return false
		}
	case '"':
		s, ok := p.str()
		if !ok {
			return false
		}
		e.bytesTok(tagStr, s)
		return true
	case 't':
		e.buf = append(e.buf, tagTrue)
		return p.lit("true")
	case 'f':
		e.buf = append(e.buf, tagFalse)
		return p.lit("false")
	case 'n':
		e.buf = append(e.buf, tagJNull)
		return p.lit("null")
	default:
		n, ok := p.num()
		if !ok {
			return false
		}
		e.bytesTok(tagJNum, n)
		return true
	}
}

// jobject writes an object's members sorted by key (a duplicate key keeps its
// last value, as encoding/json and JavaScript do). The members are encoded in
// source order first, then rewritten in sorted order.
func (e *encoder) jobject(p *jsonParser, depth int) bool {
	p.i++ // '{'
	base, region := len(e.mems), len(e.buf)
	p.ws()
	if !p.eat('}') {
		for {
			p.ws()
			if p.i >= len(p.b) || p.b[p.i] != '"' {
				return false
			}
			k, ok := p.str()
			if !ok {
				return false
			}
			p.ws()
			if !p.eat(':') {
				return false
			}
			p.ws()
			vs := len(e.buf)
			if !e.jvalue(p, depth+1) {
				return false
			}
			e.mems = append(e.mems, member{key: k, start: vs, end: len(e.buf)})
			p.ws()
			if p.eat(',') {
				continue
			}
			if p.eat('}') {
				break
			}
			return false
		}
	}
	mems := e.mems[base:]
	slices.SortStableFunc(mems, func(a, b member) int { return bytes.Compare(a.key, b.key) })
	e.tmp = append(e.tmp[:0], e.buf[region:]...)
	e.buf = append(e.buf[:region], tagJObj)
	for i, m := range mems {
		if i+1 < len(mems) && bytes.Equal(mems[i+1].key, m.key) {
			continue // a later duplicate wins
		}
		e.bytesTok(tagStr, m.key)
		e.buf = append(e.buf, e.tmp[m.start-region:m.end-region]...)
	}
	e.buf = append(e.buf, tagJObjEnd)
	e.mems = e.mems[:base]
	return true
}

type jsonParser struct {
	b []byte
	i int
}

func (p *jsonParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) eat(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *jsonParser) lit(s string) bool {
	if len(p.b)-p.i >= len(s) && string(p.b[p.i:p.i+len(s)]) == s {
		p.i += len(s)
		return true
	}
	return false
}

// str reads a string at p.i (a '"') and returns its decoded bytes: the source
// bytes themselves when there is nothing to decode, else encoding/json's
// decoding (escapes, invalid UTF-8 replaced by U+FFFD).
func (p *jsonParser) str() ([]byte, bool) {
	start := p.i
	plain := true
	for i := start + 1; i < len(p.b); i++ {
		switch c := p.b[i]; {
		case c == '"':
			p.i = i + 1
			s := p.b[start+1 : i]
			if plain && utf8.Valid(s) {
				return s, true
			}
			var out string
			if json.Unmarshal(p.b[start:i+1], &out) != nil {
				return nil, false
			}
			return []byte(out), true
		case c == '\\':
			plain = false
			i++
		case c < 0x20:
			return nil, false
		}
	}
	return nil, false
}

// num reads a number literal (validated against the JSON grammar).
func (p *jsonParser) num() ([]byte, bool) {
	b, i := p.b, p.i
	start := i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return nil, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return nil, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return nil, false
		}
	}
	p.i = i
	return b[start:i], true
}
