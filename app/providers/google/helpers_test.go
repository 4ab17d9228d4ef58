package google

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
	testKey   = "AIzaSyTest-0123456789"
	testModel = "gemini-2.5-flash"
)

// captured is what the fake upstream received.
type captured struct {
	method, path, query string
	header              http.Header
	body                []byte
}

// upstream is a local server speaking whatever its handler writes.
type upstream struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []captured
}

func newUpstream(t testing.TB, h http.HandlerFunc) *upstream {
	t.Helper()
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.reqs = append(u.reqs, captured{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), b})
		u.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) last(t testing.TB) captured {
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
	return providers.Target{Provider: "acme", Model: testModel, BaseURL: u.URL + "/", APIKey: testKey}
}

// respond writes a fixed status, content type and body.
func respond(status int, contentType, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
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
		w.Header().Set("Content-Type", "text/event-stream")
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
func asError(t testing.TB, err error, kind providers.Kind) *providers.Error {
	t.Helper()
	var pe *providers.Error
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a *providers.Error", err, err)
	}
	if pe.Kind != kind {
		t.Fatalf("kind = %d, want %d (error: %v)", pe.Kind, kind, err)
	}
	if pe.Provider != "acme" && pe.Provider != "fuzz" {
		t.Fatalf("provider = %q", pe.Provider)
	}
	return pe
}

// readStream reads a stream to its end.
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

func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

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
	var diffs []string
	diffJSON("$", g, w, &diffs)
	if len(diffs) > 0 {
		t.Errorf("%s: %d difference(s):\n  %s\ngot: %s", name, len(diffs), strings.Join(diffs, "\n  "), got)
	}
}

func diffJSON(path string, got, want any, out *[]string) {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			*out = append(*out, fmt.Sprintf("%s: got %v, want an object", path, got))
			return
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
		for _, k := range sorted {
			gv, gok := g[k]
			wv, wok := w[k]
			switch {
			case !gok:
				*out = append(*out, fmt.Sprintf("%s.%s: missing, want %v", path, k, wv))
			case !wok:
				*out = append(*out, fmt.Sprintf("%s.%s: unexpected %v", path, k, gv))
			default:
				diffJSON(path+"."+k, gv, wv, out)
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			*out = append(*out, fmt.Sprintf("%s: got %v, want %v", path, got, want))
			return
		}
		for i := range w {
			diffJSON(fmt.Sprintf("%s[%d]", path, i), g[i], w[i], out)
		}
	default:
		if !reflect.DeepEqual(got, want) {
			*out = append(*out, fmt.Sprintf("%s: got %v, want %v", path, got, want))
		}
	}
}
