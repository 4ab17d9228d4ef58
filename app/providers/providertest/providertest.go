// Package providertest holds helpers shared by the tests of the provider
// adapters (anthropic, google, openai): a capturing fake upstream, canned
// HTTP handlers, fixture and request loaders, error and stream assertions,
// and a field-by-field JSON diff.
//
// It is a normal package so that several packages' tests can import it, but
// it is meant to be imported only by _test.go files, never by production
// code.
package providertest

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
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/llmgw/gateway/app/providers"
	"github.com/llmgw/gateway/app/schema"
)

// Captured is one request the fake upstream received.
type Captured struct {
	Method string
	Path   string // r.URL.Path
	Query  string // r.URL.RawQuery
	Header http.Header
	Body   []byte
}

// Upstream is a local HTTP server that records every request it receives
// and then answers with its handler.
type Upstream struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []Captured
}

// NewUpstream starts an Upstream answering with h. The server is closed when
// the test ends.
func NewUpstream(t testing.TB, h http.HandlerFunc) *Upstream {
	t.Helper()
	u := &Upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.reqs = append(u.reqs, Captured{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), b})
		u.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(u.Close)
	return u
}

// Last returns the most recent request the upstream received; it fails the
// test if there was none.
func (u *Upstream) Last(t testing.TB) Captured {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.reqs) == 0 {
		t.Fatal("upstream received no request")
	}
	return u.reqs[len(u.reqs)-1]
}

// Requests returns a copy of every request the upstream received so far, in
// order.
func (u *Upstream) Requests() []Captured {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.reqs)
}

// setHeaders sets headers given as name, value pairs; an odd last name is
// ignored.
func setHeaders(w http.ResponseWriter, headers []string) {
	for i := 0; i+1 < len(headers); i += 2 {
		w.Header().Set(headers[i], headers[i+1])
	}
}

// Respond returns a handler writing a fixed status, content type (if not
// empty) and body, after setting the extra headers given as name, value
// pairs.
func Respond(status int, contentType, body string, headers ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		setHeaders(w, headers)
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// SSEHandler returns a handler writing body as a server-sent event stream in
// pieces of at most size bytes, flushing each, so the client sees events
// split across reads. The Content-Type is "text/event-stream;
// charset=utf-8" unless headers, given as name, value pairs, override it.
func SSEHandler(body string, size int, headers ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		setHeaders(w, headers)
		w.WriteHeader(200)
		for rest := body; len(rest) > 0; {
			n := min(size, len(rest))
			_, _ = io.WriteString(w, rest[:n])
			w.(http.Flusher).Flush()
			rest = rest[n:]
		}
	}
}

// Fixture returns the content of testdata/name, relative to the test's
// package directory.
func Fixture(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// ChatRequest decodes body as a neutral chat request, failing the test if it
// is invalid.
func ChatRequest(t testing.TB, body string) *schema.ChatRequest {
	t.Helper()
	r, err := schema.DecodeChatRequest([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// SimpleRequest is a minimal valid chat request.
const SimpleRequest = `{"model":"alias","messages":[{"role":"user","content":"hi"}]}`

// AsError asserts that err is a *providers.Error of the given kind and, if
// any provider names are given, that its Provider is one of them. It returns
// the error.
func AsError(t testing.TB, err error, kind providers.Kind, provider ...string) *providers.Error {
	t.Helper()
	var pe *providers.Error
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a *providers.Error", err, err)
	}
	if pe.Kind != kind {
		t.Fatalf("kind = %d, want %d (error: %v)", pe.Kind, kind, err)
	}
	if len(provider) > 0 && !slices.Contains(provider, pe.Provider) {
		t.Fatalf("provider = %q", pe.Provider)
	}
	return pe
}

// ReadStream reads a stream to its end, returning the chunks and the error
// that ended it (io.EOF for a clean end).
func ReadStream(s providers.ChatStream) ([]*schema.ChatChunk, error) {
	var out []*schema.ChatChunk
	for {
		c, err := s.Recv()
		if err != nil {
			return out, err
		}
		out = append(out, c)
	}
}

// CRLF replaces every "\n" in s with "\r\n".
func CRLF(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

// JSONDiff lists the differences between two decoded JSON values, one line
// per differing field, so a golden mismatch names the field. path names the
// root in the messages.
func JSONDiff(path string, want, got any) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: want object, got %s", path, Short(got))}
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
				out = append(out, fmt.Sprintf("%s.%s: unexpected %s", path, k, Short(gv)))
			case !gok:
				out = append(out, fmt.Sprintf("%s.%s: missing, want %s", path, k, Short(wv)))
			default:
				out = append(out, JSONDiff(path+"."+k, wv, gv)...)
			}
		}
		return out
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []string{fmt.Sprintf("%s: want %s, got %s", path, Short(want), Short(got))}
		}
		var out []string
		for i := range w {
			out = append(out, JSONDiff(fmt.Sprintf("%s[%d]", path, i), w[i], g[i])...)
		}
		return out
	}
	if !reflect.DeepEqual(want, got) {
		return []string{fmt.Sprintf("%s: want %s, got %s", path, Short(want), Short(got))}
	}
	return nil
}

// Short is v as JSON, cut to 200 bytes, for messages.
func Short(v any) string {
	b, _ := json.Marshal(v)
	s := string(b)
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// DecodeAny decodes b as a JSON value, failing the test if it is invalid.
func DecodeAny(t testing.TB, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("invalid JSON %s: %v", b, err)
	}
	return v
}
