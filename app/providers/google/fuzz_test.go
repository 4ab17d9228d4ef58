package google

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/llmgw/gateway/app/providers"
	"github.com/llmgw/gateway/app/schema"
)

func addFixtures(f *testing.F, pattern string, variants ...func(string) string) {
	f.Helper()
	names, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil || len(names) == 0 {
		f.Fatalf("no fixtures for %s", pattern)
	}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		for _, v := range variants {
			f.Add([]byte(v(string(b))))
		}
	}
}

// FuzzTranslateRequest feeds arbitrary chat requests to the translation: it
// must never panic, must fail only with a classified *providers.Error, and
// what it produces must be valid JSON.
func FuzzTranslateRequest(f *testing.F) {
	addFixtures(f, "request/*.openai.json")
	f.Add([]byte(`{"messages":[{"role":"tool","tool_call_id":"x"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"$ref":"#/$defs/a","$defs":{"a":{"$ref":"#/$defs/a"}}}}}]}`))
	f.Add([]byte(`{"messages":[],"response_format":{"type":"json_schema","json_schema":{"schema":{"allOf":[{"allOf":[{"$ref":"#"}]}]}}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := schema.DecodeChatRequest(body)
		if err != nil {
			return
		}
		for _, model := range []string{"gemini-2.5-flash", "gemini-3-pro"} {
			g, err := buildRequest("fuzz", model, req)
			if err != nil {
				var pe *providers.Error
				if !errors.As(err, &pe) || pe.Provider != "fuzz" || (pe.Kind != providers.KindUnsupported && pe.Kind != providers.KindStatus) {
					t.Fatalf("unclassified error %v", err)
				}
				if pe.API().Status != 400 {
					t.Fatalf("status %d for %v", pe.API().Status, err)
				}
				continue
			}
			out, err := json.Marshal(g)
			if err != nil || !json.Valid(out) {
				t.Fatalf("invalid request JSON: %v", err)
			}
		}
	})
}

// FuzzStream feeds arbitrary bytes as a stream body: decoding must never
// panic or loop, and every failure must be a classified *providers.Error.
func FuzzStream(f *testing.F) {
	addFixtures(f, "*.sse", crlf)
	f.Add([]byte("event: error\ndata: boom\r\r: c\n\ndata:{}"))
	f.Add([]byte("{\"error\":{\"code\":429}}\n\n"))
	f.Add([]byte("data: [{\"error\":{\"code\":503}}]\n\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		s := newStream(context.Background(), "fuzz", "m", io.NopCloser(bytes.NewReader(body)))
		defer s.Close()
		sawFinish := false
		// One event yields at most 3 chunks and consumes at least one byte.
		for i := 0; i <= 3*len(body)+3; i++ {
			c, err := s.Recv()
			if err == io.EOF {
				if !sawFinish {
					t.Fatal("clean end without a finish reason")
				}
				return
			}
			if err != nil {
				var pe *providers.Error
				if !errors.As(err, &pe) || pe.Provider != "fuzz" {
					t.Fatalf("unclassified error %v", err)
				}
				if _, again := s.Recv(); again != err {
					t.Fatalf("error not sticky")
				}
				return
			}
			if c == nil || c.Choices == nil {
				t.Fatal("nil chunk or choices without error")
			}
			for _, ch := range c.Choices {
				if ch.FinishReason != nil {
					sawFinish = true
				}
			}
			if _, err := json.Marshal(c); err != nil {
				t.Fatalf("chunk does not encode: %v", err)
			}
		}
		t.Fatal("more chunks than input allows")
	})
}
