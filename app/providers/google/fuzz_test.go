package google

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/llmgw/gateway/app/providers"
	"github.com/llmgw/gateway/app/providers/providertest"
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
	addFixtures(f, "*.sse", providertest.CRLF)
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

// FuzzDecodeGenerateRequest feeds arbitrary bodies to the native endpoint's
// decoder and ToChat: no panic, only the documented error types, and a
// neutral request the gateway's own decoder and the Gemini adapter accept.
func FuzzDecodeGenerateRequest(f *testing.F) {
	addFixtures(f, "inbound/*.gemini.json")
	f.Add([]byte(`{"contents":[{"role":"model","parts":[{"functionCall":{"name":"f"}}]},{"parts":[{"function_response":{"name":"f","response":{"content":{"result":"x"}}}}]}]}`))
	f.Add([]byte(`{"contents":[{"parts":[{"text":"a"}]}],"tools":[{"functionDeclarations":[{"name":"f","parameters":{"type":"OBJECT","properties":{"a":{"type":"ARRAY","items":{"any_of":[{"type":"STRING"}]}}}}}]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		g, err := DecodeGenerateRequest(body)
		if err != nil {
			var se *schema.SyntaxError
			var fe *schema.FieldError
			if !errors.As(err, &se) && !errors.As(err, &fe) {
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
			return
		}
		req, err := g.ToChat("m")
		if err != nil {
			var fe *schema.FieldError
			if !errors.As(err, &fe) || fe.Param == "" {
				t.Fatalf("unexpected error %T: %v", err, err)
			}
			return
		}
		b, err := json.Marshal(req)
		if err != nil {
			t.Fatalf("neutral request does not encode: %v", err)
		}
		again, err := schema.DecodeChatRequest(b)
		if err != nil {
			t.Fatalf("neutral request does not decode: %v\n%s", err, b)
		}
		if _, err := buildRequest("fuzz", "gemini-3-pro", again); err != nil {
			var pe *providers.Error
			if !errors.As(err, &pe) {
				t.Fatalf("unclassified error %v", err)
			}
		}
	})
}

// FuzzStreamEncoder encodes arbitrary chunk sequences (a JSON array of
// chat.completion.chunk objects): every event must be one data line of
// valid JSON, the stream must end with a finishReason, and the adapter must
// read it back with the same text.
func FuzzStreamEncoder(f *testing.F) {
	names, _ := filepath.Glob(filepath.Join("testdata", "*.sse"))
	for _, n := range names {
		body, _ := os.ReadFile(n)
		chunks, _ := chunksOfFuzz(body)
		if b, err := json.Marshal(chunks); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`[{"id":"x","choices":[{"index":3,"delta":{"tool_calls":[{"index":7,"function":{"arguments":"{"}}]}}]},{"choices":[{"index":-1,"delta":{"content":"\u2028"},"finish_reason":"stop"}]}]`))
	f.Fuzz(func(t *testing.T, in []byte) {
		var chunks []*schema.ChatChunk
		if json.Unmarshal(in, &chunks) != nil {
			return
		}
		var buf bytes.Buffer
		var enc StreamEncoder
		var text strings.Builder
		for _, c := range chunks {
			if err := enc.WriteChunk(&buf, c); err != nil {
				t.Fatal(err)
			}
			if c == nil {
				continue
			}
			for _, ch := range c.Choices {
				if ch.Index == 0 && ch.Delta.Content != nil {
					text.WriteString(*ch.Delta.Content)
				}
				if ch.Index == 0 && ch.Delta.Refusal != nil {
					text.WriteString(*ch.Delta.Refusal)
				}
			}
		}
		if err := enc.Finish(&buf, nil); err != nil {
			t.Fatal(err)
		}
		body := buf.Bytes()
		for _, ev := range bytes.Split(bytes.TrimSuffix(body, []byte("\n\n")), []byte("\n\n")) {
			data, ok := bytes.CutPrefix(ev, []byte("data: "))
			if !ok || bytes.IndexByte(data, '\n') >= 0 || !json.Valid(data) {
				t.Fatalf("bad event %q", ev)
			}
		}
		out, err := chunksOfFuzz(body)
		if err != io.EOF {
			t.Fatalf("re-read: %v\n%s", err, body)
		}
		var got strings.Builder
		for _, c := range out {
			for _, ch := range c.Choices {
				if ch.Index == 0 && ch.Delta.Content != nil {
					got.WriteString(*ch.Delta.Content)
				}
			}
		}
		if utf8.ValidString(text.String()) && got.String() != text.String() {
			t.Fatalf("text %q came back as %q", text.String(), got.String())
		}
	})
}

func chunksOfFuzz(body []byte) ([]*schema.ChatChunk, error) {
	s := newStream(context.Background(), "fuzz", "m", io.NopCloser(bytes.NewReader(body)))
	defer s.Close()
	return providertest.ReadStream(s)
}
