package anthropic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// FuzzDecodeMessagesRequest: any body decodes or fails with a *FieldError;
// what decodes translates to a neutral request (or a *FieldError) that
// encodes, decodes back, and goes through the upstream translation.
func FuzzDecodeMessagesRequest(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "inbound", "*.json"))
	for _, name := range files {
		b, _ := os.ReadFile(name)
		var tc struct {
			Request json.RawMessage `json:"request"`
		}
		_ = json.Unmarshal(b, &tc)
		f.Add([]byte(tc.Request))
	}
	f.Add([]byte(`{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"image","source":{"type":"url","url":"x"}}]}]}],"metadata":{"user_id":"{\"session_id\":1}"}}`))
	f.Add([]byte(`{"model":"m","messages":[{"role":"assistant","content":[{"type":"tool_use","id":"a","name":"b","input":null}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var fe *FieldError
		if c, err := DecodeCountTokensRequest(data); err != nil {
			if !errors.As(err, &fe) {
				t.Fatalf("count_tokens: unclassified error %v", err)
			}
		} else if _, err := c.ToChat(); err != nil && !errors.As(err, &fe) {
			t.Fatalf("count_tokens ToChat: unclassified error %v", err)
		}
		r, err := DecodeMessagesRequest(data)
		if err != nil {
			if !errors.As(err, &fe) || fe.Error() == "" {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		_ = r.SessionID()
		chat, err := r.ToChat()
		if err != nil {
			if !errors.As(err, &fe) {
				t.Fatalf("ToChat: unclassified error %v", err)
			}
			return
		}
		b, err := json.Marshal(chat)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		back, err := schema.DecodeChatRequest(b)
		if err != nil {
			t.Fatalf("neutral request %s does not decode: %v", b, err)
		}
		if _, _, err := translateRequest("fuzz", back, "m", 1024); err != nil {
			var pe *providers.Error
			if !errors.As(err, &pe) || pe.Kind != providers.KindUnsupported {
				t.Fatalf("upstream translation: %v", err)
			}
		}
	})
}

// FuzzStreamEncoder drives the encoder with arbitrary chunk sequences: it
// must never panic, and whatever it writes must follow Anthropic's stream
// grammar (checked by checkSequence), whether the stream ends with Finish or
// with an error event.
func FuzzStreamEncoder(f *testing.F) {
	f.Add([]byte{0, 'a', 1, 'b', 2, 0, 3, 0, 2, 1, 3, 1, 5, 2, 6, 9})
	f.Add([]byte{2, 0, 2, 1, 3, 0, 1, 'x', 0, 'y'})
	f.Add([]byte{4, 4, 4, 7, 7, 5, 0})
	f.Add([]byte{7, 1, 7, 5, 7, 3, 0, 'z', 7, 9, 1, 'q', 2, 0, 5, 2})
	f.Fuzz(func(t *testing.T, ops []byte) {
		enc := NewStreamEncoder("m")
		var out bytes.Buffer
		arg := func(i int) byte {
			if i < len(ops) {
				return ops[i]
			}
			return 0
		}
		broken := false
		for i := 0; i < len(ops) && !broken; i += 2 {
			v := arg(i + 1)
			text := string([]byte{'a' + v%26, v})
			idx := int(v % 4)
			var c *schema.ChatChunk
			switch ops[i] % 8 {
			case 0:
				c = chunk(schema.Delta{Reasoning: &text}, "")
			case 1:
				c = chunk(schema.Delta{Content: &text}, "")
			case 2:
				c = chunk(schema.Delta{ToolCalls: []schema.ToolCall{{Index: &idx, ID: fmt.Sprint("call_", idx), Function: schema.ToolCallFunction{Name: "f", Arguments: text}}}}, "")
			case 3:
				c = chunk(schema.Delta{ToolCalls: []schema.ToolCall{{Index: &idx, Function: schema.ToolCallFunction{Arguments: text}}}}, "")
			case 4:
				c = chunk(schema.Delta{ToolCalls: []schema.ToolCall{{Function: schema.ToolCallFunction{Arguments: text}}}}, "")
			case 5:
				c = chunk(schema.Delta{}, []string{"stop", "length", "tool_calls", "content_filter", "x"}[v%5])
			case 6:
				c = &schema.ChatChunk{Choices: []schema.ChunkChoice{}, Usage: &schema.Usage{PromptTokens: int(v), CompletionTokens: 3,
					PromptTokensDetails: &schema.PromptTokensDetails{CachedTokens: int(v / 2)}}}
			case 7:
				anth := schema.ReasoningFormatAnthropic
				switch v % 4 {
				case 0, 2:
					c = chunk(schema.Delta{Refusal: &text, Role: "assistant"}, "")
				case 1: // a thinking piece of reasoning_details block idx
					c = chunk(schema.Delta{Reasoning: &text, ReasoningDetails: []schema.ReasoningDetail{
						{Type: schema.ReasoningText, Format: anth, Index: idx, Text: text}}}, "")
				case 3: // block idx's signature, then a redacted block
					c = chunk(schema.Delta{ReasoningDetails: []schema.ReasoningDetail{
						{Type: schema.ReasoningText, Format: anth, Index: idx, Signature: "sig" + text},
						{Type: schema.ReasoningEncrypted, Format: anth, Index: idx + 1, Data: "data"}}}, "")
				}
			}
			switch err := enc.WriteChunk(&out, c); err {
			case nil:
			case ErrInterleavedToolCalls:
				broken = true
			default:
				t.Fatalf("WriteChunk: %v", err)
			}
		}
		var err error
		if broken || len(ops)%3 == 0 {
			err = enc.ErrorEvent(&out, "api_error", "boom")
		} else {
			err = enc.Finish(&out, nil)
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := checkSequence(parseEvents(t, out.Bytes())); err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
	})
}
