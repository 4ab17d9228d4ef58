package anthropic

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

func addFixtures(f *testing.F, pattern string) {
	files, _ := filepath.Glob(filepath.Join("testdata", pattern))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzTranslateRequest: any decodable chat request translates without
// panicking, to valid JSON with alternating turns, or fails with a
// KindUnsupported error naming a parameter.
func FuzzTranslateRequest(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "translate", "*.json"))
	for _, name := range files {
		b, _ := os.ReadFile(name)
		var tc struct {
			Request json.RawMessage `json:"request"`
		}
		_ = json.Unmarshal(b, &tc)
		f.Add([]byte(tc.Request))
	}
	f.Add([]byte(`{"messages":[{"role":"tool","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,"}}]},{"role":"user","content":null}],"reasoning":{"max_tokens":-5}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := schema.DecodeChatRequest(data)
		if err != nil {
			return
		}
		out, pl, err := translateRequest("fuzz", req, "m", 4096)
		if err != nil {
			var pe *providers.Error
			if !errors.As(err, &pe) || pe.Kind != providers.KindUnsupported || pe.Param == "" || pe.Message == "" {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if pl == nil {
			t.Fatal("nil plan")
		}
		b, err := json.Marshal(out)
		if err != nil || !json.Valid(b) {
			t.Fatalf("marshal: %v", err)
		}
		for i := 1; i < len(out.Messages); i++ {
			if out.Messages[i].Role == out.Messages[i-1].Role {
				t.Fatalf("turns %d and %d share role %s", i-1, i, out.Messages[i].Role)
			}
		}
		for _, m := range out.Messages {
			seenOther := false
			for _, b := range m.Content.Blocks {
				if b.Type == "text" && b.Text == "" {
					t.Fatal("empty text block")
				}
				if b.Type == "tool_result" && seenOther {
					t.Fatal("tool_result after other blocks")
				}
				seenOther = seenOther || b.Type != "tool_result"
			}
		}
		if out.MaxTokens <= 0 {
			t.Fatalf("max_tokens %d", out.MaxTokens)
		}
		if out.Thinking != nil && (out.MaxTokens <= out.Thinking.BudgetTokens || out.Thinking.BudgetTokens < minThinkingBudget || out.Temperature != nil) {
			t.Fatalf("thinking %+v with max_tokens %d", out.Thinking, out.MaxTokens)
		}
	})
}

// FuzzStream feeds arbitrary bytes as an Anthropic event stream: decoding must
// never panic or loop, every failure must be a classified *providers.Error,
// and a clean end only comes after message_stop.
func FuzzStream(f *testing.F) {
	addFixtures(f, "*.sse")
	f.Add([]byte("event: error\ndata: boom\r\r: c\n\ndata: {\"type\":\"message_stop\"}"))
	f.Add([]byte("data: {\"type\":\"message_start\",\"message\":{}}\n\ndata: {\"type\":\"message_stop\"}\n\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, pl := range []*plan{{}, {jsonTool: "city_info", excludeReasoning: true}} {
			s := newStream(context.Background(), "fuzz", io.NopCloser(bytes.NewReader(body)), pl)
			ok := false
			// Every event consumes input; message_stop adds at most two chunks.
			for i := 0; i <= len(body)+3; i++ {
				c, err := s.Recv()
				if err == io.EOF {
					if !bytes.Contains(body, []byte("message_stop")) {
						t.Fatal("clean end without message_stop")
					}
					ok = true
					break
				}
				if err != nil {
					var pe *providers.Error
					if !errors.As(err, &pe) || pe.Provider != "fuzz" {
						t.Fatalf("unclassified error %v", err)
					}
					if _, again := s.Recv(); again != err {
						t.Fatal("error not sticky")
					}
					ok = true
					break
				}
				if c == nil {
					t.Fatal("nil chunk without error")
				}
				if _, err := json.Marshal(c); err != nil {
					t.Fatal(err)
				}
			}
			if !ok {
				t.Fatal("more chunks than input bytes")
			}
			s.Close()
		}
	})
}
