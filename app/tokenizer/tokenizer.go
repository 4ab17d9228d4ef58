// Package tokenizer counts tokens offline with a real BPE (tiktoken o200k_base,
// the encoding of current OpenAI models). It is used only when an upstream reports
// no usage, or to estimate a prompt before the call; for non-OpenAI models the
// count is an estimate and the log row says so.
package tokenizer

import (
	"sync"

	"github.com/pkoukk/tiktoken-go"
	tiktoken_loader "github.com/pkoukk/tiktoken-go-loader"

	"github.com/llmgw/gateway/app/schema"
)

var (
	once sync.Once
	enc  *tiktoken.Tiktoken
)

// load reads the embedded BPE ranks (never the network: the default loader
// downloads them, which fails on offline machines).
func load() {
	tiktoken.SetBpeLoader(tiktoken_loader.NewOfflineLoader())
	e, err := tiktoken.GetEncoding(tiktoken.MODEL_O200K_BASE)
	if err == nil {
		enc = e
	}
}

// Warm loads the encoding ahead of the first count (it takes ~100 ms).
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
	return len(enc.EncodeOrdinary(text))
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
