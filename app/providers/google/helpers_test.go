package google

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/llmgw/gateway/app/providers"
	"github.com/llmgw/gateway/app/providers/providertest"
	"github.com/llmgw/gateway/app/schema"
)

const (
	testKey   = "AIzaSyTest-0123456789"
	testModel = "gemini-2.5-flash"
)

// upstream is a capturing fake upstream with this package's target.
type upstream struct{ *providertest.Upstream }

func newUpstream(t testing.TB, h http.HandlerFunc) *upstream {
	t.Helper()
	return &upstream{providertest.NewUpstream(t, h)}
}

// target points at the server; the trailing slash checks that it is trimmed.
func (u *upstream) target() providers.Target {
	return providers.Target{Provider: "acme", Model: testModel, BaseURL: u.URL + "/", APIKey: testKey}
}

// sseHandler serves body as an SSE stream in flushed pieces of at most size
// bytes, with the Content-Type Gemini sends.
func sseHandler(body string, size int) http.HandlerFunc {
	return providertest.SSEHandler(body, size, "Content-Type", "text/event-stream")
}

// asError asserts err is a *providers.Error of the given kind.
func asError(t testing.TB, err error, kind providers.Kind) *providers.Error {
	t.Helper()
	return providertest.AsError(t, err, kind, "acme", "fuzz")
}

// assembled is a stream folded into one answer, as a client would.
type assembled struct {
	role, content, reasoning, finish string
	toolCalls                        []schema.ToolCall
	usage                            *schema.Usage
	chunks                           int
	ids                              map[string]bool
}

func assemble(t testing.TB, chunks []*schema.ChatChunk) assembled {
	t.Helper()
	a := assembled{chunks: len(chunks), ids: map[string]bool{}}
	for _, c := range chunks {
		a.ids[c.ID] = true
		if c.Object != "chat.completion.chunk" {
			t.Fatalf("object = %q", c.Object)
		}
		if c.Usage != nil {
			a.usage = c.Usage
		}
		for _, ch := range c.Choices {
			d := ch.Delta
			if d.Role != "" {
				if a.role != "" {
					t.Fatal("role sent twice")
				}
				a.role = d.Role
			}
			if d.Content != nil {
				a.content += *d.Content
			}
			if d.Reasoning != nil {
				a.reasoning += *d.Reasoning
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

// jsonEqual compares two JSON documents by value and lists every difference
// by path, so a golden failure says which field is wrong.
func jsonEqual(t testing.TB, name string, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: got invalid JSON: %v\n%s", name, err, got)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("%s: fixture invalid JSON: %v", name, err)
	}
	if diffs := providertest.JSONDiff("$", w, g); len(diffs) > 0 {
		t.Errorf("%s: %d difference(s):\n  %s\ngot: %s", name, len(diffs), strings.Join(diffs, "\n  "), got)
	}
}
