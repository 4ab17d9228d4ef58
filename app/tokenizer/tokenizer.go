// Package tokenizer counts tokens offline with a real BPE (tiktoken o200k_base,
// the encoding of current OpenAI models). It is used only when an upstream reports
// no usage, or to estimate a prompt before the call; for non-OpenAI models the
// count is an estimate and the log row says so.
//
// The counts are exactly those of tiktoken-go's o200k_base EncodeOrdinary (the
// tests check it), but the encoder is our own: the ranks (loaded from the
// embedded assets of tiktoken-go-loader) live in a few pointer-free slices
// instead of tiktoken-go's maps of strings, which were most of the gateway's live
// heap and had to be marked by every GC cycle. Text is split with tiktoken's
// o200k regular expression (regexp2, as tiktoken-go does), then each piece is
// byte-pair merged as tiktoken-go's bytePairMerge does, counting the parts. Only
// counting is supported: there is no decoding.
package tokenizer

import (
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
	tiktoken_loader "github.com/pkoukk/tiktoken-go-loader"

	"github.com/llmgw/gateway/app/schema"
)

// o200kFile is the name tiktoken-go passes to its BpeLoader for o200k_base; the
// offline loader reads the embedded asset of the same base name.
const o200kFile = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"

// o200kPattern is o200k_base's pre-tokenization regular expression, as
// tiktoken-go writes it (encoding.go, o200k_base).
var o200kPattern = strings.Join([]string{
	`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?`,
	`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?`,
	`\p{N}{1,3}`,
	` ?[^\s\p{L}\p{N}]+[\r\n/]*`,
	`\s*[\r\n]+`,
	`\s+(?!\S)`,
	`\s+`,
}, "|")

// encoder is a loaded o200k_base counter. It is immutable and safe for
// concurrent use.
type encoder struct {
	re    *regexp2.Regexp
	table *bpeTable
}

var (
	once sync.Once
	enc  *encoder // nil if loading failed
)

// load reads the embedded BPE ranks (never the network: tiktoken-go's default
// loader downloads them, which fails on offline machines) and copies them into a
// bpeTable; the loader's map is garbage once load returns.
func load() {
	e, err := newEncoder()
	if err == nil {
		enc = e
	}
}

func newEncoder() (*encoder, error) {
	re, err := regexp2.Compile(o200kPattern, regexp2.None)
	if err != nil {
		return nil, err
	}
	ranks, err := tiktoken_loader.NewOfflineLoader().LoadTiktokenBpe(o200kFile)
	if err != nil {
		return nil, err
	}
	t, err := newBPETable(ranks)
	if err != nil {
		return nil, err
	}
	return &encoder{re: re, table: t}, nil
}

// Warm loads the encoding ahead of the first count (it takes 0.2–0.3 s: the
// embedded ranks are parsed, then copied into the tables).
func Warm() { once.Do(load) }

// Count returns the number of tokens of text.
func Count(text string) int {
	if text == "" {
		return 0
	}
	once.Do(load)
	if enc == nil { // cannot happen with embedded assets; keep a sane fallback
		return (len(text) + 3) / 4
	}
	return enc.count(text)
}

// runePool recycles the rune buffers regexp2 matches on.
var runePool = sync.Pool{New: func() any { return new([]rune) }}

// maxPooledRunes bounds the rune buffers kept in runePool (4 bytes a rune).
const maxPooledRunes = 1 << 16

// count returns the number of tokens tiktoken-go's EncodeOrdinary gives text.
func (e *encoder) count(text string) int {
	// regexp2 matches runes, and its match indexes count runes. Like
	// tiktoken-go, match on []rune(text): every byte of invalid UTF-8 becomes
	// U+FFFD, and tiktoken-go then encodes the pieces from those runes.
	bufp := runePool.Get().(*[]rune)
	runes := (*bufp)[:0]
	ascii, valid := true, true
	for i, r := range text {
		if r >= utf8.RuneSelf {
			ascii = false
			if r == utf8.RuneError && !strings.HasPrefix(text[i:], "\uFFFD") {
				valid = false
			}
		}
		runes = append(runes, r)
	}
	if !valid {
		text = string(runes) // the text tiktoken-go's pieces are cut from
	}

	n := 0
	ri, bi := 0, 0 // rune → byte offset cursor; matches come in increasing order
	m, err := e.re.FindRunesMatch(runes)
	for m != nil && err == nil { // like tiktoken-go, an error (timeout: none is set) ends the text
		start, end := m.Index, m.Index+m.Length
		if !ascii {
			for ; ri < start; ri++ {
				bi += utf8.RuneLen(runes[ri])
			}
			start = bi
			for ; ri < end; ri++ {
				bi += utf8.RuneLen(runes[ri])
			}
			end = bi
		}
		n += e.table.countPiece(text[start:end])
		m, err = e.re.FindNextMatch(m)
	}

	if cap(runes) <= maxPooledRunes {
		*bufp = runes
		runePool.Put(bufp)
	}
	return n
}

// Per-message overheads of the chat format, as OpenAI documents them.
const (
	tokensPerMessage = 3
	tokensPerName    = 1
	replyPriming     = 3
)

// CountMessages estimates the prompt tokens of a chat request: messages, tool
// calls and tool definitions.
func CountMessages(req *schema.ChatRequest) int {
	n := replyPriming
	for i := range req.Messages {
		m := &req.Messages[i]
		n += tokensPerMessage + Count(m.Role) + Count(m.Content.String())
		if m.Name != "" {
			n += tokensPerName + Count(m.Name)
		}
		for _, tc := range m.ToolCalls {
			n += Count(tc.Function.Name) + Count(tc.Function.Arguments)
		}
		for _, p := range m.Content.Parts {
			if p.Type == "image_url" {
				n += 85 // OpenAI's base cost of an image; detail tiles are not known here
			}
		}
	}
	for _, t := range req.Tools {
		n += Count(t.Function.Name) + Count(t.Function.Description) + Count(string(t.Function.Parameters))
	}
	return n
}
