package google

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/llmgw/gateway/app/providers"
	"github.com/llmgw/gateway/app/providers/providertest"
)

// TestRequestGolden translates each testdata/request/NAME.openai.json and
// compares the body sent upstream, field by field, with NAME.gemini.json.
func TestRequestGolden(t *testing.T) {
	for _, tc := range []struct{ name, model string }{
		{"system", testModel},
		{"merge", testModel},
		{"tools", testModel},
		{"tool_results", "gemini-3-pro-preview"},
		{"images", testModel},
		{"generation", testModel},
		{"json_object", testModel},
		{"thinking_effort", testModel},
		{"thinking_budget", testModel},
		{"thinking_excluded", testModel},
		{"thinking_off", testModel},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := providertest.Fixture(t, "request/"+tc.name+".openai.json")
			want := providertest.Fixture(t, "request/"+tc.name+".gemini.json")
			for _, stream := range []bool{false, true} {
				var u *upstream
				if stream {
					u = newUpstream(t, sseHandler(providertest.Fixture(t, "stream_text.sse"), 1<<20))
				} else {
					u = newUpstream(t, providertest.Respond(200, "application/json", providertest.Fixture(t, "chat_text.json")))
				}
				req := providertest.ChatRequest(t, in)
				before, _ := json.Marshal(req)
				tg := u.target()
				tg.Model = tc.model
				p := New(u.Client())
				if stream {
					s, err := p.ChatStream(context.Background(), tg, req)
					if err != nil {
						t.Fatal(err)
					}
					if _, err := providertest.ReadStream(s); err.Error() != "EOF" {
						t.Fatal(err)
					}
					s.Close()
				} else if _, err := p.Chat(context.Background(), tg, req); err != nil {
					t.Fatal(err)
				}
				got := u.Last(t)
				jsonEqual(t, tc.name, got.Body, []byte(want))
				if after, _ := json.Marshal(req); string(after) != string(before) {
					t.Errorf("stream=%v: the caller's request was mutated", stream)
				}
			}
		})
	}
}

func TestRequestLine(t *testing.T) {
	u := newUpstream(t, providertest.Respond(200, "application/json", providertest.Fixture(t, "chat_text.json")))
	if _, err := New(u.Client()).Chat(context.Background(), u.target(), providertest.ChatRequest(t, providertest.SimpleRequest)); err != nil {
		t.Fatal(err)
	}
	got := u.Last(t)
	if got.Method != http.MethodPost || got.Path != "/v1beta/models/gemini-2.5-flash:generateContent" || got.Query != "" {
		t.Errorf("request line = %s %s?%s", got.Method, got.Path, got.Query)
	}
	for h, want := range map[string]string{
		"X-Goog-Api-Key": testKey,
		"Content-Type":   "application/json",
		"Accept":         "application/json",
		"Authorization":  "",
	} {
		if v := got.Header.Get(h); v != want {
			t.Errorf("%s = %q, want %q", h, v, want)
		}
	}

	u = newUpstream(t, sseHandler(providertest.Fixture(t, "stream_text.sse"), 1<<20))
	tg := u.target()
	tg.Model = "tunedModels/my-model-7"
	tg.APIKey = ""
	s, err := New(u.Client()).ChatStream(context.Background(), tg, providertest.ChatRequest(t, providertest.SimpleRequest))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, _ = providertest.ReadStream(s)
	got = u.Last(t)
	if got.Path != "/v1beta/tunedModels/my-model-7:streamGenerateContent" || got.Query != "alt=sse" ||
		got.Header.Get("Accept") != "text/event-stream" {
		t.Errorf("stream request = %s?%s accept %q", got.Path, got.Query, got.Header.Get("Accept"))
	}
	if _, ok := got.Header["X-Goog-Api-Key"]; ok {
		t.Error("x-goog-api-key sent without a key")
	}
}

// TestRefusals checks parameter honesty: what Gemini cannot do is refused
// with a 400 unsupported_parameter naming the field, before any upstream call.
func TestRefusals(t *testing.T) {
	for _, tc := range []struct{ body, param string }{
		{`{"model":"m","messages":[{"role":"user","content":"hi"}],"logprobs":true}`, "logprobs"},
		{`{"model":"m","messages":[{"role":"user","content":"hi"}],"top_logprobs":3}`, "top_logprobs"},
		{`{"model":"m","messages":[{"role":"user","content":"hi"}],"logit_bias":{"50256":-100}}`, "logit_bias"},
		{`{"model":"m","messages":[{"role":"user","content":"hi"}],"reasoning_effort":"xhigh"}`, "reasoning_effort"},
		{`{"model":"m","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"grammar"}}`, "response_format"},
		{`{"model":"m","messages":[{"role":"user","content":"hi"}],"modalities":["text","audio"]}`, "modalities"},
		{`{"model":"m","messages":[{"role":"user","content":"hi"}],"web_search_options":{}}`, "web_search_options"},
		{`{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"sometimes"}`, "tool_choice"},
		{`{"model":"m","messages":[{"role":"user","content":[{"type":"video_url","video_url":{"url":"x"}}]}]}`, "messages[0].content[0].type"},
		{`{"model":"m","messages":[{"role":"user","content":[{"type":"file","file":{"file_id":"file-1"}}]}]}`, "messages[0].content[0].file"},
		{`{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"web_search"}]}`, "tools[0].type"},
	} {
		u := newUpstream(t, providertest.Respond(200, "application/json", providertest.Fixture(t, "chat_text.json")))
		_, err := New(u.Client()).Chat(context.Background(), u.target(), providertest.ChatRequest(t, tc.body))
		pe := asError(t, err, providers.KindUnsupported)
		ae := pe.API()
		if pe.Param != tc.param || ae.Status != 400 || ae.Code != "unsupported_parameter" || ae.Param != tc.param || pe.Retryable() {
			t.Errorf("%s: error = %+v, api = %+v", tc.param, pe, ae)
		}
		if len(u.Requests()) != 0 {
			t.Errorf("%s: the upstream was called", tc.param)
		}
	}
}

// TestInvalidRequests: requests no upstream could take are a 400 naming the field.
func TestInvalidRequests(t *testing.T) {
	for _, tc := range []struct{ body, param string }{
		{`{"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{oops"}}]}]}`, "messages[0].tool_calls[0].function.arguments"},
		{`{"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"[1]"}}]}]}`, "messages[0].tool_calls[0].function.arguments"},
		{`{"model":"m","messages":[{"role":"tool","tool_call_id":"nope","content":"x"}]}`, "messages[0].tool_call_id"},
		{`{"model":"m","messages":[{"role":"wizard","content":"x"}]}`, "messages[0].role"},
		{`{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64"}}]}]}`, "messages[0].content[0].image_url.url"},
		{`{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"$ref":"https://example.com/s.json"}}}]}`, "tools[0].function.parameters"},
		{`{"model":"m","messages":[{"role":"user","content":"x"}],"stop":7}`, "stop"},
		{`{"model":"m","messages":[{"role":"user","content":"x"}],"reasoning":"high"}`, "reasoning"},
	} {
		_, err := buildRequest("acme", testModel, providertest.ChatRequest(t, tc.body))
		pe := asError(t, err, providers.KindStatus)
		if pe.Param != tc.param || pe.Status != 400 || pe.Retryable() || pe.API().Param != tc.param {
			t.Errorf("%s: error = %+v", tc.param, pe)
		}
	}
}

func TestSignatureSentinelModels(t *testing.T) {
	for model, want := range map[string]bool{
		"gemini-3-pro-preview":        true,
		"models/gemini-3.1-flash":     true,
		"gemini-10-ultra":             true,
		"gemini-2.5-flash":            false,
		"gemini-2.0-flash-001":        false,
		"gemini-1.5-pro":              false,
		"gemma-3-27b-it":              false,
		"tunedModels/gemini-3-x":      true,
		"gemini-":                     false,
		"learnlm-2.0-flash-experimen": false,
	} {
		if got := needsSignatureSentinel(model); got != want {
			t.Errorf("%s: %v, want %v", model, got, want)
		}
	}
	// Gemini 2.5 gets the history as is.
	g, err := buildRequest("acme", "gemini-2.5-pro", providertest.ChatRequest(t, providertest.Fixture(t, "request/tool_results.openai.json")))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(g)
	if strings.Contains(string(b), "thoughtSignature") {
		t.Errorf("signature sent to 2.5: %s", b)
	}
}

func TestSchemaConversionEdges(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		// A recursive reference cannot be inlined forever.
		{`{"type":"object","properties":{"child":{"$ref":"#"}}}`, `{"type":"OBJECT","properties":{"child":{"type":"OBJECT"}}}`},
		// Several types become anyOf.
		{`{"type":["string","integer"]}`, `{"anyOf":[{"type":"STRING"},{"type":"INTEGER"}]}`},
		// Only null.
		{`{"type":"null"}`, `{"type":"NULL"}`},
		// allOf members merge.
		{`{"allOf":[{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]},{"properties":{"b":{"type":"boolean"}},"required":["b"]}]}`,
			`{"type":"OBJECT","properties":{"a":{"type":"STRING"},"b":{"type":"BOOLEAN"}},"required":["a","b"]}`},
		// Non-string enums are dropped (Gemini enums are strings); definitions/ works.
		{`{"definitions":{"n":{"type":"integer","enum":[1,2]}},"$ref":"#/definitions/n"}`, `{"type":"INTEGER"}`},
		// Boolean schemas.
		{`{"type":"object","properties":{"x":true,"y":false}}`, `{"type":"OBJECT","properties":{"x":{}}}`},
	} {
		got, err := toGeminiSchema(json.RawMessage(tc.in), false)
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		b, _ := json.Marshal(got)
		jsonEqual(t, tc.in, b, []byte(tc.want))
	}
	// Each definition refers twice to the next: 2^40 nodes once inlined.
	var defs []string
	for i := range 40 {
		defs = append(defs, fmt.Sprintf(`"d%d":{"type":"object","properties":{"a":{"$ref":"#/$defs/d%d"},"b":{"$ref":"#/$defs/d%d"}}}`, i, i+1, i+1))
	}
	bomb := `{"$defs":{` + strings.Join(defs, ",") + `,"d40":{"type":"string"}},"$ref":"#/$defs/d0"}`
	for _, bad := range []string{bomb, `[]`, `"x"`, `{"$ref":"#/nope"}`, `{"$ref":"#/$defs/a/b"}`, strings.Repeat(`{"items":`, 200) + `{}` + strings.Repeat(`}`, 200)} {
		if _, err := toGeminiSchema(json.RawMessage(bad), false); err == nil {
			t.Errorf("%.40s: no error", bad)
		}
	}
}

func TestParseDataURI(t *testing.T) {
	for in, want := range map[string][2]string{
		"data:image/png;base64,AAAA":            {"image/png", "AAAA"},
		"DATA:image/jpeg;charset=x;BASE64,Zm9v": {"image/jpeg", "Zm9v"},
		"data:,hi":                              {"text/plain", "aGk="},
	} {
		mt, data, err := parseDataURI(in)
		if err != nil || !reflect.DeepEqual([2]string{mt, data}, want) {
			t.Errorf("%s: %s %s %v", in, mt, data, err)
		}
	}
	for _, bad := range []string{"data:image/png;base64", "data:image/png;base64,", "image/png;base64,AAAA", "data:,%zz"} {
		if _, _, err := parseDataURI(bad); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
