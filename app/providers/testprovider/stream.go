package testprovider

import (
	"context"
	"io"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/llmgw/gateway/app/providers"
	"github.com/llmgw/gateway/app/schema"
)

// argFragment is the size of the pieces tool arguments are streamed in, like
// the token-sized fragments of a real model.
const argFragment = 8

// ChatStream implements providers.Provider. The whole stream is computed up
// front; Recv only hands the chunks out, checking the context between them.
func (p *Provider) ChatStream(ctx context.Context, t providers.Target, req *schema.ChatRequest) (providers.ChatStream, error) {
	r, err := p.plan(ctx, t, req)
	if err != nil {
		return nil, err
	}
	return &stream{ctx: ctx, t: t, delay: p.ChunkDelay, chunks: r.chunks(t.Model)}, nil
}

// chunks lays the reply out as OpenAI streams it: per choice a role chunk,
// the content (or tool call) deltas and a finish chunk; then one usage chunk
// with no choices, which the gateway always wants.
func (r *reply) chunks(model string) []*schema.ChatChunk {
	var out []*schema.ChatChunk
	add := func(index int, d schema.Delta, finish *string) {
		out = append(out, &schema.ChatChunk{
			ID: r.id, Object: "chat.completion.chunk", Created: r.created, Model: model,
			Choices: []schema.ChunkChoice{{Index: index, Delta: d, FinishReason: finish}},
		})
	}
	for i := 0; i < r.n; i++ {
		if r.isToolCall() {
			zero := 0
			add(i, schema.Delta{Role: "assistant", ToolCalls: []schema.ToolCall{{
				Index: &zero, ID: r.toolID, Type: "function",
				Function: schema.ToolCallFunction{Name: r.toolName, Arguments: ""},
			}}}, nil)
			for _, frag := range fragments(r.toolArgs, argFragment) {
				zero := 0
				add(i, schema.Delta{ToolCalls: []schema.ToolCall{{
					Index: &zero, Function: schema.ToolCallFunction{Arguments: frag},
				}}}, nil)
			}
		} else {
			empty := ""
			add(i, schema.Delta{Role: "assistant", Content: &empty}, nil)
			for _, piece := range r.pieces {
				add(i, schema.Delta{Content: &piece}, nil)
			}
		}
		finish := r.finish
		add(i, schema.Delta{}, &finish)
	}
	u := r.usage
	out = append(out, &schema.ChatChunk{
		ID: r.id, Object: "chat.completion.chunk", Created: r.created, Model: model,
		Choices: []schema.ChunkChoice{}, Usage: &u,
	})
	return out
}

// fragments cuts s into pieces of about size bytes without splitting a rune.
func fragments(s string, size int) []string {
	var out []string
	for len(s) > 0 {
		n := size
		if n >= len(s) {
			n = len(s)
		} else {
			for n > 0 && !utf8.RuneStart(s[n]) {
				n--
			}
			if n == 0 {
				_, n = utf8.DecodeRuneInString(s)
			}
		}
		out = append(out, s[:n])
		s = s[n:]
	}
	return out
}

type stream struct {
	ctx    context.Context
	t      providers.Target
	delay  time.Duration
	chunks []*schema.ChatChunk
	next   int
	closed atomic.Bool
}

// Recv implements providers.ChatStream.
func (s *stream) Recv() (*schema.ChatChunk, error) {
	if s.closed.Load() {
		return nil, &providers.Error{Kind: providers.KindConnection, Provider: s.t.Provider, Message: "stream closed"}
	}
	if s.next >= len(s.chunks) {
		return nil, io.EOF
	}
	if s.next > 0 && s.delay > 0 {
		timer := time.NewTimer(s.delay)
		select {
		case <-s.ctx.Done():
			timer.Stop()
		case <-timer.C:
		}
	}
	if err := ctxError(s.ctx, s.t); err != nil {
		return nil, err
	}
	c := s.chunks[s.next]
	s.chunks[s.next] = nil // the caller owns the chunk now
	s.next++
	return c, nil
}

// Close implements providers.ChatStream.
func (s *stream) Close() error {
	s.closed.Store(true)
	return nil
}
