package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// FuzzValidMatchesEncodingJSON: validJSON accepts exactly what json.Valid
// accepts, and never panics.
func FuzzValidMatchesEncodingJSON(f *testing.F) {
	for _, s := range []string{`{}`, `[]`, `{"a":[1,-2.5e+3,true,false,null,"x\u00e9\n"]}`, `{"a":}`, `01`, `-`, `1.`, `1e`, `"\u12"`,
		"\"\x01\"", `"\x"`, `{"a" 1}`, `[1,]`, `{"a":1,}`, ` "s" `, `nul`, `tru`, `[`, `"abc`, "\"\xff\"", `{"a":"b"}x`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := validJSON(b)
		if want := json.Valid(b); (err == nil) != want {
			t.Fatalf("validJSON(%q) = %v, json.Valid = %v", b, err, want)
		}
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %T %v", err, err)
			}
		}
	})
}

func TestValidJSONDepth(t *testing.T) {
	deep := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	if validJSON([]byte(deep)) == nil {
		t.Fatal("20000 levels accepted")
	}
	ok := strings.Repeat("[", 1000) + strings.Repeat("]", 1000)
	if err := validJSON([]byte(ok)); err != nil {
		t.Fatal(err)
	}
}

// messageKeys lists "messages", the known message and chunk keys, for skipping inputs whose keys
// encoding/json would match case-insensitively (the gateway matches exactly,
// as the upstream APIs do).
var messageKeys = []string{"messages", "role", "content", "name", "tool_calls", "tool_call_id", "refusal", "reasoning", "reasoning_details",
	"type", "text", "image_url", "url", "detail", "input_audio", "file", "cache_control",
	"id", "object", "created", "model", "choices", "usage", "system_fingerprint", "metadata", "error",
	"index", "delta", "finish_reason", "logprobs"}

func foldedKey(b []byte) bool {
	lower := make([]byte, len(b)) // ASCII only, so offsets stay aligned
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	for _, k := range messageKeys {
		for i := 0; ; {
			j := bytes.Index(lower[i:], []byte(`"`+k+`"`))
			if j < 0 {
				break
			}
			if string(b[i+j+1:i+j+1+len(k)]) != k {
				return true
			}
			i += j + 1
		}
	}
	return false
}

// FuzzDecodeMessagesMatchesEncodingJSON: the hand-written message decoder
// agrees with encoding/json (through Content.UnmarshalJSON) on every body
// both accept.
func FuzzDecodeMessagesMatchesEncodingJSON(f *testing.F) {
	for _, s := range []string{
		`{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}],"reasoning_details":[{"type":"reasoning.text","text":"t","signature":"s","index":0}]}]}`,
		`{"messages":[{"role":"user","content":[{"type":"text","text":"a\u00e9"},{"type":"image_url","image_url":{"url":"data:x","detail":"low"}},null,{"type":"input_audio","input_audio":{"data":"AA"}}]}]}`,
		`{"messages":[null,{"role":"tool","tool_call_id":"x","content":"r","refusal":"no","name":null}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if foldedKey(b) {
			return
		}
		var ref struct {
			Messages []Message `json:"messages"`
		}
		refErr := json.Unmarshal(b, &ref)
		r, err := DecodeChatRequest(b)
		if err != nil || refErr != nil {
			return // agreement on errors is not required: ours are field-precise
		}
		got, _ := json.Marshal(r.WithoutSources().Messages)
		want, _ := json.Marshal(ref.Messages)
		if string(got) != string(want) {
			t.Fatalf("decoded\n%s\nencoding/json\n%s", got, want)
		}
	})
}

// TestPassThrough: unchanged messages are forwarded as the client wrote
// them; a changed one, or one with unknown or repeated keys, is re-encoded.
func TestPassThrough(t *testing.T) {
	in := `{"model":"m","messages":[` +
		`{"role":"system","content":"be <terse>"},` +
		`{"role":"user", "content" : "a & b"},` +
		`{"role":"user","content":"x","vendor":1},` +
		`{"role":"user","content":"y","content":"z"},` +
		`{"role":"user","content":[{"type":"text","text":"p <1>"}]},` +
		`{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{\"q\":\"<v>\"}"}}]}]}`
	r, err := DecodeChatRequest([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	out, _ := r.MarshalJSON()
	for _, want := range []string{`{"role":"system","content":"be <terse>"}`, `{"role":"user", "content" : "a & b"}`,
		`{"role":"user","content":[{"type":"text","text":"p <1>"}]}`, `"arguments":"{\"q\":\"<v>\"}"`,
		`{"role":"user","content":"x"}`, `{"role":"user","content":"z"}`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("%s not in\n%s", want, out)
		}
	}
	// Changes in place or by replacement are seen.
	redacted := "be [REDACTED]"
	r.Messages[0].Content.Text = &redacted
	*r.Messages[1].Content.Text = "a and b" // the string header, not its bytes
	r.Messages[4].Content.Parts[0].Text = "p [1]"
	r.Messages[5].ToolCalls[0].Function.Arguments = `{}`
	out, _ = r.MarshalJSON()
	for _, want := range []string{`"content":"be [REDACTED]"`, `"content":"a and b"`, `"text":"p [1]"`, `"arguments":"{}"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("%s not in\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "terse") || strings.Contains(string(out), "<1>") {
		t.Errorf("stale bytes forwarded:\n%s", out)
	}
	// Nested keys count too: a part or a tool call with an unknown or a
	// repeated key is re-encoded (the upstream could read "text" twice
	// differently from the gateway's guardrails).
	nested, err := DecodeChatRequest([]byte(`{"model":"m","messages":[` +
		`{"role":"user","content":[{"type":"text","text":"evil <1>","text":"fine <2>"}]},` +
		`{"role":"user","content":[{"type":"text","text":"a <3>","vendor_part":1}]},` +
		`{"role":"assistant","tool_calls":[{"id":"c","type":"function","x":1,"function":{"name":"f","arguments":"<4>"}}]},` +
		`{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x/<5>","url":"https://y"}}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	out, _ = nested.MarshalJSON()
	for _, stale := range []string{"evil", "<2>", "vendor_part", `"x":1`, "<4>", "https://x"} {
		if strings.Contains(string(out), stale) {
			t.Errorf("%s forwarded as sent:\n%s", stale, out)
		}
	}
	// A copy of the request shares the sources; replacing its messages
	// leaves the original's encoding alone.
	c := *r
	c.Messages = append([]Message(nil), r.Messages[:1]...)
	c.Messages[0].Role = "developer"
	if o, _ := c.MarshalJSON(); !strings.Contains(string(o), `"role":"developer"`) {
		t.Errorf("copy: %s", o)
	}
}

// FuzzDecodeChunkMatchesEncodingJSON: the hand-written chunk decoder agrees
// with encoding/json, and a chunk passed through unchanged decodes to the
// same chunk with the new model.
func FuzzDecodeChunkMatchesEncodingJSON(f *testing.F) {
	for _, s := range []string{
		`{"id":"c1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi \u00e9"},"finish_reason":null,"logprobs":null}]}`,
		`{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"t","type":"function","function":{"name":"f","arguments":"{\""}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}`,
		`{"id":"c","model":"m","choices":[],"usage":null,"system_fingerprint":"fp","service_tier":"default","obfuscation":"x"}`,
		`{"error":{"message":"boom"}}`, `{"model":"a","model":"b","choices":[null]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if foldedKey(b) {
			return
		}
		var ref struct {
			ChatChunk
			Error json.RawMessage `json:"error"`
		}
		refErr := json.Unmarshal(b, &ref)
		ch, errObj, err := DecodeChunk(b)
		if err != nil || refErr != nil {
			return
		}
		if (errObj != nil) != (len(ref.Error) > 0 && string(ref.Error) != "null") {
			t.Fatalf("error member: %q vs %q", errObj, ref.Error)
		}
		got, _ := json.Marshal(ch)
		want, _ := json.Marshal(&ref.ChatChunk)
		if string(got) != string(want) {
			t.Fatalf("decoded\n%s\nencoding/json\n%s", got, want)
		}
		ch.Model = "renamed"
		out, ok := ch.AppendRaw(nil, []byte(`"renamed"`))
		if !ok {
			return
		}
		again, _, err := DecodeChunk(out)
		if err != nil {
			t.Fatalf("passed-through chunk does not decode: %v\n%s", err, out)
		}
		a, _ := json.Marshal(again)
		if string(a) != string(mustJSON(ch)) {
			t.Fatalf("passed through\n%s\ndecodes to\n%s\nnot\n%s", out, a, mustJSON(ch))
		}
	})
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// TestChunkPassThrough: an unchanged chunk is the upstream's bytes with the
// model rewritten; usage, duplicates or any change force re-encoding.
func TestChunkPassThrough(t *testing.T) {
	in := `{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"content":"a<b"},"finish_reason":null}],"service_tier":"default"}`
	ch, _, err := DecodeChunk([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	out, ok := ch.AppendRaw([]byte("data: "), []byte(`"openai/gpt-4o"`))
	want := `data: ` + strings.Replace(in, `"gpt-4o-2024-08-06"`, `"openai/gpt-4o"`, 1)
	if !ok || string(out) != want {
		t.Fatalf("got %v %s\nwant %s", ok, out, want)
	}
	ext, _, _ := DecodeChunk([]byte(`{"id":"c","model":"m","choices":[{"index":0,"delta":{"content":"a","x_ext":1},"x_choice":2}]}`))
	if _, ok := ext.AppendRaw(nil, []byte(`"m"`)); !ok {
		t.Error("an upstream extension key stopped the pass-through")
	}
	*ch.Choices[0].Delta.Content = "changed"
	if _, ok := ch.AppendRaw(nil, []byte(`"m"`)); ok {
		t.Fatal("an in-place change was passed through")
	}
	for _, s := range []string{
		`{"id":"c","model":"m","choices":[],"usage":{"prompt_tokens":1}}`,
		`{"id":"c","model":"m","model":"n","choices":[]}`,
		`{"id":"c","choices":[]}`,
		`{"id":"c","model":"m","choices":[{"index":0,"delta":{"content":"a","content":"b"}}]}`,
	} {
		ch, _, err := DecodeChunk([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		ch.Usage = nil // what the gateway does before encoding
		if _, ok := ch.AppendRaw(nil, []byte(`"m"`)); ok {
			t.Errorf("%s passed through", s)
		}
	}
}
