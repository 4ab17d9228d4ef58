package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

func TestDecodeKeepsUnknownFields(t *testing.T) {
	in := `{"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"text","text":"hi"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AA=="}}]}],
		"temperature":0,"stop":["x"],"vendor_flag":{"a":[1,2]},"prediction":{"type":"content","content":"y"}}`
	r, err := DecodeChatRequest([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if r.Temperature == nil || *r.Temperature != 0 || len(r.Messages[0].Content.Parts) != 2 || string(r.Stop) != `["x"]` {
		t.Fatalf("decoded %+v", r)
	}
	out, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var a, b map[string]any
	_ = json.Unmarshal([]byte(in), &a)
	_ = json.Unmarshal(out, &b)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("round trip changed the request:\n in  %s\n out %s", in, out)
	}
}

func TestDecodeErrors(t *testing.T) {
	var se *SyntaxError
	for _, in := range []string{``, `[]`, `"x"`, `{"model":`, `{} trailing`} {
		if _, err := DecodeChatRequest([]byte(in)); !errors.As(err, &se) {
			t.Errorf("%q: err = %v, want a syntax error", in, err)
		}
	}
	var fe *FieldError
	for in, param := range map[string]string{
		`{"model":5}`:       "model",
		`{"messages":"hi"}`: "messages",
		`{"messages":[{"role":"user","content":5}]}`: "messages",
		`{"temperature":"hot"}`:                      "temperature",
		`{"stream":"yes"}`:                           "stream",
	} {
		if _, err := DecodeChatRequest([]byte(in)); !errors.As(err, &fe) || fe.Param != param {
			t.Errorf("%s: err = %v, want field error on %s", in, err, param)
		}
	}
}

// FuzzDecodeChatRequest: no input panics, and whatever decodes re-encodes to
// something that decodes to the same request.
func FuzzDecodeChatRequest(f *testing.F) {
	for _, s := range []string{
		`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`,
		`{"model":"m","messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]}],"tools":[{"type":"function","function":{"name":"f","parameters":{}}}]}`,
		`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a"}]}],"x":1,"stop":"s","n":2}`,
		`{}`, `[]`, `null`, `{"messages":[null]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeChatRequest(data)
		if err != nil {
			return
		}
		out, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("re-encode failed: %v", err)
		}
		r2, err := DecodeChatRequest(out)
		if err != nil {
			t.Fatalf("re-decode of %s failed: %v", out, err)
		}
		out2, _ := json.Marshal(r2)
		if !bytes.Equal(out, out2) {
			t.Fatalf("not stable:\n%s\n%s", out, out2)
		}
	})
}

func FuzzDecodeEmbeddingRequest(f *testing.F) {
	f.Add([]byte(`{"model":"text-embedding-3-small","input":["a","b"],"encoding_format":"base64"}`))
	f.Add([]byte(`{"input":[[1,2,3]]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r EmbeddingRequest
		if r.UnmarshalJSON(data) != nil {
			return
		}
		if _, err := json.Marshal(r); err != nil {
			t.Fatalf("re-encode failed: %v", err)
		}
		_ = r.InputTexts()
	})
}
