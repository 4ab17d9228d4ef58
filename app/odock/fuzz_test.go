package odock

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/llmgw/gateway/app/schema"
)

// FuzzDecodeToChat: DecodeRequest and ToChat never panic and only return
// *FieldError; an accepted request gives a ChatRequest that marshals to
// valid JSON the gateway's own decoder reads back; and the decoded Request,
// marshalled in Odock's shape, decodes to the same ChatRequest.
func FuzzDecodeToChat(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "requests", "*.json"))
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil && !bytes.Contains([]byte(name), []byte(".golden.")) {
			f.Add(b)
		}
	}
	for _, s := range []string{
		`{"model":"m","messages":[{"role":"user","content":[{"type":"image","url":"https://x"}]}],"top_k":3}`,
		`{"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"a","name":"f","arguments":{"x":[1,2]}}]},{"role":"tool","tool_call_id":"a","content":"ok"}]}`,
		`{"model":"m","messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"a","content":[{"type":"text","text":"r"}],"is_error":true}]}]}`,
		`{"model":"m","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","name":"n","schema":{},"strict":false,"description":"d"}}`,
		`{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"name":"f"}],"tool_choice":{"type":"function","function":{"name":"f"}}}`,
		`{"model":"m","messages":[{"role":"user","content":"x"}],"seed":1e300,"max_tokens":1e2,"temperature":-0}`,
		`{"model":"m","messages":[{"role":"user","content":"\ud800"}],"metadata":{"k":"\u0000"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := DecodeRequest(body)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || r != nil {
				t.Fatalf("DecodeRequest: %T %v (request %v)", err, err, r)
			}
			return
		}
		req, err := ToChat(r)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("ToChat: %T %v", err, err)
			}
			return
		}
		out, err := json.Marshal(req)
		if err != nil {
			t.Fatalf("ChatRequest does not marshal: %v", err)
		}
		if !json.Valid(out) {
			t.Fatalf("ChatRequest marshals to invalid JSON: %s", out)
		}
		if _, err := schema.DecodeChatRequest(out); err != nil {
			t.Fatalf("the gateway cannot read the ChatRequest back: %v\n%s", err, out)
		}
		// Request -> Odock JSON -> Request -> ChatRequest is stable.
		again, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("Request does not marshal: %v", err)
		}
		r2, err := DecodeRequest(again)
		if err != nil {
			t.Fatalf("re-decoding the Request: %v\n%s", err, again)
		}
		req2, err := ToChat(r2)
		if err != nil {
			t.Fatalf("ToChat of the re-decoded Request: %v", err)
		}
		if out2, _ := json.Marshal(req2); !bytes.Equal(out, out2) {
			t.Fatalf("not stable:\n%s\n%s", out, out2)
		}
	})
}

// FuzzFromChat: any ChatResponse the gateway can decode gives a response
// that marshals, and streaming its message gives the same response.
func FuzzFromChat(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "responses", "*.chat.json"))
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b, "openai")
		}
	}
	f.Fuzz(func(t *testing.T, body []byte, provider string) {
		var resp schema.ChatResponse
		if json.Unmarshal(body, &resp) != nil {
			return
		}
		out := FromChat(&resp, provider)
		if _, err := json.Marshal(out); err != nil {
			t.Fatalf("Response does not marshal: %v", err)
		}
		if len(resp.Choices) != 1 || resp.Choices[0].Index != 0 {
			return
		}
		// Stream the same message in one chunk.
		m := resp.Choices[0].Message
		if m.Content.Parts != nil || (m.Refusal != nil && m.Content.String() != "") {
			return // parts and text-plus-refusal stream differently by design
		}
		var calls []schema.ToolCall
		for i, tc := range m.ToolCalls {
			if tc.ID == "" || tc.Function.Name == "" {
				return // the stream cannot tell such a call from a continuation
			}
			calls = append(calls, schema.ToolCall{Index: ptr(i), ID: tc.ID, Function: tc.Function})
		}
		d := schema.Delta{Content: m.Content.Text, ToolCalls: calls, Refusal: m.Refusal}
		if m.Reasoning != "" {
			d.Reasoning = &m.Reasoning
		}
		var w bytes.Buffer
		enc := NewStreamEncoder(resp.Model, provider)
		if err := enc.Chunk(&w, &schema.ChatChunk{ID: resp.ID, Model: resp.Model, Choices: []schema.ChunkChoice{{Delta: d, FinishReason: &resp.Choices[0].FinishReason}}}); err != nil {
			t.Fatal(err)
		}
		if err := enc.Finish(&w, resp.ID, 0, resp.Usage); err != nil {
			t.Fatal(err)
		}
		if got, want := mustJSON(t, enc.Response(resp.ID)), mustJSON(t, out); got != want {
			t.Fatalf("stream and FromChat differ:\n%s\n%s", got, want)
		}
	})
}
