package respcache

import (
	"cmp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/llmgw/gateway/app/schema"
)

// Accumulator rebuilds the complete response of a stream from its chunks, so a
// streamed miss can be stored. Per choice (by index) it concatenates content,
// reasoning and refusal, merges tool calls by their index (arguments
// concatenated; id, type and name from the first delta that has them; a delta
// without an index continues the last call unless it carries a new id), and
// keeps the last finish_reason. reasoning_details pieces are merged into the
// items of the complete message (see addDetail). The first id, model, created and
// system_fingerprint seen are kept, and the last usage. Log probabilities and
// chunk metadata are dropped. The zero value is ready to use; it is not safe
// for concurrent use.
type Accumulator struct {
	id, model, fingerprint string
	created                int64
	usage                  *schema.Usage
	choices                []*choiceAcc
}

type choiceAcc struct {
	index                       int
	role                        string
	content, reasoning, refusal strings.Builder
	calls                       []*callAcc
	details                     []schema.ReasoningDetail
	finish                      string
}

type callAcc struct {
	key  int // the delta index, or a synthetic one for index-less deltas
	call schema.ToolCall
}

// Add folds one chunk in. A nil chunk is ignored.
func (a *Accumulator) Add(ch *schema.ChatChunk) {
	if ch == nil {
		return
	}
	if a.id == "" {
		a.id = ch.ID
	}
	if a.model == "" {
		a.model = ch.Model
	}
	if a.created == 0 {
		a.created = ch.Created
	}
	if a.fingerprint == "" {
		a.fingerprint = ch.SystemFingerprint
	}
	if ch.Usage != nil {
		u := *ch.Usage
		a.usage = &u
	}
	for i := range ch.Choices {
		cc := &ch.Choices[i]
		c := a.choice(cc.Index)
		d := &cc.Delta
		if c.role == "" {
			c.role = d.Role
		}
		if d.Content != nil {
			c.content.WriteString(*d.Content)
		}
		if d.Reasoning != nil {
			c.reasoning.WriteString(*d.Reasoning)
		}
		if d.Refusal != nil {
			c.refusal.WriteString(*d.Refusal)
		}
		for j := range d.ToolCalls {
			c.addCall(&d.ToolCalls[j])
		}
		for _, rd := range d.ReasoningDetails {
			c.addDetail(rd)
		}
		if cc.FinishReason != nil && *cc.FinishReason != "" {
			c.finish = *cc.FinishReason
		}
	}
}

func (a *Accumulator) choice(index int) *choiceAcc {
	for _, c := range a.choices {
		if c.index == index {
			return c
		}
	}
	c := &choiceAcc{index: index}
	a.choices = append(a.choices, c)
	return c
}

func (c *choiceAcc) addCall(tc *schema.ToolCall) {
	var cur *callAcc
	if tc.Index != nil {
		for _, k := range c.calls {
			if k.key == *tc.Index {
				cur = k
				break
			}
		}
		if cur == nil {
			cur = &callAcc{key: *tc.Index}
			c.calls = append(c.calls, cur)
		}
	} else if n := len(c.calls); n > 0 && (tc.ID == "" || tc.ID == c.calls[n-1].call.ID) {
		cur = c.calls[n-1]
	} else {
		next := 0
		for _, k := range c.calls {
			next = max(next, k.key+1)
		}
		cur = &callAcc{key: next}
		c.calls = append(c.calls, cur)
	}
	if cur.call.ID == "" {
		cur.call.ID = tc.ID
	}
	if cur.call.Type == "" {
		cur.call.Type = tc.Type
	}
	if cur.call.Function.Name == "" {
		cur.call.Function.Name = tc.Function.Name
	}
	cur.call.Function.Arguments += tc.Function.Arguments
}

// addDetail merges a streamed reasoning_details piece into the previous item
// when it continues it (same index, type, format and id): texts, summaries,
// signatures and data concatenate. Text after a signature starts a new item:
// a signed block is complete.
func (c *choiceAcc) addDetail(d schema.ReasoningDetail) {
	if n := len(c.details); n > 0 {
		last := &c.details[n-1]
		if last.Index == d.Index && last.Type == d.Type && last.Format == d.Format &&
			(last.ID == "" || d.ID == "" || last.ID == d.ID) && (last.Signature == "" || d.Text == "") {
			last.Text += d.Text
			last.Summary += d.Summary
			last.Signature += d.Signature
			last.Data += d.Data
			if last.ID == "" {
				last.ID = d.ID
			}
			return
		}
	}
	c.details = append(c.details, d)
}

// Response returns the response rebuilt so far, as a non-streaming
// chat.completion: choices in index order, role "assistant" when none was
// sent, content null when no text was streamed, tool call type "function" when
// none was sent.
func (a *Accumulator) Response() *schema.ChatResponse {
	resp := &schema.ChatResponse{ID: a.id, Object: "chat.completion", Created: a.created, Model: a.model,
		SystemFingerprint: a.fingerprint, Choices: make([]schema.Choice, 0, len(a.choices))}
	if a.usage != nil {
		u := *a.usage
		resp.Usage = &u
	}
	choices := slices.Clone(a.choices)
	slices.SortStableFunc(choices, func(x, y *choiceAcc) int { return cmp.Compare(x.index, y.index) })
	for _, c := range choices {
		m := schema.Message{Role: c.role, Reasoning: c.reasoning.String(), ReasoningDetails: slices.Clone(c.details)}
		if m.Role == "" {
			m.Role = "assistant"
		}
		if c.content.Len() > 0 {
			s := c.content.String()
			m.Content.Text = &s
		}
		if c.refusal.Len() > 0 {
			s := c.refusal.String()
			m.Refusal = &s
		}
		calls := slices.Clone(c.calls)
		slices.SortStableFunc(calls, func(x, y *callAcc) int { return cmp.Compare(x.key, y.key) })
		for _, k := range calls {
			tc := k.call
			if tc.Type == "" {
				tc.Type = "function"
			}
			m.ToolCalls = append(m.ToolCalls, tc)
		}
		resp.Choices = append(resp.Choices, schema.Choice{Index: c.index, Message: m, FinishReason: c.finish})
	}
	return resp
}

// Replay turns a (cached) response into the chunks a live stream of it would
// have had, per choice: a role chunk, the reasoning, content and refusal each
// split into a few chunks (reasoning_details items as a live stream has them:
// their text in pieces, each with the same text as reasoning, then the
// signature or data), each tool call as a head chunk (id, type, name)
// followed by its arguments in a few chunks, and a final chunk with the
// finish_reason. Chunks carry no usage: the caller ends the stream with the
// usage it reports. Chunks share no memory with resp or with each other.
func Replay(resp *schema.ChatResponse) []*schema.ChatChunk {
	if resp == nil {
		return nil
	}
	var out []*schema.ChatChunk
	emit := func(index int, d schema.Delta, finish *string) {
		out = append(out, &schema.ChatChunk{ID: resp.ID, Object: "chat.completion.chunk", Created: resp.Created,
			Model: resp.Model, SystemFingerprint: resp.SystemFingerprint,
			Choices: []schema.ChunkChoice{{Index: index, Delta: d, FinishReason: finish}}})
	}
	for ci := range resp.Choices {
		c := &resp.Choices[ci]
		m := &c.Message
		first := schema.Delta{Role: m.Role}
		if first.Role == "" {
			first.Role = "assistant"
		}
		if !m.Content.IsNull() {
			first.Content = new(string) // as OpenAI: the role chunk carries "content": ""
		}
		emit(c.Index, first, nil)
		// The reasoning text goes with the details when it is theirs (as
		// from every upstream), so that no consumer sees it twice.
		withDetails := m.Reasoning != "" && m.Reasoning == detailsText(m.ReasoningDetails)
		if !withDetails {
			for _, p := range split(m.Reasoning) {
				emit(c.Index, schema.Delta{Reasoning: &p}, nil)
			}
		}
		for _, rd := range m.ReasoningDetails {
			// The text (or summary) in pieces, then the rest of the item.
			rest := rd
			text := &rest.Text
			if rd.Text == "" {
				text = &rest.Summary
			}
			for _, p := range split(*text) {
				piece := schema.ReasoningDetail{Type: rd.Type, ID: rd.ID, Format: rd.Format, Index: rd.Index}
				if text == &rest.Text {
					piece.Text = p
				} else {
					piece.Summary = p
				}
				d := schema.Delta{ReasoningDetails: []schema.ReasoningDetail{piece}}
				if withDetails {
					d.Reasoning = ptr(p)
				}
				emit(c.Index, d, nil)
			}
			had := *text != ""
			*text = ""
			if !had || rest.Text != "" || rest.Summary != "" || rest.Signature != "" || rest.Data != "" {
				emit(c.Index, schema.Delta{ReasoningDetails: []schema.ReasoningDetail{rest}}, nil)
			}
		}
		for _, p := range split(m.Content.String()) {
			emit(c.Index, schema.Delta{Content: &p}, nil)
		}
		if m.Refusal != nil {
			for _, p := range split(*m.Refusal) {
				emit(c.Index, schema.Delta{Refusal: &p}, nil)
			}
		}
		for ti := range m.ToolCalls {
			tc := &m.ToolCalls[ti]
			typ := tc.Type
			if typ == "" {
				typ = "function"
			}
			emit(c.Index, schema.Delta{ToolCalls: []schema.ToolCall{{Index: ptr(ti), ID: tc.ID, Type: typ,
				Function: schema.ToolCallFunction{Name: tc.Function.Name}}}}, nil)
			for _, p := range split(tc.Function.Arguments) {
				emit(c.Index, schema.Delta{ToolCalls: []schema.ToolCall{{Index: ptr(ti),
					Function: schema.ToolCallFunction{Arguments: p}}}}, nil)
			}
		}
		var finish *string
		if c.FinishReason != "" {
			finish = ptr(c.FinishReason)
		}
		emit(c.Index, schema.Delta{}, finish)
	}
	return out
}

// detailsText is the reasoning text reasoning_details carry: each item's
// text, or its summary.
func detailsText(details []schema.ReasoningDetail) string {
	var b strings.Builder
	for _, d := range details {
		if d.Text != "" {
			b.WriteString(d.Text)
		} else {
			b.WriteString(d.Summary)
		}
	}
	return b.String()
}

// Replayed text is cut into at most about maxPieces pieces of at least
// minPiece bytes, at rune boundaries, preferably after a space.
const (
	maxPieces = 8
	minPiece  = 16
)

func split(s string) []string {
	if s == "" {
		return nil
	}
	size := max(minPiece, (len(s)+maxPieces-1)/maxPieces)
	var out []string
	for len(s) > size {
		cut := size
		if i := strings.LastIndexByte(s[size/2:size], ' '); i >= 0 {
			cut = size/2 + i + 1
		}
		for cut < len(s) && !utf8.RuneStart(s[cut]) {
			cut++
		}
		out = append(out, s[:cut])
		s = s[cut:]
	}
	if s != "" {
		out = append(out, s)
	}
	return out
}

func ptr[T any](v T) *T { return &v }
