package openai

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/responses"
	"github.com/openai/openai-go/v3/shared"

	"github.com/llmgw/gateway/app/providers/providertest"
	"github.com/llmgw/gateway/app/schema"
)

func responsesFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "responses", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// toChat decodes and translates a Responses body.
func toChat(body []byte) (*schema.ChatRequest, error) {
	r, err := DecodeResponsesRequest(body)
	if err != nil {
		return nil, err
	}
	return r.ToChat()
}

// TestResponsesToChatGolden: testdata/responses/request_*.json Responses
// requests translate to the expected neutral request, field by field.
func TestResponsesToChatGolden(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "responses", "request_*.json"))
	if len(files) < 5 {
		t.Fatalf("%d fixtures", len(files))
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			raw, _ := os.ReadFile(f)
			var tc struct {
				Request json.RawMessage `json:"request"`
				Want    json.RawMessage `json:"want"`
			}
			if err := json.Unmarshal(raw, &tc); err != nil {
				t.Fatal(err)
			}
			chat, err := toChat(tc.Request)
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.Marshal(chat)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range providertest.JSONDiff("chat", providertest.DecodeAny(t, tc.Want), providertest.DecodeAny(t, got)) {
				t.Error(d)
			}
			// The neutral request decodes back to itself (what the OpenAI
			// adapter would forward).
			again, err := schema.DecodeChatRequest(got)
			if err != nil {
				t.Fatal(err)
			}
			if b, _ := json.Marshal(again); string(b) != string(got) {
				t.Errorf("neutral request does not round-trip:\n%s\n%s", got, b)
			}
		})
	}
}

// TestResponsesRefusals: requests the gateway cannot serve, or that are
// malformed, fail with the field named (testdata/responses/refusals.json).
func TestResponsesRefusals(t *testing.T) {
	var fx struct {
		Cases []struct {
			Name    string          `json:"name"`
			Request json.RawMessage `json:"request"`
			Body    *string         `json:"body"`
			Syntax  bool            `json:"syntax"`
			Param   string          `json:"param"`
			Message string          `json:"message"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(responsesFixture(t, "refusals.json"), &fx); err != nil {
		t.Fatal(err)
	}
	for _, tc := range fx.Cases {
		body := []byte(tc.Request)
		if tc.Body != nil {
			body = []byte(*tc.Body)
		}
		_, err := toChat(body)
		if err == nil {
			t.Errorf("%s: accepted", tc.Name)
			continue
		}
		if tc.Syntax {
			var se *schema.SyntaxError
			if !errors.As(err, &se) {
				t.Errorf("%s: %T %v, want a *schema.SyntaxError", tc.Name, err, err)
			}
			continue
		}
		var fe *schema.FieldError
		if !errors.As(err, &fe) {
			t.Errorf("%s: %T %v, want a *schema.FieldError", tc.Name, err, err)
			continue
		}
		if fe.Param != tc.Param || !strings.Contains(fe.Msg, tc.Message) {
			t.Errorf("%s: param %q message %q; want %q containing %q", tc.Name, fe.Param, fe.Msg, tc.Param, tc.Message)
		}
	}
}

// TestResponsesDecodeKeepsFields checks the decoded request itself.
func TestResponsesDecodeKeepsFields(t *testing.T) {
	r, err := DecodeResponsesRequest([]byte(`{"model":"m","input":"x","store":false,"metadata":{"k":"v"},
		"previous_response_id":null,"include":["x"],"truncation":"auto","temperature":null}`))
	if err != nil {
		t.Fatal(err)
	}
	if r.Store == nil || *r.Store || string(r.Metadata) != `{"k":"v"}` || r.Temperature != nil ||
		string(r.Extra["include"]) != `["x"]` || string(r.Extra["truncation"]) != `"auto"` || len(r.Extra) != 2 {
		t.Errorf("decoded %+v", r)
	}
	// An empty input string is a message; an empty item list is not.
	if _, err := toChat([]byte(`{"model":"m","input":""}`)); err != nil {
		t.Error(err)
	}
	if _, err := toChat([]byte(`{"model":"m","input":[],"instructions":"hi"}`)); err == nil {
		t.Error("empty input accepted")
	}
}

// TestResponsesSDKRequests: what the official SDK sends (params marshalled
// by the SDK itself) is accepted and translated, including output items of
// an earlier response sent back as input, the SDK's usual multi-turn loop.
func TestResponsesSDKRequests(t *testing.T) {
	// An earlier answer, as the SDK parsed it.
	prev := FromChatResponse(&schema.ChatResponse{ID: "chatcmpl-1", Created: 1, Choices: []schema.Choice{{
		Message: schema.Message{Role: "assistant", Content: schema.TextContent("Checking."), Reasoning: "think",
			ToolCalls: []schema.ToolCall{{ID: "call_1", Type: "function", Function: schema.ToolCallFunction{Name: "get_weather", Arguments: `{"city":"Paris"}`}}}},
		FinishReason: "tool_calls"}}}, "m")
	b, _ := json.Marshal(prev)
	var sdkPrev responses.Response
	if err := json.Unmarshal(b, &sdkPrev); err != nil {
		t.Fatal(err)
	}
	input := responses.ResponseInputParam{
		responses.ResponseInputItemParamOfMessage("What's the weather in Paris?", responses.EasyInputMessageRoleUser),
	}
	for _, it := range sdkPrev.Output {
		switch it.Type {
		case "message":
			p := it.AsMessage().ToParam()
			input = append(input, responses.ResponseInputItemUnionParam{OfOutputMessage: &p})
		case "function_call":
			p := it.AsFunctionCall().ToParam()
			input = append(input, responses.ResponseInputItemUnionParam{OfFunctionCall: &p})
		case "reasoning":
			p := it.AsReasoning().ToParam()
			input = append(input, responses.ResponseInputItemUnionParam{OfReasoning: &p})
		}
	}
	output := responses.ResponseInputItemParamOfFunctionCallOutput(`{"temp_c":18}`)
	output.OfFunctionCallOutput.CallID = openai.String("call_1")
	input = append(input, output,
		responses.ResponseInputItemParamOfMessage(responses.ResponseInputMessageContentListParam{
			responses.ResponseInputContentParamOfInputText("And this picture?"),
			{OfInputImage: &responses.ResponseInputImageParam{ImageURL: openai.String("https://example.com/a.png"), Detail: responses.ResponseInputImageDetailLow}},
		}, responses.EasyInputMessageRoleUser),
	)
	params := responses.ResponseNewParams{
		Model:           shared.ResponsesModel("gpt-4.1"),
		Instructions:    openai.String("Be brief."),
		Input:           responses.ResponseNewParamsInputUnion{OfInputItemList: input},
		MaxOutputTokens: openai.Int(300),
		Temperature:     openai.Float(0.5),
		Reasoning:       shared.ReasoningParam{Effort: shared.ReasoningEffortLow},
		Tools: []responses.ToolUnionParam{{OfFunction: &responses.FunctionToolParam{
			Name: "get_weather", Description: openai.String("Weather"), Strict: openai.Bool(true),
			Parameters: map[string]any{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}},
				"required": []string{"city"}, "additionalProperties": false},
		}}},
		ToolChoice: responses.ResponseNewParamsToolChoiceUnion{OfFunctionTool: &responses.ToolChoiceFunctionParam{Name: "get_weather"}},
		Text: responses.ResponseTextConfigParam{Format: responses.ResponseFormatTextConfigUnionParam{
			OfJSONSchema: &responses.ResponseFormatTextJSONSchemaConfigParam{Name: "w", Schema: map[string]any{"type": "object"}, Strict: openai.Bool(true)},
		}},
		Store: openai.Bool(false),
		User:  openai.String("u-1"),
	}
	body, err := json.Marshal(params)
	if err != nil {
		t.Fatal(err)
	}
	chat, err := toChat(body)
	if err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	got, _ := json.Marshal(chat)
	want := `{"model":"gpt-4.1","messages":[
		{"role":"system","content":"Be brief."},
		{"role":"user","content":"What's the weather in Paris?"},
		{"role":"assistant","content":"Checking.","tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
		{"role":"tool","content":"{\"temp_c\":18}","tool_call_id":"call_1"},
		{"role":"user","content":[{"type":"text","text":"And this picture?"},{"type":"image_url","image_url":{"url":"https://example.com/a.png","detail":"low"}}]}],
		"max_completion_tokens":300,"temperature":0.5,
		"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{"additionalProperties":false,"properties":{"city":{"type":"string"}},"required":["city"],"type":"object"},"strict":true}}],
		"tool_choice":{"function":{"name":"get_weather"},"type":"function"},
		"response_format":{"json_schema":{"name":"w","schema":{"type":"object"},"strict":true},"type":"json_schema"},
		"user":"u-1","reasoning_effort":"low"}`
	for _, d := range providertest.JSONDiff("chat", providertest.DecodeAny(t, []byte(want)), providertest.DecodeAny(t, got)) {
		t.Error(d)
	}
}
