package openai

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/llmgw/gateway/app/providers"
	"github.com/llmgw/gateway/app/providers/providertest"
	"github.com/llmgw/gateway/app/schema"
)

const testKey = "sk-test-0123456789"

// upstream is a capturing fake upstream with this package's target.
type upstream struct{ *providertest.Upstream }

func newUpstream(t testing.TB, h http.HandlerFunc) *upstream {
	t.Helper()
	return &upstream{providertest.NewUpstream(t, h)}
}

// target points at the server; the trailing slash checks that it is trimmed.
func (u *upstream) target() providers.Target {
	return providers.Target{Provider: "acme", Model: "gpt-4o-2024-08-06", BaseURL: u.URL + "/", APIKey: testKey}
}

// asError asserts err is a *providers.Error of the given kind.
func asError(t testing.TB, err error, kind providers.Kind) *providers.Error {
	t.Helper()
	return providertest.AsError(t, err, kind, "acme", "fuzz")
}

// assembled is a stream folded into one answer, as a client would.
type assembled struct {
	role, content, finish string
	toolCalls             []schema.ToolCall
	usage                 *schema.Usage
	chunks                int
}

func assemble(t *testing.T, chunks []*schema.ChatChunk) assembled {
	t.Helper()
	var a assembled
	a.chunks = len(chunks)
	for _, c := range chunks {
		if c.Usage != nil {
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
				a.finish = *ch.FinishReason
			}
		}
	}
	return a
}

func readFixture(name string) ([]byte, error) { return os.ReadFile(filepath.Join("testdata", name)) }
