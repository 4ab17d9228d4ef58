package respcache

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/llmgw/gateway/app/schema"
)

// fullBody sets every field of schema.ChatRequest (and of its nested types).
const fullBody = `{"model":"openai/gpt-4o","messages":[
 {"role":"system","content":"You are terse."},
 {"role":"user","content":[
   {"type":"text","text":"look","cache_control":{"type":"ephemeral"}},
   {"type":"image_url","image_url":{"url":"https://x.test/y.png","detail":"low"}},
   {"type":"input_audio","input_audio":{"data":"AAA","format":"wav"}},
   {"type":"file","file":{"file_id":"f1"}}]},
 {"role":"assistant","content":null,"name":"bot","tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get","arguments":"{\"q\":1}"}}],"refusal":"no","reasoning":"think"},
 {"role":"tool","tool_call_id":"call_1","content":"42"}],
 "stream":true,"stream_options":{"include_usage":true},"user":"u1",
 "max_tokens":100,"max_completion_tokens":200,"temperature":0.5,"top_p":0.9,"n":2,"stop":["\n"],"seed":7,
 "presence_penalty":0.1,"frequency_penalty":0.2,"logit_bias":{"50256":-100},"logprobs":false,"top_logprobs":0,
 "tools":[{"type":"function","function":{"name":"get","description":"Get it","parameters":{"type":"object","properties":{"q":{"type":"integer"}}},"strict":true}}],
 "tool_choice":"auto","parallel_tool_calls":true,"response_format":{"type":"json_object"},
 "reasoning_effort":"low","reasoning":{"effort":"low"},
 "web_search":{"enabled":true},"metadata":{"a":"b"},"routing":"price","prompt_cache_key":"pk","session_id":"s1"}`

func decode(t testing.TB, body string) *schema.ChatRequest {
	t.Helper()
	r, err := schema.DecodeChatRequest([]byte(body))
	if err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return r
}

func TestKeyFormat(t *testing.T) {
	k := Key("proj_1", decode(t, fullBody))
	if len(k) != 64 || strings.Trim(k, "0123456789abcdef") != "" {
		t.Fatalf("not a hex SHA-256: %q", k)
	}
	for i := 0; i < 3; i++ {
		if Key("proj_1", decode(t, fullBody)) != k {
			t.Fatal("unstable key")
		}
	}
	if Key("p", nil) != Key("p", &schema.ChatRequest{}) {
		t.Fatal("nil request")
	}
}

// Requests that differ only in form hash the same.
func TestKeyCanonical(t *testing.T) {
	same := [][2]string{
		{`{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":1}`,
			`{ "temperature" : 1.0, "messages" : [ { "content" : "hi", "role" : "user" } ], "model" : "m" }`},
		{`{"model":"m","messages":[],"response_format":{"type":"json_schema","json_schema":{"a":1,"b":[1,{"x":true,"y":null}]}}}`,
			`{"model":"m","messages":[],"response_format":{"json_schema":{"b":[1,{"y":null,"x":true}],"a":1},"type":"json_schema"}}`},
		{`{"model":"m","messages":[],"x_b":{"a":1,"b":2},"x_a":"s"}`, `{"x_a":"s","messages":[],"x_b":{"b":2,"a":1},"model":"m"}`},
		{`{"model":"m","messages":[],"x":"\u0061\n<"}`, `{"model":"m","messages":[],"x":"a\u000a\u003c"}`},
		{`{"model":"m","messages":[],"x":{"a":1,"a":2}}`, `{"model":"m","messages":[],"x":{"a":2}}`},
		{`{"model":"m","messages":[],"stop":null,"tool_choice":null}`, `{"model":"m","messages":[]}`},
		{`{"model":"m","messages":[],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","required":["a"]}}}]}`,
			`{"model":"m","messages":[],"tools":[{"function":{"parameters":{"required":["a"],"type":"object"},"name":"f"},"type":"function"}]}`},
		{`{"model":"m","messages":[],"temperature":0}`, `{"model":"m","messages":[],"temperature":-0.0}`},
	}
	for _, p := range same {
		if a, b := Key("p", decode(t, p[0])), Key("p", decode(t, p[1])); a != b {
			t.Errorf("should hash the same:\n%s\n%s", p[0], p[1])
		}
	}
}

// Transport-only fields do not change the key: a streamed and a non-streamed
// request share one entry.
func TestKeyExclusions(t *testing.T) {
	base := Key("p", decode(t, `{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	for _, extra := range []string{`"stream":true`, `"stream":false`, `"stream_options":{"include_usage":true}`,
		`"user":"alice"`, `"metadata":{"k":"v"}`, `"routing":"price"`, `"prompt_cache_key":"abc"`, `"session_id":"s"`,
		`"stream":true,"stream_options":{"include_usage":false},"user":"bob","metadata":null,"session_id":"x"`} {
		body := `{"model":"m","messages":[{"role":"user","content":"hi"}],` + extra + `}`
		if Key("p", decode(t, body)) != base {
			t.Errorf("%s changed the key", extra)
		}
	}
	for _, n := range []string{"metadata", "routing", "prompt_cache_key", "session_id"} {
		if !ExcludedExtra(n) {
			t.Errorf("%s not excluded", n)
		}
	}
	if ExcludedExtra("web_search") {
		t.Error("web_search excluded")
	}
}

// keyMutations change one included field each, named "<json field>.<what>".
var keyMutations = []struct {
	name string
	mut  func(r *schema.ChatRequest)
}{
	{"model", func(r *schema.ChatRequest) { r.Model = "openai/gpt-4o-mini" }},
	{"messages.count", func(r *schema.ChatRequest) { r.Messages = r.Messages[:3] }},
	{"messages.order", func(r *schema.ChatRequest) { r.Messages[0], r.Messages[3] = r.Messages[3], r.Messages[0] }},
	{"messages.role", func(r *schema.ChatRequest) { r.Messages[0].Role = "developer" }},
	{"messages.text", func(r *schema.ChatRequest) { r.Messages[0].Content = schema.TextContent("You are verbose.") }},
	{"messages.text-as-part", func(r *schema.ChatRequest) {
		r.Messages[0].Content = schema.Content{Parts: []schema.ContentPart{{Type: "text", Text: "You are terse."}}}
	}},
	{"messages.null-content", func(r *schema.ChatRequest) { r.Messages[0].Content = schema.Content{} }},
	{"messages.empty-content", func(r *schema.ChatRequest) { r.Messages[0].Content = schema.TextContent("") }},
	{"messages.content-to-null", func(r *schema.ChatRequest) { r.Messages[2].Content = schema.TextContent("") }},
	{"messages.part-type", func(r *schema.ChatRequest) { r.Messages[1].Content.Parts[0].Type = "input_text" }},
	{"messages.part-text", func(r *schema.ChatRequest) { r.Messages[1].Content.Parts[0].Text = "see" }},
	{"messages.part-cache-control", func(r *schema.ChatRequest) { r.Messages[1].Content.Parts[0].CacheControl = nil }},
	{"messages.image-url", func(r *schema.ChatRequest) { r.Messages[1].Content.Parts[1].ImageURL.URL = "https://x.test/z.png" }},
	{"messages.image-detail", func(r *schema.ChatRequest) { r.Messages[1].Content.Parts[1].ImageURL.Detail = "high" }},
	{"messages.image-nil", func(r *schema.ChatRequest) { r.Messages[1].Content.Parts[1].ImageURL = nil }},
	{"messages.input-audio", func(r *schema.ChatRequest) {
		r.Messages[1].Content.Parts[2].InputAudio = json.RawMessage(`{"data":"AAB","format":"wav"}`)
	}},
	{"messages.file", func(r *schema.ChatRequest) { r.Messages[1].Content.Parts[3].File = json.RawMessage(`{"file_id":"f2"}`) }},
	{"messages.name", func(r *schema.ChatRequest) { r.Messages[2].Name = "bot2" }},
	{"messages.tool-call-index", func(r *schema.ChatRequest) { r.Messages[2].ToolCalls[0].Index = nil }},
	{"messages.tool-call-id", func(r *schema.ChatRequest) { r.Messages[2].ToolCalls[0].ID = "call_2" }},
	{"messages.tool-call-type", func(r *schema.ChatRequest) { r.Messages[2].ToolCalls[0].Type = "custom" }},
	{"messages.tool-call-name", func(r *schema.ChatRequest) { r.Messages[2].ToolCalls[0].Function.Name = "put" }},
	{"messages.tool-call-args", func(r *schema.ChatRequest) { r.Messages[2].ToolCalls[0].Function.Arguments = `{"q":2}` }},
	{"messages.tool-calls-none", func(r *schema.ChatRequest) { r.Messages[2].ToolCalls = nil }},
	{"messages.tool_call_id", func(r *schema.ChatRequest) { r.Messages[3].ToolCallID = "call_9" }},
	{"messages.refusal", func(r *schema.ChatRequest) { r.Messages[2].Refusal = ptr("nope") }},
	{"messages.refusal-nil", func(r *schema.ChatRequest) { r.Messages[2].Refusal = nil }},
	{"messages.reasoning", func(r *schema.ChatRequest) { r.Messages[2].Reasoning = "thought" }},
	{"messages.reasoning_details", func(r *schema.ChatRequest) {
		r.Messages[2].ReasoningDetails = []schema.ReasoningDetail{{Type: schema.ReasoningText, Text: "thought", Signature: "sig"}}
	}},
	{"messages.reasoning_details.signature", func(r *schema.ChatRequest) {
		r.Messages[2].ReasoningDetails = []schema.ReasoningDetail{{Type: schema.ReasoningText, Text: "thought", Signature: "other"}}
	}},
	{"max_tokens", func(r *schema.ChatRequest) { r.MaxTokens = ptr(101) }},
	{"max_tokens.nil", func(r *schema.ChatRequest) { r.MaxTokens = nil }},
	{"max_completion_tokens", func(r *schema.ChatRequest) { r.MaxCompletionTokens = ptr(201) }},
	{"temperature", func(r *schema.ChatRequest) { r.Temperature = ptr(0.6) }},
	{"temperature.nil", func(r *schema.ChatRequest) { r.Temperature = nil }},
	{"top_p", func(r *schema.ChatRequest) { r.TopP = ptr(0.8) }},
	{"n", func(r *schema.ChatRequest) { r.N = ptr(3) }},
	{"stop", func(r *schema.ChatRequest) { r.Stop = json.RawMessage(`["\n\n"]`) }},
	{"stop.string", func(r *schema.ChatRequest) { r.Stop = json.RawMessage(`"\n"`) }},
	{"seed", func(r *schema.ChatRequest) { r.Seed = ptr(int64(8)) }},
	{"presence_penalty", func(r *schema.ChatRequest) { r.PresencePenalty = ptr(0.3) }},
	{"frequency_penalty", func(r *schema.ChatRequest) { r.FrequencyPenalty = ptr(0.4) }},
	{"logit_bias", func(r *schema.ChatRequest) { r.LogitBias = json.RawMessage(`{"50256":-99}`) }},
	{"logprobs", func(r *schema.ChatRequest) { r.Logprobs = ptr(true) }},
	{"logprobs.nil", func(r *schema.ChatRequest) { r.Logprobs = nil }},
	{"top_logprobs", func(r *schema.ChatRequest) { r.TopLogprobs = ptr(3) }},
	{"tools.type", func(r *schema.ChatRequest) { r.Tools[0].Type = "custom" }},
	{"tools.name", func(r *schema.ChatRequest) { r.Tools[0].Function.Name = "fetch" }},
	{"tools.description", func(r *schema.ChatRequest) { r.Tools[0].Function.Description = "Get that" }},
	{"tools.parameters", func(r *schema.ChatRequest) {
		r.Tools[0].Function.Parameters = json.RawMessage(`{"type":"object","properties":{"q":{"type":"string"}}}`)
	}},
	{"tools.strict", func(r *schema.ChatRequest) { r.Tools[0].Function.Strict = ptr(false) }},
	{"tools.none", func(r *schema.ChatRequest) { r.Tools = nil }},
	{"tool_choice", func(r *schema.ChatRequest) { r.ToolChoice = json.RawMessage(`"required"`) }},
	{"parallel_tool_calls", func(r *schema.ChatRequest) { r.ParallelToolCalls = ptr(false) }},
	{"response_format", func(r *schema.ChatRequest) { r.ResponseFormat = json.RawMessage(`{"type":"text"}`) }},
	{"reasoning_effort", func(r *schema.ChatRequest) { r.ReasoningEffort = "high" }},
	{"reasoning", func(r *schema.ChatRequest) { r.Reasoning = json.RawMessage(`{"effort":"high"}`) }},
	{"-.extra-value", func(r *schema.ChatRequest) { r.Extra["web_search"] = json.RawMessage(`{"enabled":false}`) }},
	{"-.extra-added", func(r *schema.ChatRequest) {
		r.Extra["prediction"] = json.RawMessage(`{"type":"content","content":"x"}`)
	}},
	{"-.extra-removed", func(r *schema.ChatRequest) { delete(r.Extra, "web_search") }},
	{"-.extra-null", func(r *schema.ChatRequest) { r.Extra["web_search"] = json.RawMessage(`null`) }},
}

// Every included field changes the key, and no two mutations collide.
func TestKeySensitivity(t *testing.T) {
	base := Key("proj_1", decode(t, fullBody))
	seen := map[string]string{base: "base"}
	for _, m := range keyMutations {
		r := decode(t, fullBody)
		m.mut(r)
		k := Key("proj_1", r)
		if prev, dup := seen[k]; dup {
			t.Errorf("%s: same key as %s", m.name, prev)
		}
		seen[k] = m.name
	}
	if Key("proj_2", decode(t, fullBody)) == base {
		t.Error("the project does not change the key")
	}
	if Key("", decode(t, fullBody)) == base {
		t.Error("an empty project hashes as proj_1")
	}
}

// Every field of schema.ChatRequest is either covered by a mutation above or
// deliberately excluded; the nested types have the fields key.go encodes. When
// the schema grows, this fails: update the encoder (and keyVersion) and the table.
func TestKeyCoversSchema(t *testing.T) {
	covered := map[string]bool{"stream": true, "stream_options": true, "user": true} // excluded
	for _, m := range keyMutations {
		covered[strings.SplitN(m.name, ".", 2)[0]] = true
	}
	rt := reflect.TypeFor[schema.ChatRequest]()
	for i := 0; i < rt.NumField(); i++ {
		if !rt.Field(i).IsExported() {
			continue // the raw message sources: the same messages as Messages
		}
		name := strings.Split(rt.Field(i).Tag.Get("json"), ",")[0]
		if !covered[name] {
			t.Errorf("ChatRequest.%s (%q) is neither in the key tests nor excluded", rt.Field(i).Name, name)
		}
	}
	for typ, n := range map[reflect.Type]int{
		reflect.TypeFor[schema.Message]():          8,
		reflect.TypeFor[schema.ReasoningDetail]():  8,
		reflect.TypeFor[schema.Content]():          2,
		reflect.TypeFor[schema.ContentPart]():      6,
		reflect.TypeFor[schema.ImageURL]():         2,
		reflect.TypeFor[schema.Tool]():             2,
		reflect.TypeFor[schema.ToolFunction]():     4,
		reflect.TypeFor[schema.ToolCall]():         4,
		reflect.TypeFor[schema.ToolCallFunction](): 2,
		reflect.TypeFor[schema.ChatRequest]():      24,
	} {
		if got := typ.NumField() - unexported(typ); got != n {
			t.Errorf("schema.%s has %d fields, key.go encodes %d: update the encoder and keyVersion", typ.Name(), got, n)
		}
	}
}

// Field boundaries are explicit: moving bytes from one field to the next
// changes the key.
func TestKeyNoConcatenationCollisions(t *testing.T) {
	pairs := [][2]string{
		{`{"model":"ab","messages":[{"role":"user","content":"c"}]}`, `{"model":"a","messages":[{"role":"user","content":"bc"}]}`},
		{`{"model":"m","messages":[{"role":"user","content":"ab"},{"role":"user","content":"c"}]}`,
			`{"model":"m","messages":[{"role":"user","content":"a"},{"role":"user","content":"bc"}]}`},
		{`{"model":"m","messages":[{"role":"user","content":"a","name":"b"}]}`, `{"model":"m","messages":[{"role":"user","content":"ab"}]}`},
		{`{"model":"m","messages":[],"xa":"b"}`, `{"model":"m","messages":[],"x":"ab"}`},
		{`{"model":"m","messages":[],"x":["a","b"]}`, `{"model":"m","messages":[],"x":["ab"]}`},
		{`{"model":"m","messages":[],"x":{"a":"b"}}`, `{"model":"m","messages":[],"x":{"ab":""}}`},
		{`{"model":"m","messages":[],"x":[[],[]]}`, `{"model":"m","messages":[],"x":[[[]]]}`},
		{`{"model":"m","messages":[],"x":1}`, `{"model":"m","messages":[],"x":"1"}`},
		{`{"model":"m","messages":[],"x":1}`, `{"model":"m","messages":[],"x":1.0}`},
		{`{"model":"m","messages":[],"x":true}`, `{"model":"m","messages":[],"x":"true"}`},
		{`{"model":"m","messages":[],"x":null}`, `{"model":"m","messages":[]}`},
		{`{"model":"m","messages":[],"max_tokens":5}`, `{"model":"m","messages":[],"max_completion_tokens":5}`},
		{`{"model":"m","messages":[],"temperature":1}`, `{"model":"m","messages":[],"top_p":1}`},
	}
	for _, p := range pairs {
		if Key("p", decode(t, p[0])) == Key("p", decode(t, p[1])) {
			t.Errorf("collide:\n%s\n%s", p[0], p[1])
		}
	}
	// The project and the model are delimited too.
	if Key("pa", decode(t, `{"model":"b","messages":[]}`)) == Key("p", decode(t, `{"model":"ab","messages":[]}`)) {
		t.Error("project/model collide")
	}
}

func TestKeyInvalidRawJSON(t *testing.T) {
	for _, raw := range []string{`{`, `{"a":}`, `[1,]`, `"abc`, `01`, `1.`, `tru`, `{"a":1}x`, "\"a\x01\"", `{"a" 1}`, `[1 2]`,
		strings.Repeat("[", maxDepth+5) + strings.Repeat("]", maxDepth+5)} {
		r := &schema.ChatRequest{Model: "m", Extra: map[string]json.RawMessage{"x": json.RawMessage(raw)}}
		k1 := Key("p", r)
		r.Extra["x"] = json.RawMessage(raw + " ")
		if k1 == Key("p", r) && json.Valid([]byte(raw)) {
			continue // valid after all: whitespace does not matter
		}
		if k1 == Key("p", &schema.ChatRequest{Model: "m"}) {
			t.Errorf("%q ignored", raw)
		}
	}
}

func TestCacheable(t *testing.T) {
	for body, want := range map[string]bool{
		`{"model":"m","messages":[{"role":"user","content":"hi"}]}`:                                  true,
		`{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":1.5}`:                true,
		`{"model":"m","messages":[{"role":"user","content":"hi"}],"n":3}`:                            true,
		`{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}`:                    true,
		`{"model":"m","messages":[{"role":"user","content":"hi"}],"logprobs":false}`:                 true,
		`{"model":"m","messages":[{"role":"user","content":"hi"}],"logprobs":true}`:                  false,
		`{"model":"m","messages":[{"role":"user","content":"hi"}],"logprobs":true,"top_logprobs":2}`: false,
		`{"model":"m","messages":[{"role":"user","content":"hi"}],"top_logprobs":2}`:                 false,
		`{"model":"m","messages":[]}`: false,
	} {
		if got := Cacheable(decode(t, body)); got != want {
			t.Errorf("Cacheable(%s) = %v", body, got)
		}
	}
	if Cacheable(nil) {
		t.Error("nil")
	}
}

// FuzzKey: any request that decodes hashes without panicking, stably, and the
// same after a marshal/decode round trip (the upstream's view of it).
func FuzzKey(f *testing.F) {
	f.Add([]byte(fullBody))
	f.Add([]byte(`{"model":"m","messages":[{"role":"user","content":"hi"}],"x":{"b":[1,2,{"c":"\u00e9"}],"a":null}}`))
	f.Add([]byte(`{"model":"m","messages":[],"stop":"\ud800","logit_bias":{"1":1e5,"1":-0.0}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := schema.DecodeChatRequest(body)
		if err != nil {
			return
		}
		k := Key("p", r)
		if Key("p", r) != k {
			t.Fatal("unstable")
		}
		b, err := json.Marshal(r)
		if err != nil {
			return
		}
		r2, err := schema.DecodeChatRequest(b)
		if err != nil {
			t.Fatalf("re-decode %s: %v", b, err)
		}
		if Key("p", r2) != k {
			t.Fatalf("round trip changed the key:\n%s\n%s", body, b)
		}
	})
}

// FuzzCanonicalJSON: a raw JSON value hashes like encoding/json's re-encoding
// of it (decoded escapes, sorted keys, last duplicate wins, numbers kept).
func FuzzCanonicalJSON(f *testing.F) {
	for _, s := range []string{`{"b":1,"a":[true,false,null,"x\n"]}`, `{"a":1,"a":{"z":0,"y":-1.5e3}}`, `"\u003c\ud83d\ude00"`, `[]`, `{}`, "\"\xff\"", `12.5E-3`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		r := &schema.ChatRequest{Extra: map[string]json.RawMessage{"x": raw}}
		k := Key("p", r) // never panics
		if !json.Valid(raw) {
			return
		}
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			t.Fatal(err)
		}
		again, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		r.Extra["x"] = again
		if Key("p", r) != k {
			t.Fatalf("%s and %s hash differently", raw, again)
		}
	})
}

// benchRequest is a ~10 KB chat request: a system prompt, a conversation with
// a tool call, and two tools with JSON-schema parameters.
func benchRequest(b testing.TB) *schema.ChatRequest {
	para := strings.Repeat("The quick brown fox jumps over the lazy dog; ", 20) // ~900 bytes
	var msgs []string
	msgs = append(msgs, fmt.Sprintf(`{"role":"system","content":%q}`, para+para))
	for i := 0; i < 6; i++ {
		msgs = append(msgs, fmt.Sprintf(`{"role":"user","content":%q}`, fmt.Sprintf("Question %d: ", i)+para))
		msgs = append(msgs, fmt.Sprintf(`{"role":"assistant","content":%q}`, fmt.Sprintf("Answer %d: ", i)+para[:300]))
	}
	msgs = append(msgs, `{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"search","arguments":"{\"query\":\"fox\",\"limit\":10}"}}]}`,
		`{"role":"tool","tool_call_id":"call_1","content":"[{\"title\":\"Fox\",\"url\":\"https://example.com/fox\"}]"}`)
	tool := func(name string) string {
		return fmt.Sprintf(`{"type":"function","function":{"name":%q,"description":"Search the web for a query and return results","parameters":{"type":"object","properties":{"query":{"type":"string","description":"the query"},"limit":{"type":"integer","minimum":1,"maximum":50},"filters":{"type":"object","properties":{"site":{"type":"string"},"lang":{"type":"string","enum":["en","fr","de"]}}}},"required":["query"],"additionalProperties":false},"strict":true}}`, name)
	}
	body := fmt.Sprintf(`{"model":"openai/gpt-4o","messages":[%s],"temperature":0,"max_tokens":512,"tools":[%s,%s],"tool_choice":"auto","response_format":{"type":"json_object"},"metadata":{"run":"1"},"stream":true}`,
		strings.Join(msgs, ","), tool("search"), tool("lookup"))
	return decode(b, body)
}

func BenchmarkKey(b *testing.B) {
	r := benchRequest(b)
	size, _ := json.Marshal(r)
	b.SetBytes(int64(len(size)))
	b.ReportAllocs()
	for b.Loop() {
		Key("proj_1", r)
	}
}

func unexported(typ reflect.Type) int {
	n := 0
	for i := 0; i < typ.NumField(); i++ {
		if !typ.Field(i).IsExported() {
			n++
		}
	}
	return n
}
