package anthropic

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmgw/gateway/app/providers"
	"github.com/llmgw/gateway/app/providers/providertest"
)

// TestTranslateGolden runs every testdata/translate/*.json case through a
// real Chat call and compares the body Anthropic receives with "want", field
// by field.
func TestTranslateGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "translate", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var tc struct {
				Request json.RawMessage `json:"request"`
				Want    json.RawMessage `json:"want"`
			}
			if err := json.Unmarshal(raw, &tc); err != nil {
				t.Fatal(err)
			}
			req := providertest.ChatRequest(t, string(tc.Request))
			before, _ := json.Marshal(req)

			u := newUpstream(t, providertest.Respond(200, "application/json", providertest.Fixture(t, "response_text.json")))
			if _, err := u.provider().Chat(context.Background(), u.target(), req); err != nil {
				t.Fatal(err)
			}
			got := u.Last(t)
			for _, d := range providertest.JSONDiff("body", providertest.DecodeAny(t, tc.Want), providertest.DecodeAny(t, got.Body)) {
				t.Error(d)
			}
			if after, _ := json.Marshal(req); string(after) != string(before) {
				t.Error("the caller's request was mutated")
			}
		})
	}
}

func TestRequestHeaders(t *testing.T) {
	u := newUpstream(t, providertest.Respond(200, "application/json", providertest.Fixture(t, "response_text.json")))
	if _, err := u.provider().Chat(context.Background(), u.target(), providertest.ChatRequest(t, providertest.SimpleRequest)); err != nil {
		t.Fatal(err)
	}
	got := u.Last(t)
	if got.Method != "POST" || got.Path != "/v1/messages" {
		t.Errorf("request line = %s %s", got.Method, got.Path)
	}
	for h, want := range map[string]string{
		"X-Api-Key":         testKey,
		"Anthropic-Version": "2023-06-01",
		"Content-Type":      "application/json",
		"Authorization":     "",
	} {
		if v := got.Header.Get(h); v != want {
			t.Errorf("%s = %q, want %q", h, v, want)
		}
	}
	var body map[string]any
	_ = json.Unmarshal(got.Body, &body)
	if _, ok := body["stream"]; ok {
		t.Error("stream sent on a non-streaming request")
	}
}

// TestDefaultMaxTokens: nil function and a function answering 0 fall back
// to DefaultMaxTokens.
func TestDefaultMaxTokens(t *testing.T) {
	u := newUpstream(t, providertest.Respond(200, "application/json", providertest.Fixture(t, "response_text.json")))
	for _, p := range []*Provider{New(u.Client(), nil), New(u.Client(), func(string) int { return 0 })} {
		if _, err := p.Chat(context.Background(), u.target(), providertest.ChatRequest(t, providertest.SimpleRequest)); err != nil {
			t.Fatal(err)
		}
		var body struct {
			MaxTokens int `json:"max_tokens"`
		}
		_ = json.Unmarshal(u.Last(t).Body, &body)
		if body.MaxTokens != DefaultMaxTokens {
			t.Errorf("max_tokens = %d", body.MaxTokens)
		}
	}
}

// TestRefusals: parameters Anthropic cannot honour are refused before any
// upstream call, naming the parameter.
func TestRefusals(t *testing.T) {
	const msgs = `"messages":[{"role":"user","content":"hi"}]`
	tools := `"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}]`
	tests := []struct{ body, param string }{
		{`{` + msgs + `,"n":2}`, "n"},
		{`{` + msgs + `,"logprobs":true}`, "logprobs"},
		{`{` + msgs + `,"top_logprobs":3}`, "top_logprobs"},
		{`{` + msgs + `,"logit_bias":{"50256":-100}}`, "logit_bias"},
		{`{` + msgs + `,"presence_penalty":0.5}`, "presence_penalty"},
		{`{` + msgs + `,"frequency_penalty":-1}`, "frequency_penalty"},
		{`{` + msgs + `,"audio":{"voice":"alloy","format":"wav"}}`, "audio"},
		{`{` + msgs + `,"modalities":["text","audio"]}`, "modalities"},
		{`{` + msgs + `,"web_search_options":{}}`, "web_search_options"},
		{`{` + msgs + `,"functions":[{"name":"f"}]}`, "functions"},
		{`{` + msgs + `,"top_k":0}`, "top_k"},
		{`{` + msgs + `,"max_tokens":0}`, "max_tokens"},
		{`{` + msgs + `,"reasoning_effort":"extreme"}`, "reasoning_effort"},
		{`{` + msgs + `,"reasoning":{"effort":"max"}}`, "reasoning.effort"},
		{`{` + msgs + `,"reasoning":"high"}`, "reasoning"},
		{`{` + msgs + `,"stop":5}`, "stop"},
		{`{` + msgs + `,"response_format":{"type":"grammar"}}`, "response_format"},
		{`{` + msgs + `,"response_format":{"type":"json_schema"}}`, "response_format.json_schema"},
		{`{` + msgs + `,` + tools + `,"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object"}}}}`, "response_format"},
		{`{` + msgs + `,"reasoning_effort":"low","response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object"}}}}`, "response_format"},
		{`{` + msgs + `,"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"array"}}}}`, "response_format.json_schema.schema"},
		{`{` + msgs + `,` + tools + `,"tool_choice":"required","reasoning_effort":"low"}`, "tool_choice"},
		{`{` + msgs + `,` + tools + `,"tool_choice":{"type":"allowed_tools","allowed_tools":{}}}`, "tool_choice"},
		{`{` + msgs + `,` + tools + `,"tool_choice":"sometimes"}`, "tool_choice"},
		{`{` + msgs + `,"tools":[{"type":"custom","custom":{"name":"x"}}]}`, "tools[0].type"},
		{`{` + msgs + `,"tools":[{"type":"function","function":{"name":"f","parameters":[1]}}]}`, "tools[0].function.parameters"},
		{`{"messages":[{"role":"function","name":"f","content":"x"}]}`, "messages[0].role"},
		{`{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{broken"}}]}]}`, "messages[1].tool_calls"},
		{`{"messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"[1,2]"}}]}]}`, "messages[0].tool_calls"},
		{`{"messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AA==","format":"wav"}}]}]}`, "messages[0].content[0]"},
		{`{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"ftp://x/y.png"}}]}]}`, "messages[0].content[0]"},
		{`{"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"data:image/bmp;base64,Qk0="}}]}]}`, "messages[0].content[1]"},
		{`{"messages":[{"role":"user","content":[{"type":"file","file":{"file_id":"file-abc"}}]}]}`, "messages[0].content[0]"},
		{`{"messages":[{"role":"user","content":[{"type":"file","file":{"file_data":"data:application/zip;base64,UEs="}}]}]}`, "messages[0].content[0]"},
		{`{"messages":[{"role":"system","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"}}]}]}`, "messages[0].content[0]"},
		{`{"messages":[{"role":"assistant","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"}}]}]}`, "messages[0].content[0]"},
	}
	for _, tc := range tests {
		u := newUpstream(t, providertest.Respond(200, "application/json", providertest.Fixture(t, "response_text.json")))
		_, err := u.provider().Chat(context.Background(), u.target(), providertest.ChatRequest(t, tc.body))
		pe := asError(t, err, providers.KindUnsupported)
		if pe.Param != tc.param || pe.Message == "" {
			t.Errorf("%s: param = %q (%s), want %q", tc.body, pe.Param, pe.Message, tc.param)
		}
		if api := pe.API(); api.Status != 400 || api.Code != "unsupported_parameter" {
			t.Errorf("%s: api error %+v", tc.body, api)
		}
		if pe.Retryable() {
			t.Errorf("%s: retryable", tc.body)
		}
		if len(u.Requests()) != 0 {
			t.Errorf("%s: upstream called", tc.body)
		}
	}
}

func TestEmbedUnsupported(t *testing.T) {
	if _, err := New(nil, nil).Embed(context.Background(), providers.Target{}, nil); err != providers.ErrUnsupported {
		t.Fatalf("err = %v", err)
	}
}

// TestThinkingBudgetFitsDefault: without a client limit, the budget shrinks
// to fit the model's default max_tokens instead of exceeding it.
func TestThinkingBudgetFitsDefault(t *testing.T) {
	for _, tc := range []struct {
		def, wantMax, wantBudget int
		body                     string
	}{
		{32000, 32000, 16000, `{"messages":[{"role":"user","content":"x"}],"reasoning_effort":"xhigh"}`},
		{64000, 64000, 32768, `{"messages":[{"role":"user","content":"x"}],"reasoning_effort":"xhigh"}`},
		{1500, 1500, 1024, `{"messages":[{"role":"user","content":"x"}],"reasoning_effort":"high"}`},
		{1000, 2024, 1024, `{"messages":[{"role":"user","content":"x"}],"reasoning_effort":"high"}`},
		{32000, 32768 + 100, 32768, `{"messages":[{"role":"user","content":"x"}],"reasoning_effort":"xhigh","max_tokens":100}`},
	} {
		out, _, err := translateRequest("anthropic", providertest.ChatRequest(t, tc.body), "m", tc.def)
		if err != nil {
			t.Fatal(err)
		}
		if out.MaxTokens != tc.wantMax || out.Thinking == nil || out.Thinking.BudgetTokens != tc.wantBudget {
			t.Errorf("default %d, %s: max_tokens %d, thinking %+v", tc.def, tc.body, out.MaxTokens, out.Thinking)
		}
	}
}
