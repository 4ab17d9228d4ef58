package openai

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3/responses"

	"github.com/llmgw/gateway/app/providers/providertest"
	"github.com/llmgw/gateway/app/schema"
)

// sdkResponse decodes a response with the official SDK and fails on any
// required field missing or field of the wrong type.
func sdkResponse(t *testing.T, b []byte) *responses.Response {
	t.Helper()
	var r responses.Response
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	for _, p := range sdkProblems("response", reflect.ValueOf(r)) {
		t.Errorf("SDK: %s", p)
	}
	return &r
}

// TestResponsesFromChatGolden: testdata/responses/response_*.json chat
// completions become the expected Response, which the official SDK reads.
func TestResponsesFromChatGolden(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "responses", "response_*.json"))
	if len(files) < 4 {
		t.Fatalf("%d fixtures", len(files))
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			raw, _ := os.ReadFile(f)
			var tc struct {
				Model string              `json:"model"`
				Chat  schema.ChatResponse `json:"chat"`
				Want  json.RawMessage     `json:"want"`
			}
			if err := json.Unmarshal(raw, &tc); err != nil {
				t.Fatal(err)
			}
			resp := FromChatResponse(&tc.Chat, tc.Model)
			b, err := json.Marshal(resp)
			if err != nil {
				t.Fatal(err)
			}
			got := providertest.DecodeAny(t, b).(map[string]any)
			if at, ok := got["completed_at"].(float64); ok {
				if int64(at) < resp.CreatedAt {
					t.Errorf("completed_at %v before created_at %d", at, resp.CreatedAt)
				}
				got["completed_at"] = "SET"
			}
			for _, d := range providertest.JSONDiff("response", providertest.DecodeAny(t, tc.Want), got) {
				t.Error(d)
			}
			r := sdkResponse(t, b)
			if r.ID != resp.ID || string(r.Status) != resp.Status || r.Usage.TotalTokens != int64(usageTotal(resp.Usage)) {
				t.Errorf("SDK read %s %s %d", r.ID, r.Status, r.Usage.TotalTokens)
			}
			wantText := ""
			for _, it := range resp.Output {
				for _, c := range it.Content {
					wantText += c.Text
				}
			}
			if r.OutputText() != wantText {
				t.Errorf("SDK OutputText %q, want %q", r.OutputText(), wantText)
			}
		})
	}
}

func usageTotal(u *ResponsesUsage) int {
	if u == nil {
		return 0
	}
	return u.TotalTokens
}

func TestResponsesFromChatEdgeCases(t *testing.T) {
	// No choices, no id: an empty message, a generated id.
	r := FromChatResponse(&schema.ChatResponse{}, "m")
	if !strings.HasPrefix(r.ID, "resp_") || len(r.ID) < 20 || len(r.Output) != 1 || r.Output[0].Type != "message" ||
		len(r.Output[0].Content) != 1 || r.Output[0].Content[0].Text != "" || r.Status != "completed" || r.CreatedAt == 0 {
		t.Errorf("empty: %s", providertest.Short(r))
	}
	// Text and tool calls, one without an id; content filter.
	r = FromChatResponse(&schema.ChatResponse{ID: "x", Choices: []schema.Choice{{FinishReason: "content_filter", Message: schema.Message{
		Content:   schema.Content{Parts: []schema.ContentPart{{Type: "text", Text: "a"}, {Type: "text", Text: "b"}}},
		ToolCalls: []schema.ToolCall{{Function: schema.ToolCallFunction{Name: "f", Arguments: "{}"}}},
	}}}}, "m")
	if len(r.Output) != 2 || r.Output[0].Content[0].Text != "a\nb" || !strings.HasPrefix(r.Output[1].CallID, "call_") ||
		r.Output[1].ID != "fc_x_1" || r.Status != "incomplete" || r.IncompleteDetails.Reason != "content_filter" || r.CompletedAt != nil {
		t.Errorf("mixed: %s", providertest.Short(r))
	}
	b, _ := json.Marshal(r)
	sdkResponse(t, b)
}

// TestResponsesEchoRequest: the request's settings come back in the response.
func TestResponsesEchoRequest(t *testing.T) {
	var fx struct {
		Request json.RawMessage `json:"request"`
	}
	if err := json.Unmarshal(responsesFixture(t, "request_structured.json"), &fx); err != nil {
		t.Fatal(err)
	}
	req, err := DecodeResponsesRequest(fx.Request)
	if err != nil {
		t.Fatal(err)
	}
	req.Metadata = json.RawMessage(`{"k":"v"}`)
	r := FromChatResponse(&schema.ChatResponse{ID: "e", Created: 5, Choices: []schema.Choice{{Message: schema.Message{Content: schema.TextContent("{}")}}}}, "gpt-5").EchoRequest(req)
	b, _ := json.Marshal(r)
	got := providertest.DecodeAny(t, b).(map[string]any)
	want := map[string]any{
		"instructions": "You extract calendar events.", "max_output_tokens": 2048.0, "parallel_tool_calls": false,
		"reasoning": map[string]any{"effort": "minimal", "summary": "auto"}, "temperature": 0.2, "top_p": 0.95,
		"tool_choice": map[string]any{"type": "function", "name": "lookup_contact"}, "store": false,
		"metadata": map[string]any{"k": "v"},
	}
	for k, v := range want {
		for _, d := range providertest.JSONDiff(k, v, got[k]) {
			t.Error(d)
		}
	}
	tools := got["tools"].([]any)
	if len(tools) != 1 || tools[0].(map[string]any)["strict"] != true || tools[0].(map[string]any)["name"] != "lookup_contact" {
		t.Errorf("tools %s", providertest.Short(tools))
	}
	text := got["text"].(map[string]any)
	if text["verbosity"] != "low" || text["format"].(map[string]any)["name"] != "calendar_event" {
		t.Errorf("text %s", providertest.Short(text))
	}
	sdk := sdkResponse(t, b)
	if sdk.Tools[0].AsFunction().Name != "lookup_contact" || sdk.Text.Format.AsJSONSchema().Name != "calendar_event" {
		t.Errorf("SDK read tools %s text %s", sdk.Tools[0].RawJSON(), sdk.Text.RawJSON())
	}
}
