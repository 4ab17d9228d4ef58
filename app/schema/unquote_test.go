package schema

import (
	"encoding/json"
	"testing"
)

func FuzzUnquoteMatchesEncodingJSON(f *testing.F) {
	for _, s := range []string{`"plain"`, `"a\nb\t\"c\"\\d\/e"`, `"\u00e9\u4e2d\ud83d\ude00"`, `"\ud800"`, `"é中😀"`, "\"\xff\"", `"\u12"`, `"a\qb"`, `""`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var want string
		if json.Unmarshal(b, &want) != nil {
			return // only valid literals reach unquote
		}
		got, err := unquote(b)
		if err != nil || got != want {
			t.Fatalf("unquote(%q) = %q, %v; encoding/json: %q", b, got, err, want)
		}
	})
}

// FuzzMarshalMatchesEncodingJSON: without its message sources, the spliced
// encoding of a request is byte-for-byte what encoding/json makes of it; with
// them (messages passed through as sent), it decodes to the same request.
func FuzzMarshalMatchesEncodingJSON(f *testing.F) {
	f.Add([]byte(`{"model":"gpt-4o","messages":[{"role":"user","content":"hi <b> & \"q\" \u2028"},{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"user","content":[{"type":"text","text":"x"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}],"temperature":0.5,"x_extra":{"a":1}}`))
	f.Add([]byte(`{"model":"\"messages\":null","messages":[{"role":"\"content\":null","content":"\"content\":null"}]}`))
	f.Add([]byte(`{"messages":[{"role":"user","content":"a","role":"system"},{"role":"user","x":1,"content":"b"}, null, {"role":"tool","tool_call_id":"t","content":[null,{"type":"text","text":"c"}]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r ChatRequest
		if json.Unmarshal(b, &r) != nil {
			return
		}
		type plain ChatRequest
		bare := r.WithoutSources()
		got, err := bare.MarshalJSON()
		if err != nil {
			return
		}
		want, err := json.Marshal(plain(bare))
		if err != nil {
			t.Fatalf("encoding/json failed where MarshalJSON did not: %v", err)
		}
		if len(r.Extra) > 0 {
			want = appendExtra(want[:len(want)-1], r.Extra)
		}
		if string(got) != string(want) {
			t.Fatalf("MarshalJSON\n%s\nencoding/json\n%s", got, want)
		}
		through, err := r.MarshalJSON()
		if err != nil {
			t.Fatalf("with sources: %v", err)
		}
		var r2 ChatRequest
		if err := json.Unmarshal(through, &r2); err != nil {
			t.Fatalf("passed-through encoding does not decode: %v\n%s", err, through)
		}
		again, _ := r2.WithoutSources().MarshalJSON()
		if string(again) != string(got) {
			t.Fatalf("passed through\n%s\ndecodes to\n%s\nnot\n%s", through, again, got)
		}
	})
}
