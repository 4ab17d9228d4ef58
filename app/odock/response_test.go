package odock

import (
	"encoding/json"
	"testing"

	"github.com/llmgw/gateway/app/schema"
)

// The document has no response example; these goldens follow the response
// fields it lists (lines 123-135) under this package's names.
func TestFromChatGolden(t *testing.T) {
	for _, c := range []struct{ name, provider string }{
		{"text", "openai"},
		{"tool_calls", ""}, // provider from the served model's prefix
		{"max_tokens", "google-ai-studio"},
		{"refusal", ""},
		{"stop_with_tools", "groq"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var resp schema.ChatResponse
			if err := json.Unmarshal(readFile(t, "responses/"+c.name+".chat.json"), &resp); err != nil {
				t.Fatal(err)
			}
			golden(t, "responses/"+c.name+".odock.golden.json", indentJSON(t, FromChat(&resp, c.provider)))
		})
	}
}

// The exact compact body for the simplest answer, with every field present.
func TestFromChatExact(t *testing.T) {
	resp := &schema.ChatResponse{ID: "chatcmpl-1", Model: "openai/my-chat-model",
		Choices: []schema.Choice{{Message: schema.Message{Role: "assistant", Content: schema.TextContent("Hi.")}, FinishReason: "stop"}},
		Usage:   &schema.Usage{PromptTokens: 3, CompletionTokens: 2, TotalTokens: 5}}
	want := `{"provider":"openai","model":"my-chat-model","content":"Hi.","stop_reason":"end_turn",` +
		`"content_blocks":[{"type":"text","text":"Hi."}],"tool_calls":[],"input_tokens":3,"output_tokens":2,` +
		`"provider_usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5,"cost":null},"provider_request_id":"chatcmpl-1"}`
	if got := mustJSON(t, FromChat(resp, "openai")); got != want {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
	// Nothing at all: still a well-formed body.
	want = `{"provider":"","model":"","content":"","stop_reason":"","content_blocks":[],"tool_calls":[],` +
		`"input_tokens":0,"output_tokens":0,"provider_usage":null,"provider_request_id":""}`
	if got := mustJSON(t, FromChat(nil, "")); got != want {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
}

func TestStopReason(t *testing.T) {
	for in, want := range map[string]string{"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use",
		"function_call": "tool_use", "content_filter": "content_filter", "": "", "pause_turn": "pause_turn"} {
		if got := StopReason(in); got != want {
			t.Errorf("StopReason(%q) = %q, want %q", in, got, want)
		}
	}
}

// A tool loop through the Odock shapes: the request's tools reach the
// upstream as OpenAI tools, the upstream's calls come back as tool_calls and
// content_blocks, and either of those, replayed by the client with the tool
// results, gives the upstream the same assistant turn it produced.
func TestToolRoundTrip(t *testing.T) {
	first := `{"provider":"openai","model":"gpt-4o","messages":[{"role":"user","content":"Weather in Paris?"}],
		"tools":[{"name":"get_weather","description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}],
		"tool_choice":"auto"}`
	r, err := DecodeRequest([]byte(first))
	if err != nil {
		t.Fatal(err)
	}
	req, err := ToChat(r)
	if err != nil {
		t.Fatal(err)
	}
	wantTools := `[{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]`
	if got := mustJSON(t, req.Tools); got != wantTools || string(req.ToolChoice) != `"auto"` {
		t.Fatalf("tools %s, tool_choice %s", got, req.ToolChoice)
	}

	upstreamCalls := []schema.ToolCall{
		{ID: "call_a", Type: "function", Function: schema.ToolCallFunction{Name: "get_weather", Arguments: `{"city":"Paris"}`}},
		{ID: "call_b", Type: "function", Function: schema.ToolCallFunction{Name: "get_weather", Arguments: `{"city":"Lyon"}`}},
	}
	upstream := &schema.ChatResponse{ID: "chatcmpl-9", Model: "openai/gpt-4o", Choices: []schema.Choice{{
		Message: schema.Message{Role: "assistant", Content: schema.TextContent("Let me check."), ToolCalls: upstreamCalls}, FinishReason: "tool_calls"}}}
	out := FromChat(upstream, "openai")
	if out.StopReason != StopToolUse || len(out.ToolCalls) != 2 || len(out.ContentBlocks) != 3 {
		t.Fatalf("response %s", mustJSON(t, out))
	}

	wantAssistant := mustJSON(t, schema.Message{Role: "assistant", Content: schema.TextContent("Let me check."), ToolCalls: upstreamCalls})
	results := `{"role":"tool","tool_call_id":"call_a","content":"18°C"},{"role":"tool","tool_call_id":"call_b","content":"20°C"}`
	blockResults := `{"role":"user","content":[{"type":"tool_result","tool_use_id":"call_a","content":"18°C"},{"type":"tool_result","tool_use_id":"call_b","content":"20°C"}]}`
	for name, assistant := range map[string]string{
		"tool_calls":     `{"role":"assistant","content":` + mustJSON(t, out.Content) + `,"tool_calls":` + mustJSON(t, out.ToolCalls) + `}`,
		"content_blocks": `{"role":"assistant","content":` + mustJSON(t, out.ContentBlocks) + `}`,
	} {
		for rname, res := range map[string]string{"tool messages": results, "tool_result blocks": blockResults} {
			body := `{"provider":"openai","model":"gpt-4o","messages":[{"role":"user","content":"Weather in Paris?"},` +
				assistant + `,` + res + `],"tools":[{"name":"get_weather"}]}`
			r2, err := DecodeRequest([]byte(body))
			if err != nil {
				t.Fatalf("%s/%s: %v\n%s", name, rname, err, body)
			}
			req2, err := ToChat(r2)
			if err != nil {
				t.Fatalf("%s/%s: %v", name, rname, err)
			}
			if len(req2.Messages) != 4 {
				t.Fatalf("%s/%s: %d messages: %s", name, rname, len(req2.Messages), mustJSON(t, req2.Messages))
			}
			if got := mustJSON(t, req2.Messages[1]); got != wantAssistant {
				t.Errorf("%s/%s: assistant turn\n got %s\nwant %s", name, rname, got, wantAssistant)
			}
			wantTool := `{"role":"tool","content":"18°C","tool_call_id":"call_a"}`
			if got := mustJSON(t, req2.Messages[2]); got != wantTool {
				t.Errorf("%s/%s: tool result\n got %s\nwant %s", name, rname, got, wantTool)
			}
		}
	}
}

func TestErrorBody(t *testing.T) {
	for _, c := range []struct {
		status        int
		code, message string
		want          string
	}{
		{402, "", "Budget exceeded for this API key.", `{"error":{"code":"budget_exceeded","message":"Budget exceeded for this API key.","status":402}}`},
		{402, "billing_error", "Insufficient credits.", `{"error":{"code":"budget_exceeded","message":"Insufficient credits.","status":402}}`},
		{503, "", "", `{"error":{"code":"dependency_unavailable","message":"Service Unavailable","status":503}}`},
		{400, "", "messages[1].role: must be one of ...", `{"error":{"code":"invalid_request","message":"messages[1].role: must be one of ...","status":400}}`},
		{401, "", "Unauthorized: invalid API key.", `{"error":{"code":"invalid_api_key","message":"Unauthorized: invalid API key.","status":401}}`},
		{403, "model_not_allowed", "Model access denied.", `{"error":{"code":"model_not_allowed","message":"Model access denied.","status":403}}`},
		{403, "permission_denied", "x", `{"error":{"code":"access_denied","message":"x","status":403}}`},
		{429, "rpm_exceeded", "Too many requests.", `{"error":{"code":"rpm_exceeded","message":"Too many requests.","status":429}}`},
		{502, "", "Upstream failed.", `{"error":{"code":"upstream_error","message":"Upstream failed.","status":502}}`},
		{404, "model_not_found", "Model 'x' not found.", `{"error":{"code":"model_not_found","message":"Model 'x' not found.","status":404}}`},
		{0, "", "", `{"error":{"code":"internal_error","message":"Internal Server Error","status":500}}`},
	} {
		if got := string(ErrorBody(c.status, c.code, c.message)); got != c.want {
			t.Errorf("ErrorBody(%d, %q, %q)\n got %s\nwant %s", c.status, c.code, c.message, got, c.want)
		}
	}
}
