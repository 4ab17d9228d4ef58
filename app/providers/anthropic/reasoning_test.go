package anthropic

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/llmgw/gateway/app/providers/providertest"
	"github.com/llmgw/gateway/app/schema"
)

// TestRoundTripThinking: thinking and redacted_thinking blocks an Anthropic
// client sends back reach an Anthropic upstream exactly as sent, and the tool
// loop keeps thinking on.
func TestRoundTripThinking(t *testing.T) {
	in := `{"model":"claude-sonnet-4-5","max_tokens":4096,"thinking":{"type":"enabled","budget_tokens":2048},
	"messages":[
	  {"role":"user","content":[{"type":"text","text":"Weather in Paris?"}]},
	  {"role":"assistant","content":[
	    {"type":"thinking","thinking":"The user wants the weather.","signature":"ErUBCkYIBxgCIkB0aGlua2luZy1zaWduYXR1cmUtb25l"},
	    {"type":"redacted_thinking","data":"EmwKAhgBEgyRedactedThinkingData+/=="},
	    {"type":"thinking","thinking":"","signature":"ErUBomitted-display"},
	    {"type":"text","text":"Checking."},
	    {"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}}]},
	  {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"18C"}]}
	],
	"tools":[{"name":"get_weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}]}`
	r, err := DecodeMessagesRequest([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	chat, err := r.ToChat()
	if err != nil {
		t.Fatal(err)
	}
	if m := chat.Messages[1]; m.Reasoning != "" || len(m.ReasoningDetails) != 3 || m.ReasoningDetails[1].Type != schema.ReasoningEncrypted {
		t.Fatalf("neutral assistant message %+v", m)
	}
	out, _, err := translateRequest("anthropic", chat, r.Model, 4096)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(out)
	want := providertest.DecodeAny(t, []byte(in)).(map[string]any)
	msgs := want["messages"].([]any)
	msgs[2].(map[string]any)["content"].([]any)[0].(map[string]any)["content"] = "18C"
	for _, d := range providertest.JSONDiff("body", want, providertest.DecodeAny(t, got)) {
		t.Error(d)
	}
}

// TestToolLoopWithoutDetails: the old workaround still holds for clients that
// only keep the reasoning text: that step runs without thinking.
func TestToolLoopWithoutDetails(t *testing.T) {
	body := `{"messages":[{"role":"user","content":"q"},
	{"role":"assistant","content":null,"reasoning":"think","reasoning_details":[{"type":"reasoning.text","text":"think","format":"anthropic-claude-v1","index":0}],
	 "tool_calls":[{"id":"toolu_1","type":"function","function":{"name":"f","arguments":"{}"}}]},
	{"role":"tool","tool_call_id":"toolu_1","content":"ok"}],
	"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"reasoning_effort":"high"}`
	out, _, err := translateRequest("anthropic", providertest.ChatRequest(t, body), "claude", 32000)
	if err != nil {
		t.Fatal(err)
	}
	if out.Thinking != nil || hasBlock(out.Messages[1].Content.Blocks, "thinking") {
		t.Errorf("thinking %+v, assistant %+v", out.Thinking, out.Messages[1].Content.Blocks)
	}
}

// TestFromChatResponseThinking: the blocks of Anthropic reasoning_details,
// signatures included, reach an Anthropic client; other formats do not.
func TestFromChatResponseThinking(t *testing.T) {
	resp := &schema.ChatResponse{ID: "msg_1", Choices: []schema.Choice{{FinishReason: "tool_calls", Message: schema.Message{
		Role: "assistant", Reasoning: "AB",
		ReasoningDetails: []schema.ReasoningDetail{
			{Type: schema.ReasoningText, Format: schema.ReasoningFormatAnthropic, Index: 0, Text: "A", Signature: "sig-1"},
			{Type: schema.ReasoningEncrypted, Format: schema.ReasoningFormatAnthropic, Index: 1, Data: "red"},
			{Type: schema.ReasoningText, Format: schema.ReasoningFormatAnthropic, Index: 2, Text: "B", Signature: "sig-2"},
			{Type: schema.ReasoningEncrypted, Format: "openai-responses-v1", Index: 3, Data: "gAAAA"},
		},
		ToolCalls: []schema.ToolCall{{ID: "toolu_1", Type: "function", Function: schema.ToolCallFunction{Name: "f", Arguments: "{}"}}},
	}}}}
	b, _ := json.Marshal(FromChatResponse(resp, "claude"))
	var got struct {
		Content []map[string]any `json:"content"`
	}
	_ = json.Unmarshal(b, &got)
	want := []map[string]any{
		{"type": "thinking", "thinking": "A", "signature": "sig-1"},
		{"type": "redacted_thinking", "data": "red"},
		{"type": "thinking", "thinking": "B", "signature": "sig-2"},
		{"type": "tool_use", "id": "toolu_1", "name": "f", "input": map[string]any{}},
	}
	if !reflect.DeepEqual(got.Content, want) {
		t.Errorf("content %s", b)
	}

	// Without Anthropic details, the reasoning text, unsigned.
	resp.Choices[0].Message.ReasoningDetails = resp.Choices[0].Message.ReasoningDetails[3:]
	b, _ = json.Marshal(FromChatResponse(resp, "claude"))
	if !strings.Contains(string(b), `{"type":"thinking","thinking":"AB","signature":""}`) || strings.Contains(string(b), "redacted") {
		t.Errorf("content %s", b)
	}
}

// TestStreamEncoderReasoningDetails: Anthropic reasoning_details become
// thinking blocks per index with signature_delta, and redacted_thinking
// blocks; the reasoning text they carry is written once.
func TestStreamEncoderReasoningDetails(t *testing.T) {
	text := func(i int, s string) schema.ReasoningDetail {
		return schema.ReasoningDetail{Type: schema.ReasoningText, Format: schema.ReasoningFormatAnthropic, Index: i, Text: s}
	}
	sig := func(i int, s string) schema.ReasoningDetail {
		return schema.ReasoningDetail{Type: schema.ReasoningText, Format: schema.ReasoningFormatAnthropic, Index: i, Signature: s}
	}
	rd := func(d ...schema.ReasoningDetail) []schema.ReasoningDetail { return d }
	enc := NewStreamEncoder("claude")
	var out bytes.Buffer
	for _, c := range []*schema.ChatChunk{
		chunk(schema.Delta{Role: "assistant"}, ""),
		chunk(schema.Delta{Reasoning: strp("Let me "), ReasoningDetails: rd(text(0, "Let me "))}, ""),
		chunk(schema.Delta{Reasoning: strp("think."), ReasoningDetails: rd(text(0, "think."))}, ""),
		chunk(schema.Delta{ReasoningDetails: rd(sig(0, "sig-A"))}, ""),
		chunk(schema.Delta{ReasoningDetails: rd(schema.ReasoningDetail{Type: schema.ReasoningEncrypted, Format: schema.ReasoningFormatAnthropic, Index: 1, Data: "red"})}, ""),
		// A whole block in one delta (as respcache replays a message).
		chunk(schema.Delta{Reasoning: strp("More."), ReasoningDetails: rd(schema.ReasoningDetail{Type: schema.ReasoningText, Format: schema.ReasoningFormatAnthropic, Index: 2, Text: "More.", Signature: "sig-B"})}, ""),
		// Not Anthropic's: the text only.
		chunk(schema.Delta{Reasoning: strp("Summary."), ReasoningDetails: rd(schema.ReasoningDetail{Type: schema.ReasoningSummary, Format: "openai-responses-v1", Summary: "Summary."})}, ""),
		chunk(schema.Delta{Content: strp("Done.")}, "stop"),
	} {
		if err := enc.WriteChunk(&out, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Finish(&out, nil); err != nil {
		t.Fatal(err)
	}
	m, err := checkSequence(parseEvents(t, out.Bytes()))
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	want := []block{
		{typ: "thinking", text: "Let me think.", sig: "sig-A"},
		{typ: "redacted_thinking", text: "red"},
		{typ: "thinking", text: "More.", sig: "sig-B"},
		{typ: "thinking", text: "Summary."},
		{typ: "text", text: "Done."},
	}
	if !reflect.DeepEqual(m.blocks, want) {
		t.Errorf("blocks %+v\n%s", m.blocks, out.String())
	}
	if !strings.Contains(out.String(), `"delta":{"type":"signature_delta","signature":"sig-A"}`) {
		t.Errorf("no signature_delta:\n%s", out.String())
	}
}
