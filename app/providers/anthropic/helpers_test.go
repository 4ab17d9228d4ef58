package anthropic

import (
	"net/http"
	"testing"

	"github.com/llmgw/gateway/app/providers"
	"github.com/llmgw/gateway/app/providers/providertest"
	"github.com/llmgw/gateway/app/schema"
)

const (
	testKey   = "sk-ant-api03-test"
	testModel = "claude-sonnet-4-20250514"
)

// testMaxTokens is the default max_tokens the tests configure.
func testMaxTokens(model string) int {
	if model == testModel {
		return 8192
	}
	return 0
}

// upstream is a capturing fake upstream with this package's target and
// provider.
type upstream struct{ *providertest.Upstream }

func newUpstream(t testing.TB, h http.HandlerFunc) *upstream {
	t.Helper()
	return &upstream{providertest.NewUpstream(t, h)}
}

// target points at the server; the trailing slash checks that it is trimmed.
func (u *upstream) target() providers.Target {
	return providers.Target{Provider: "anthropic", Model: testModel, BaseURL: u.URL + "/", APIKey: testKey}
}

func (u *upstream) provider() *Provider { return New(u.Client(), testMaxTokens) }

// asError asserts err is a *providers.Error of the given kind.
func asError(t testing.TB, err error, kind providers.Kind) *providers.Error {
	t.Helper()
	return providertest.AsError(t, err, kind, "anthropic", "fuzz")
}

// assembled is a stream folded into one answer, as a client would.
type assembled struct {
	role, content, reasoning, finish string
	toolCalls                        []schema.ToolCall
	details                          []schema.ReasoningDetail // as streamed, unmerged
	usage                            *schema.Usage
}

func assemble(t *testing.T, chunks []*schema.ChatChunk) assembled {
	t.Helper()
	var a assembled
	for i, c := range chunks {
		if c.Usage != nil {
			if i != len(chunks)-1 || len(c.Choices) != 0 {
				t.Errorf("usage in chunk %d of %d with %d choices", i, len(chunks), len(c.Choices))
			}
			a.usage = c.Usage
		}
		for _, ch := range c.Choices {
			d := ch.Delta
			if d.Role != "" {
				a.role = d.Role
			}
			if d.Content != nil {
				a.content += *d.Content
			}
			if d.Reasoning != nil {
				a.reasoning += *d.Reasoning
			}
			a.details = append(a.details, d.ReasoningDetails...)
			for _, tc := range d.ToolCalls {
				if tc.Index == nil {
					t.Fatal("tool call delta without index")
				}
				for len(a.toolCalls) <= *tc.Index {
					a.toolCalls = append(a.toolCalls, schema.ToolCall{})
				}
				dst := &a.toolCalls[*tc.Index]
				if tc.ID != "" {
					dst.ID, dst.Type = tc.ID, tc.Type
				}
				dst.Function.Name += tc.Function.Name
				dst.Function.Arguments += tc.Function.Arguments
			}
			if ch.FinishReason != nil {
				if a.finish != "" {
					t.Error("two finish reasons")
				}
				a.finish = *ch.FinishReason
			}
		}
	}
	return a
}
