package anthropic

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/llmgw/gateway/app/providers"
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

// captured is what the fake upstream received.
type captured struct {
	method, path string
	header       http.Header
	body         []byte
}

// upstream is a local server speaking whatever its handler writes.
type upstream struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []captured
}

func newUpstream(t *testing.T, h http.HandlerFunc) *upstream {
	t.Helper()
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.reqs = append(u.reqs, captured{r.Method, r.URL.Path, r.Header.Clone(), b})
		u.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) last(t *testing.T) captured {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.reqs) == 0 {
		t.Fatal("upstream received no request")
	}
	return u.reqs[len(u.reqs)-1]
}

// target points at the server; the trailing slash checks that it is trimmed.
func (u *upstream) target() providers.Target {
	return providers.Target{Provider: "anthropic", Model: testModel, BaseURL: u.URL + "/", APIKey: testKey}
}

func (u *upstream) provider() *Provider { return New(u.Client(), testMaxTokens) }

func respond(status int, contentType, body string, headers ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// sseHandler writes body in pieces of at most size bytes, flushing each, so
// the client sees events split across reads.
func sseHandler(body string, size int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.WriteHeader(200)
		for rest := body; len(rest) > 0; {
			n := min(size, len(rest))
			_, _ = io.WriteString(w, rest[:n])
			w.(http.Flusher).Flush()
			rest = rest[n:]
		}
	}
}

func fixture(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func chatRequest(t testing.TB, body string) *schema.ChatRequest {
	t.Helper()
	r, err := schema.DecodeChatRequest([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

const simpleRequest = `{"model":"alias","messages":[{"role":"user","content":"hi"}]}`

// asError asserts err is a *providers.Error of the given kind.
func asError(t *testing.T, err error, kind providers.Kind) *providers.Error {
	t.Helper()
	var pe *providers.Error
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a *providers.Error", err, err)
	}
	if pe.Kind != kind {
		t.Fatalf("kind = %d, want %d (error: %v)", pe.Kind, kind, err)
	}
	if pe.Provider != "anthropic" && pe.Provider != "fuzz" {
		t.Fatalf("provider = %q", pe.Provider)
	}
	return pe
}

func readStream(s providers.ChatStream) ([]*schema.ChatChunk, error) {
	var out []*schema.ChatChunk
	for {
		c, err := s.Recv()
		if err != nil {
			return out, err
		}
		out = append(out, c)
	}
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

// jsonDiff lists the differences between two decoded JSON values, one line
// per differing field, so a golden mismatch names the field.
func jsonDiff(path string, want, got any) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: want object, got %s", path, short(got))}
		}
		keys := map[string]bool{}
		for k := range w {
			keys[k] = true
		}
		for k := range g {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		var out []string
		for _, k := range sorted {
			wv, wok := w[k]
			gv, gok := g[k]
			switch {
			case !wok:
				out = append(out, fmt.Sprintf("%s.%s: unexpected %s", path, k, short(gv)))
			case !gok:
				out = append(out, fmt.Sprintf("%s.%s: missing, want %s", path, k, short(wv)))
			default:
				out = append(out, jsonDiff(path+"."+k, wv, gv)...)
			}
		}
		return out
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []string{fmt.Sprintf("%s: want %s, got %s", path, short(want), short(got))}
		}
		var out []string
		for i := range w {
			out = append(out, jsonDiff(fmt.Sprintf("%s[%d]", path, i), w[i], g[i])...)
		}
		return out
	}
	if !reflect.DeepEqual(want, got) {
		return []string{fmt.Sprintf("%s: want %s, got %s", path, short(want), short(got))}
	}
	return nil
}

func short(v any) string {
	b, _ := json.Marshal(v)
	s := string(b)
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

func decodeAny(t testing.TB, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("invalid JSON %s: %v", b, err)
	}
	return v
}

func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }
