package anthropic

import (
	"strings"

	"github.com/llmgw/gateway/app/schema"
)

// Thinking blocks travel through the neutral schema as reasoning_details
// (OpenRouter's format, with format "anthropic-claude-v1"):
//
//	{"type":"thinking","thinking":T,"signature":S}  <->  {"type":"reasoning.text","text":T,"signature":S,"format":"anthropic-claude-v1","index":i}
//	{"type":"redacted_thinking","data":D}           <->  {"type":"reasoning.encrypted","data":D,"format":"anthropic-claude-v1","index":i}
//
// where i numbers the message's thinking and redacted_thinking blocks from 0.
// In a stream a thinking block comes as several items of its index: text
// pieces, then one with the signature.

// reasoningDetail is the reasoning_details item of a thinking or
// redacted_thinking block (ok false for any other block).
func reasoningDetail(index int, b *ContentBlock) (schema.ReasoningDetail, bool) {
	switch b.Type {
	case "thinking":
		return schema.ReasoningDetail{Type: schema.ReasoningText, Format: schema.ReasoningFormatAnthropic, Index: index,
			Text: b.Thinking, Signature: b.Signature}, true
	case "redacted_thinking":
		return schema.ReasoningDetail{Type: schema.ReasoningEncrypted, Format: schema.ReasoningFormatAnthropic, Index: index,
			Data: b.Data}, true
	}
	return schema.ReasoningDetail{}, false
}

// isAnthropicDetail: an item Anthropic issued. Items without a format are
// accepted from clients (lenient), who may build the array by hand; other
// formats (OpenAI's encrypted reasoning, Gemini's thought signatures) mean
// nothing to Anthropic.
func isAnthropicDetail(d *schema.ReasoningDetail, lenient bool) bool {
	return d.Format == schema.ReasoningFormatAnthropic || lenient && d.Format == ""
}

// hasAnthropicDetails reports whether details hold a thinking or
// redacted_thinking block for Anthropic.
func hasAnthropicDetails(details []schema.ReasoningDetail, lenient bool) bool {
	for i := range details {
		d := &details[i]
		if isAnthropicDetail(d, lenient) && (d.Type == schema.ReasoningText || d.Type == schema.ReasoningEncrypted) {
			return true
		}
	}
	return false
}

// thinkingBlocks rebuilds the thinking and redacted_thinking blocks of
// reasoning_details, in order. Consecutive reasoning.text items of one index
// are the pieces of one block (a client may send back what it accumulated
// from a stream) until the block has its signature; a reasoning.encrypted
// item is always a block of its own. Summaries and items of other formats are
// skipped, and so are unsigned thinking blocks when signedOnly is set:
// Anthropic refuses a thinking block without its signature.
func thinkingBlocks(details []schema.ReasoningDetail, lenient, signedOnly bool) []ContentBlock {
	type acc struct {
		index     int
		typ       string
		text, sig strings.Builder
		data      string
	}
	var groups []*acc
	for i := range details {
		d := &details[i]
		if !isAnthropicDetail(d, lenient) {
			continue
		}
		switch d.Type {
		case schema.ReasoningText:
			if n := len(groups); n > 0 {
				g := groups[n-1]
				if g.typ == schema.ReasoningText && g.index == d.Index && g.sig.Len() == 0 {
					g.text.WriteString(d.Text)
					g.sig.WriteString(d.Signature)
					continue
				}
			}
			g := &acc{index: d.Index, typ: d.Type}
			g.text.WriteString(d.Text)
			g.sig.WriteString(d.Signature)
			groups = append(groups, g)
		case schema.ReasoningEncrypted:
			if d.Data != "" {
				groups = append(groups, &acc{index: d.Index, typ: d.Type, data: d.Data})
			}
		}
	}
	var out []ContentBlock
	for _, g := range groups {
		switch {
		case g.typ == schema.ReasoningEncrypted:
			out = append(out, ContentBlock{Type: "redacted_thinking", Data: g.data})
		case g.sig.Len() > 0 || !signedOnly && g.text.Len() > 0:
			out = append(out, ContentBlock{Type: "thinking", Thinking: g.text.String(), Signature: g.sig.String()})
		}
	}
	return out
}

func isThinkingBlock(b *ContentBlock) bool {
	return b.Type == "thinking" || b.Type == "redacted_thinking"
}

// thinkingFirst stably moves thinking and redacted_thinking blocks to the
// front: Anthropic requires an assistant turn with thinking to start with it.
func thinkingFirst(b []ContentBlock) {
	out := make([]ContentBlock, 0, len(b))
	for i := range b {
		if isThinkingBlock(&b[i]) {
			out = append(out, b[i])
		}
	}
	for i := range b {
		if !isThinkingBlock(&b[i]) {
			out = append(out, b[i])
		}
	}
	copy(b, out)
}

// withoutThinking drops thinking and redacted_thinking blocks.
func withoutThinking(b []ContentBlock) []ContentBlock {
	out := b[:0:0]
	for i := range b {
		if !isThinkingBlock(&b[i]) {
			out = append(out, b[i])
		}
	}
	return out
}
