package openai

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmgw/gateway/app/schema"
)

var neutralRoles = map[string]bool{"system": true, "developer": true, "user": true, "assistant": true, "tool": true}

// FuzzDecodeResponsesRequest: any body is decoded without panicking; every
// failure is a *schema.SyntaxError or a *schema.FieldError naming a field;
// every success translates to a neutral request that is valid JSON, decodes
// back, and has messages the chat pipeline accepts.
func FuzzDecodeResponsesRequest(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "responses", "request_*.json"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		var tc struct {
			Request json.RawMessage `json:"request"`
		}
		if err := json.Unmarshal(b, &tc); err != nil {
			f.Fatal(err)
		}
		f.Add([]byte(tc.Request))
	}
	var refusals struct {
		Cases []struct {
			Request json.RawMessage `json:"request"`
		} `json:"cases"`
	}
	b, _ := os.ReadFile(filepath.Join("testdata", "responses", "refusals.json"))
	if err := json.Unmarshal(b, &refusals); err != nil {
		f.Fatal(err)
	}
	for _, c := range refusals.Cases {
		if c.Request != nil {
			f.Add([]byte(c.Request))
		}
	}
	f.Add([]byte(`{"model":"m","input":[{"role":"user","content":[]},{"type":"function_call","call_id":"c","name":"n","arguments":" "}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := DecodeResponsesRequest(body)
		if err == nil {
			var chat *schema.ChatRequest
			if chat, err = r.ToChat(); err == nil {
				checkNeutral(t, chat)
				return
			}
		}
		var fe *schema.FieldError
		var se *schema.SyntaxError
		switch {
		case errors.As(err, &fe):
			if fe.Param == "" || fe.Msg == "" {
				t.Fatalf("field error without param or message: %+v", fe)
			}
		case errors.As(err, &se):
		default:
			t.Fatalf("unclassified error %T %v", err, err)
		}
	})
}

func checkNeutral(t *testing.T, chat *schema.ChatRequest) {
	t.Helper()
	out, err := json.Marshal(chat)
	if err != nil {
		t.Fatalf("neutral request does not marshal: %v", err)
	}
	again, err := schema.DecodeChatRequest(out)
	if err != nil {
		t.Fatalf("neutral request does not decode: %v\n%s", err, out)
	}
	if chat.Model == "" || len(again.Messages) == 0 {
		t.Fatalf("no model or messages: %s", out)
	}
	for i, m := range again.Messages {
		if !neutralRoles[m.Role] {
			t.Fatalf("message %d: role %q", i, m.Role)
		}
		if m.Role == "tool" && m.ToolCallID == "" {
			t.Fatalf("message %d: tool message without tool_call_id", i)
		}
		if m.Content.IsNull() && m.Role != "assistant" {
			t.Fatalf("message %d: %s without content", i, m.Role)
		}
		for _, tc := range m.ToolCalls {
			if tc.ID == "" || tc.Function.Name == "" || strings.TrimSpace(tc.Function.Arguments) == "" {
				t.Fatalf("message %d: tool call %+v", i, tc)
			}
		}
	}
	for i, tl := range again.Tools {
		if tl.Type != "function" || tl.Function.Name == "" {
			t.Fatalf("tool %d: %+v", i, tl)
		}
	}
}

// fuzzChunks turns bytes into a chunk sequence: each byte picks an operation,
// the following bytes feed it.
func fuzzChunks(data []byte) []*schema.ChatChunk {
	var out []*schema.ChatChunk
	take := func(n int) string {
		n = min(n, len(data))
		s := strings.ToValidUTF8(string(data[:n]), "?") // JSON-decoded chunks are valid UTF-8
		data = data[n:]
		return s
	}
	finishes := []string{"stop", "length", "tool_calls", "content_filter", ""}
	for len(data) > 0 {
		op := data[0]
		data = data[1:]
		arg := 0
		if len(data) > 0 {
			arg = int(data[0])
		}
		switch op % 9 {
		case 0:
			out = append(out, textChunk(take(arg%5)))
		case 1:
			out = append(out, deltaChunk(schema.Delta{Reasoning: sp(take(arg % 4))}, ""))
		case 2:
			out = append(out, deltaChunk(schema.Delta{Refusal: sp(take(arg % 4))}, ""))
		case 3: // a new indexed call
			idx := arg % 3
			take(1)
			out = append(out, deltaChunk(toolDelta(ip(idx), "call_"+take(2), "fn", take(2)), ""))
		case 4: // arguments of an indexed call
			idx := arg % 3
			take(1)
			out = append(out, deltaChunk(toolDelta(ip(idx), "", "", take(3)), ""))
		case 5: // calls without index
			take(1)
			if arg%2 == 0 {
				out = append(out, deltaChunk(toolDelta(nil, "", "g", take(2)), ""))
			} else {
				out = append(out, deltaChunk(toolDelta(nil, "", "", take(2)), ""))
			}
		case 6:
			take(1)
			out = append(out, deltaChunk(schema.Delta{}, finishes[arg%len(finishes)]))
		case 7:
			take(1)
			out = append(out, &schema.ChatChunk{ID: take(arg % 3), Choices: []schema.ChunkChoice{}, Usage: &schema.Usage{PromptTokens: arg, CompletionTokens: 1}})
		case 8:
			out = append(out, &schema.ChatChunk{ID: "x", Choices: []schema.ChunkChoice{{Index: 1, Delta: schema.Delta{Content: sp("other choice")}}}})
		}
	}
	return out
}

// FuzzResponsesStreamEncoder: any chunk sequence, ended by Finish or by
// ErrorEvent (also when the encoder refuses a chunk), gives a stream that
// follows the protocol and that the official SDK reads (see checkStream).
func FuzzResponsesStreamEncoder(f *testing.F) {
	f.Add([]byte{0, 3, 'a', 'b', 'c'}, false)
	f.Add([]byte{1, 3, 'h', 'm', 'm', 0, 2, 'o', 'k', 2, 1, 'n', 3, 0, 'x', 'i', 'd', '{', '}', 4, 0, 'x', '"', 'a', '"', 6, 2}, false)
	f.Add([]byte{3, 0, 'x', 'a', 'b', '{', '"', 3, 1, 'x', 'c', 'd', '{', '}', 4, 0, 'x', '1', '}'}, false)
	f.Add([]byte{7, 5, 'x', 0, 4, 'a', 'b', 'c', 'd', 6, 1, 8}, true)
	f.Add([]byte{5, 0, 'x', '{', '}', 5, 1, 'x', 'z', 6, 2}, false)
	f.Fuzz(func(t *testing.T, data []byte, fail bool) {
		var buf bytes.Buffer
		e := NewResponsesStreamEncoder("alias")
		for _, c := range fuzzChunks(data) {
			if err := e.WriteChunk(&buf, c); err != nil {
				if !errors.Is(err, ErrResponsesInterleavedToolCalls) {
					t.Fatalf("WriteChunk: %v", err)
				}
				fail = true
				break
			}
		}
		var err error
		if fail {
			err = e.ErrorEvent(&buf, 502, "broken")
		} else {
			err = e.Finish(&buf, nil)
		}
		if err != nil {
			t.Fatal(err)
		}
		cs, problems := checkStream(buf.Bytes())
		if len(problems) > 0 {
			t.Fatalf("%s\nstream:\n%s", strings.Join(problems, "\n"), buf.String())
		}
		if want := map[bool]string{true: "response.failed", false: ""}[fail]; fail && cs.terminal != want || !fail && cs.terminal == "response.failed" || cs.terminal == "" {
			t.Fatalf("terminal %q (fail %v)", cs.terminal, fail)
		}
	})
}
