package google

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/llmgw/gateway/app/providers/providertest"
	"github.com/llmgw/gateway/app/schema"
)

func decodeToChat(t *testing.T, body string) *schema.ChatRequest {
	t.Helper()
	g, err := DecodeGenerateRequest([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	before, _ := json.Marshal(g)
	req, err := g.ToChat(testModel)
	if err != nil {
		t.Fatal(err)
	}
	if after, _ := json.Marshal(g); string(after) != string(before) {
		t.Error("ToChat mutated the request")
	}
	return req
}

// TestToChatGolden compares ToChat's neutral request with
// testdata/inbound/NAME.openai.json.
func TestToChatGolden(t *testing.T) {
	for _, name := range []string{"basic", "tools", "media"} {
		t.Run(name, func(t *testing.T) {
			req := decodeToChat(t, providertest.Fixture(t, "inbound/"+name+".gemini.json"))
			got, err := json.Marshal(req)
			if err != nil {
				t.Fatal(err)
			}
			jsonEqual(t, name, got, []byte(providertest.Fixture(t, "inbound/"+name+".openai.json")))
			// What ToChat produces is what the gateway's decoder reads back.
			again, err := schema.DecodeChatRequest(got)
			if err != nil {
				t.Fatal(err)
			}
			if b, _ := json.Marshal(again); string(b) != string(got) {
				t.Errorf("re-decoded request differs:\n%s\n%s", b, got)
			}
		})
	}
}

// TestInboundRoundTrip: a Gemini request through the neutral format and the
// adapter comes out as it went in.
func TestInboundRoundTrip(t *testing.T) {
	in := providertest.Fixture(t, "inbound/roundtrip.gemini.json")
	req := decodeToChat(t, in)
	// Through the wire format, as the gateway would pass it around.
	b, _ := json.Marshal(req)
	req = providertest.ChatRequest(t, string(b))
	g, err := buildRequest("acme", testModel, req)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(g)
	jsonEqual(t, "roundtrip", out, []byte(in))
}

// TestOutboundRoundTrip: a neutral request through the adapter's Gemini body
// and back is the same request.
func TestOutboundRoundTrip(t *testing.T) {
	in := `{"model":"gemini-2.5-flash","messages":[
		{"role":"system","content":"Be nice."},
		{"role":"user","content":"Weather?"},
		{"role":"assistant","content":"Checking.","tool_calls":[{"id":"call_1_0","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}}]},
		{"role":"tool","tool_call_id":"call_1_0","content":"cold"},
		{"role":"assistant","content":"It is cold."},
		{"role":"user","content":[{"type":"text","text":"And this?"},{"type":"image_url","image_url":{"url":"data:image/gif;base64,R0lGOD=="}}]}],
		"tools":[{"type":"function","function":{"name":"get_weather","description":"d","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}],
		"tool_choice":"auto","temperature":1,"top_p":0.5,"n":2,"seed":3,"max_completion_tokens":50,"stop":["x"],
		"presence_penalty":0.1,"frequency_penalty":0.2,"top_k":5,
		"response_format":{"type":"json_object"},"reasoning":{"max_tokens":512}}`
	g, err := buildRequest("acme", testModel, providertest.ChatRequest(t, in))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(g)
	back := decodeToChat(t, string(b))
	got, _ := json.Marshal(back)
	jsonEqual(t, "outbound roundtrip", got, []byte(in))
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct{ body, param string }{
		{`{"contents":{"role":"user"}}`, "contents"},
		{`{"contents":[{"parts":[{"text":5}]}]}`, "contents[0].parts[0].text"},
		{`{"contents":[{"parts":[{"text":"a"},{"inline_data":{"mime_type":7}}]}]}`, "contents[0].parts[1].inlineData.mimeType"},
		{`{"contents":[],"generationConfig":{"temperature":"hot"}}`, "generationConfig.temperature"},
		{`{"contents":[],"generation_config":{"thinking_config":{"thinking_budget":1.5}}}`, "generationConfig.thinkingConfig.thinkingBudget"},
		{`{"contents":[],"tools":[{"functionDeclarations":[{"name":["x"]}]}]}`, "tools[0].functionDeclarations[0].name"},
	} {
		_, err := DecodeGenerateRequest([]byte(tc.body))
		var fe *schema.FieldError
		if !errors.As(err, &fe) || fe.Param != tc.param || !strings.Contains(fe.Msg, tc.param) {
			t.Errorf("%s: %v (%T)", tc.body, err, err)
		}
	}
	for _, body := range []string{``, `[]`, `"x"`, `{"contents":`, `{} {}`} {
		_, err := DecodeGenerateRequest([]byte(body))
		var se *schema.SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%q: %v (%T)", body, err, err)
		}
	}
	// camelCase wins over its snake_case twin; null is the default.
	g, err := DecodeGenerateRequest([]byte(`{"contents":null,"systemInstruction":{"parts":[{"text":"a"}]},"system_instruction":{"parts":[{"text":"b"}]}}`))
	if err != nil || g.SystemInstruction.Parts[0].Text != "a" || g.Contents != nil {
		t.Errorf("g = %+v, %v", g, err)
	}
}

func TestToChatRefusals(t *testing.T) {
	const user = `"contents":[{"role":"user","parts":[{"text":"hi"}]}]`
	for _, tc := range []struct{ body, param string }{
		{`{"contents":[]}`, "contents"},
		{`{` + user + `,"cachedContent":"cachedContents/abc"}`, "cachedContent"},
		{`{` + user + `,"tools":[{"googleSearch":{}}]}`, "tools[0].googleSearch"},
		{`{` + user + `,"tools":[{"code_execution":{}}]}`, "tools[0].codeExecution"},
		{`{` + user + `,"tools":[{"functionDeclarations":[{"description":"x"}]}]}`, "tools[0].functionDeclarations[0].name"},
		{`{` + user + `,"tools":[{"functionDeclarations":[{"name":"f"}]}],"toolConfig":{"functionCallingConfig":{"mode":"SOMETIMES"}}}`, "toolConfig.functionCallingConfig.mode"},
		{`{` + user + `,"tools":[{"functionDeclarations":[{"name":"f"}]}],"toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["g","f"]}}}`, "toolConfig.functionCallingConfig.allowedFunctionNames"},
		{`{` + user + `,"generationConfig":{"responseLogprobs":true}}`, "generationConfig.responseLogprobs"},
		{`{` + user + `,"generationConfig":{"logprobs":3}}`, "generationConfig.logprobs"},
		{`{` + user + `,"generationConfig":{"responseModalities":["TEXT","IMAGE"]}}`, "generationConfig.responseModalities[1]"},
		{`{` + user + `,"generationConfig":{"responseMimeType":"text/x.enum"}}`, "generationConfig.responseMimeType"},
		{`{` + user + `,"generationConfig":{"responseMimeType":"text/x.enum","responseSchema":{"type":"STRING","enum":["a"]}}}`, "generationConfig.responseMimeType"},
		{`{` + user + `,"generationConfig":{"thinkingConfig":{"thinkingBudget":-5}}}`, "generationConfig.thinkingConfig.thinkingBudget"},
		{`{` + user + `,"generationConfig":{"thinkingConfig":{"thinkingLevel":"EXTREME"}}}`, "generationConfig.thinkingConfig.thinkingLevel"},
		{`{"systemInstruction":{"parts":[{"inlineData":{"mimeType":"image/png","data":"AA=="}}]},` + user + `}`, "systemInstruction.parts[0]"},
		{`{"contents":[{"role":"assistant","parts":[{"text":"x"}]}]}`, "contents[0].role"},
		{`{"contents":[{"role":"user","parts":[{"functionResponse":{"name":"f","response":{}}}]}]}`, "contents[0].parts[0].functionResponse"},
		{`{"contents":[{"role":"user","parts":[{"functionCall":{"name":"f"}}]}]}`, "contents[0].parts[0].functionCall"},
		{`{"contents":[{"role":"model","parts":[{"functionCall":{"name":"f","args":[1]}}]}]}`, "contents[0].parts[0].functionCall.args"},
		{`{"contents":[{"role":"model","parts":[{"functionCall":{"args":{}}}]}]}`, "contents[0].parts[0].functionCall.name"},
		{`{"contents":[{"role":"model","parts":[{"functionResponse":{"name":"f"}}]}]}`, "contents[0].parts[0].functionResponse"},
		{`{"contents":[{"role":"model","parts":[{"inlineData":{"mimeType":"image/png","data":"AA=="}}]}]}`, "contents[0].parts[0]"},
		{`{"contents":[{"role":"user","parts":[{"executableCode":{"code":"print(1)"}}]}]}`, "contents[0].parts[0]"},
		{`{"contents":[{"role":"user","parts":[{"fileData":{"mimeType":"video/mp4","fileUri":"https://youtu.be/x"}}]}]}`, "contents[0].parts[0].fileData"},
		{`{"contents":[{"role":"user","parts":[{"fileData":{"mimeType":"image/png"}}]}]}`, "contents[0].parts[0].fileData.fileUri"},
		{`{"contents":[{"role":"user","parts":[{"inlineData":{"data":"AA=="}}]}]}`, "contents[0].parts[0].inlineData.mimeType"},
		{`{"contents":[{"role":"user","parts":[{"inlineData":{"mimeType":"image/png"}}]}]}`, "contents[0].parts[0].inlineData.data"},
		{`{` + user + `,"tools":[{"functionDeclarations":[{"name":"f","parameters":{"type":"OBJECT","properties":{"a":"x"}}}]}]}`, "tools[0].functionDeclarations[0].parameters"},
	} {
		g, err := DecodeGenerateRequest([]byte(tc.body))
		if err != nil {
			t.Fatalf("%s: %v", tc.body, err)
		}
		_, err = g.ToChat(testModel)
		var fe *schema.FieldError
		if !errors.As(err, &fe) || fe.Param != tc.param {
			t.Errorf("%s: %v", tc.body, err)
		}
	}
}

func TestToChatThinkingAndChoice(t *testing.T) {
	const user = `"contents":[{"role":"user","parts":[{"text":"hi"}]}]`
	for _, tc := range []struct{ gc, reasoning, effort string }{
		{`{"thinkingConfig":{"thinkingBudget":0}}`, `{"exclude":true,"max_tokens":0}`, ""},
		{`{"thinkingConfig":{"thinkingBudget":-1,"includeThoughts":true}}`, `{"enabled":true}`, ""},
		{`{"thinkingConfig":{"thinkingBudget":-1}}`, `{"exclude":true}`, ""},
		{`{"thinkingConfig":{"includeThoughts":true}}`, `{"enabled":true}`, ""},
		{`{"thinkingConfig":{"includeThoughts":true,"thinkingLevel":"high"}}`, ``, "high"},
		{`{"thinkingConfig":{"thinkingLevel":"MINIMAL"}}`, `{"exclude":true}`, "minimal"},
	} {
		req := decodeToChat(t, `{`+user+`,"generationConfig":`+tc.gc+`}`)
		if string(req.Reasoning) != tc.reasoning || req.ReasoningEffort != tc.effort {
			t.Errorf("%s: reasoning=%s effort=%q", tc.gc, req.Reasoning, req.ReasoningEffort)
		}
	}
	for _, tc := range []struct{ cfg, choice string }{
		{`{"mode":"AUTO"}`, `"auto"`},
		{`{"mode":"validated"}`, `"auto"`},
		{`{"mode":"NONE"}`, `"none"`},
		{`{"mode":"ANY"}`, `"required"`},
		{`{"mode":"ANY","allowedFunctionNames":["g"]}`, `{"function":{"name":"g"},"type":"function"}`},
	} {
		req := decodeToChat(t, `{`+user+`,"tools":[{"functionDeclarations":[{"name":"f"},{"name":"g"}]}],"toolConfig":{"functionCallingConfig":`+tc.cfg+`}}`)
		if string(req.ToolChoice) != tc.choice || len(req.Tools) != 2 {
			t.Errorf("%s: choice=%s tools=%d", tc.cfg, req.ToolChoice, len(req.Tools))
		}
	}
}

func TestToolResultText(t *testing.T) {
	for in, want := range map[string]string{
		`{"content":{"result":"hi"}}`:         "hi",
		`{"content":"plain"}`:                 "plain",
		`{"content":{"a":1}}`:                 `{"a":1}`,
		`{"content":[1, 2]}`:                  `[1,2]`,
		`{"output":"x","error":null}`:         `{"output":"x","error":null}`,
		`{"content":{"result":"a","more":1}}`: `{"result":"a","more":1}`,
		``:                                    "",
	} {
		if got := toolResultText(json.RawMessage(in)); got != want {
			t.Errorf("%s: %q, want %q", in, got, want)
		}
	}
}

func TestFromChatResponse(t *testing.T) {
	for _, name := range []string{"chat_function_call.json", "chat_thinking.json", "chat_max_tokens.json", "chat_cached.json", "chat_safety.json", "chat_two_candidates.json"} {
		t.Run(name, func(t *testing.T) {
			var orig GenerateResponse
			if err := json.Unmarshal([]byte(providertest.Fixture(t, name)), &orig); err != nil {
				t.Fatal(err)
			}
			chat := chatFromGenerate(&orig, testModel, 1)
			back := FromChatResponse(chat)
			// What the round trip cannot keep: generated ids appear on
			// function calls, a response without id gets one.
			want := orig
			if want.ResponseID == "" {
				want.ResponseID = chat.ID
			}
			if want.ModelVersion == "" {
				want.ModelVersion = testModel
			}
			var callIDs []string
			for _, c := range chat.Choices {
				for _, tc := range c.Message.ToolCalls {
					callIDs = append(callIDs, tc.ID)
				}
			}
			ids := 0
			for ci := range want.Candidates {
				c := &want.Candidates[ci]
				if c.Content == nil {
					continue
				}
				parts := make([]Part, len(c.Content.Parts))
				copy(parts, c.Content.Parts)
				for pi := range parts {
					parts[pi].ThoughtSignature = ""
					if fc := parts[pi].FunctionCall; fc != nil {
						cp := *fc
						cp.ID = callIDs[ids]
						if cp.Args == nil {
							cp.Args = json.RawMessage(`{}`)
						}
						ids++
						parts[pi].FunctionCall = &cp
					}
				}
				c.Content = &Content{Role: c.Content.Role, Parts: parts}
			}
			got, _ := json.Marshal(back)
			exp, _ := json.Marshal(want)
			jsonEqual(t, name, got, exp)
		})
	}
	// An answer without usage has no usageMetadata; unknown finish reasons are OTHER.
	g := FromChatResponse(&schema.ChatResponse{ID: "x", Choices: []schema.Choice{{FinishReason: "error",
		Message: schema.Message{Role: "assistant", ToolCalls: []schema.ToolCall{{ID: "c", Function: schema.ToolCallFunction{Name: "f", Arguments: "not json"}}}}}}})
	b, _ := json.Marshal(g)
	jsonEqual(t, "odd", b, []byte(`{"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"id":"c","name":"f","args":{"arguments":"not json"}}}]},"finishReason":"OTHER"}],"responseId":"x"}`))
	// A refusal is the answer's text.
	refusal := "I can't help with that."
	g = FromChatResponse(&schema.ChatResponse{Choices: []schema.Choice{{FinishReason: "stop", Message: schema.Message{Refusal: &refusal}}}})
	if g.Candidates[0].Content.Parts[0].Text != refusal {
		t.Errorf("refusal = %+v", g.Candidates[0])
	}
}

func TestUsageMetadataFrom(t *testing.T) {
	got := usageMetadataFrom(usageOf(100, 50, 0, 30, 80))
	want := &UsageMetadata{PromptTokenCount: 100, CandidatesTokenCount: 0, CachedContentTokenCount: 30, ThoughtsTokenCount: 50, TotalTokenCount: 150}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("usage = %+v", got)
	}
	if usageMetadataFrom(nil) != nil {
		t.Error("nil usage")
	}
}

func TestErrorBody(t *testing.T) {
	for status, name := range map[int]string{400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
		404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED",
		502: "UNAVAILABLE", 499: "CANCELLED", 413: "INVALID_ARGUMENT", 408: "DEADLINE_EXCEEDED", 501: "UNIMPLEMENTED", 507: "INTERNAL"} {
		b := ErrorBody(status, "m <&>")
		var env struct {
			Error struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
				Status  string `json:"status"`
			} `json:"error"`
		}
		if err := json.Unmarshal(b, &env); err != nil || env.Error.Code != status || env.Error.Status != name || env.Error.Message != "m <&>" {
			t.Errorf("%d: %s", status, b)
		}
		// The adapter reads it back as the same failure.
		f, ok := parseErrorBody(b)
		if !ok || f.NumCode != status || f.Status != name {
			t.Errorf("%d: parsed %+v", status, f)
		}
	}
	if !strings.Contains(string(ErrorBody(404, "")), `"message":"Not Found"`) {
		t.Errorf("default message: %s", ErrorBody(404, ""))
	}
}
