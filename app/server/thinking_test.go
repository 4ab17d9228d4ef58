package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/openai/openai-go/v3"

	"github.com/llmgw/gateway/app/fakeupstream"
)

// thinkingPrompt makes the fake Anthropic upstream think (signed), redact
// some thinking and call get_weather; after the tool result it thinks again
// and answers "Done: <result>".
const thinkingPrompt = "#thinking get_weather {\"city\":\"Paris\"}\nWeather in Paris?"

// wantSentBack is the assistant turn the upstream must get back in the tool
// loop's second step: the blocks it issued, signatures unchanged, thinking
// first.
var wantSentBack = []any{
	map[string]any{"type": "thinking", "thinking": "I should call get_weather. Let me do that.", "signature": fakeupstream.ThinkingSignature},
	map[string]any{"type": "redacted_thinking", "data": fakeupstream.RedactedThinkingData},
	map[string]any{"type": "tool_use", "id": "toolu_fakethinking1", "name": "get_weather", "input": map[string]any{"city": "Paris"}},
}

// checkSentBack: the upstream's last request (made for this turn: streamed
// as the client's) kept thinking on and got the assistant turn's thinking
// blocks back exactly as it issued them.
func checkSentBack(t *testing.T, h *harness, stream bool) {
	t.Helper()
	last := h.fake.Last()
	if s, _ := last.Body["stream"].(bool); last.Path != "/v1/messages" || s != stream {
		t.Fatalf("upstream got %s stream=%v", last.Path, last.Body["stream"])
	}
	if th, _ := last.Body["thinking"].(map[string]any); th["type"] != "enabled" {
		t.Errorf("thinking turned off in the tool loop: %v", last.Body["thinking"])
	}
	msgs, _ := last.Body["messages"].([]any)
	if len(msgs) != 3 {
		t.Fatalf("upstream messages %v", msgs)
	}
	asst, _ := msgs[1].(map[string]any)
	if !reflect.DeepEqual(asst["content"], wantSentBack) {
		b, _ := json.Marshal(asst)
		t.Errorf("assistant turn sent back:\n%s", b)
	}
}

// TestThinkingRoundTripAnthropicSDK: Anthropic SDK -> /v1/messages ->
// Anthropic upstream with extended thinking in a tool loop. The client gets
// the thinking blocks with their signatures and the redacted block (plain and
// streamed), sends them back, and the upstream receives them unchanged.
func TestThinkingRoundTripAnthropicSDK(t *testing.T) {
	h := withNativeUpstreams(t, "sqlite")
	client := anthropicClient(h, h.setup.APIKey)
	ctx := context.Background()
	tools := []anthropic.ToolUnionParam{{OfTool: &anthropic.ToolParam{Name: "get_weather",
		InputSchema: anthropic.ToolInputSchemaParam{Properties: map[string]any{"city": map[string]any{"type": "string"}}}}}}
	for _, stream := range []bool{false, true} {
		t.Run(fmt.Sprintf("stream=%v", stream), func(t *testing.T) {
			send := func(msgs []anthropic.MessageParam) anthropic.Message {
				t.Helper()
				params := anthropic.MessageNewParams{Model: "claude-sonnet-4-5", MaxTokens: 4096,
					Thinking: anthropic.ThinkingConfigParamOfEnabled(2048), Tools: tools, Messages: msgs}
				if !stream {
					msg, err := client.Messages.New(ctx, params)
					if err != nil {
						t.Fatal(err)
					}
					return *msg
				}
				s := client.Messages.NewStreaming(ctx, params)
				acc := anthropic.Message{}
				for s.Next() {
					if err := acc.Accumulate(s.Current()); err != nil {
						t.Fatal(err)
					}
				}
				if err := s.Err(); err != nil {
					t.Fatal(err)
				}
				return acc
			}
			first := anthropic.NewUserMessage(anthropic.NewTextBlock(thinkingPrompt))
			msg := send([]anthropic.MessageParam{first})
			c := msg.Content
			if len(c) != 3 || c[0].Type != "thinking" || c[0].Signature != fakeupstream.ThinkingSignature ||
				c[0].Thinking != "I should call get_weather. Let me do that." ||
				c[1].Type != "redacted_thinking" || c[1].Data != fakeupstream.RedactedThinkingData ||
				c[2].Type != "tool_use" || msg.StopReason != "tool_use" {
				t.Fatalf("first answer %s", msg.RawJSON())
			}

			result := anthropic.NewUserMessage(anthropic.NewToolResultBlock(c[2].ID, "18°C", false))
			msg = send([]anthropic.MessageParam{first, msg.ToParam(), result})
			checkSentBack(t, h, stream)
			c = msg.Content
			if len(c) != 2 || c[0].Type != "thinking" || c[0].Signature != fakeupstream.FinalThinkingSignature ||
				c[1].Text != "Done: 18°C" || msg.StopReason != "end_turn" {
				t.Fatalf("second answer %s", msg.RawJSON())
			}
		})
	}
}

// reasoningDetails reads reasoning_details from a message's or a delta's raw
// JSON (openai-go has no field for it).
func reasoningDetails(t *testing.T, raw string) []map[string]any {
	t.Helper()
	var m struct {
		ReasoningDetails []map[string]any `json:"reasoning_details"`
	}
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatal(err)
	}
	return m.ReasoningDetails
}

// TestThinkingRoundTripOpenAISDK: openai-go -> /v1/chat/completions ->
// Anthropic upstream. The client gets reasoning_details (OpenRouter's
// format: whole items, or pieces in a stream); sending them back on the
// assistant message reaches the upstream as the signed thinking blocks, and
// the tool loop keeps thinking on.
func TestThinkingRoundTripOpenAISDK(t *testing.T) {
	h := withNativeUpstreams(t, "sqlite")
	ctx := context.Background()
	tools := []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{
		Name: "get_weather", Parameters: openai.FunctionParameters{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}}})}
	first := openai.UserMessage(thinkingPrompt)
	params := func(msgs ...openai.ChatCompletionMessageParamUnion) openai.ChatCompletionNewParams {
		return openai.ChatCompletionNewParams{Model: "claude-sonnet-4-5", Messages: msgs, Tools: tools, ReasoningEffort: "low"}
	}
	// secondStep sends the assistant message back with the reasoning_details
	// the client got, then the tool result.
	secondStep := func(t *testing.T, msg openai.ChatCompletionMessage, details []map[string]any) string {
		t.Helper()
		asst := msg.ToAssistantMessageParam()
		asst.SetExtraFields(map[string]any{"reasoning_details": details})
		n := len(h.fake.Requests())
		resp, err := h.client.Chat.Completions.New(ctx, params(first, openai.ChatCompletionMessageParamUnion{OfAssistant: &asst},
			openai.ToolMessage("18°C", msg.ToolCalls[0].ID)))
		if err != nil {
			t.Fatal(err)
		}
		if len(h.fake.Requests()) != n+1 {
			t.Fatal("no upstream call")
		}
		checkSentBack(t, h, false)
		got := reasoningDetails(t, resp.Choices[0].Message.RawJSON())
		if len(got) != 1 || got[0]["signature"] != fakeupstream.FinalThinkingSignature {
			t.Errorf("second answer's reasoning_details %v", got)
		}
		return resp.Choices[0].Message.Content
	}

	t.Run("plain", func(t *testing.T) {
		resp, err := h.client.Chat.Completions.New(ctx, params(first))
		if err != nil {
			t.Fatal(err)
		}
		msg := resp.Choices[0].Message
		details := reasoningDetails(t, msg.RawJSON())
		want := []map[string]any{
			{"type": "reasoning.text", "text": "I should call get_weather. Let me do that.", "signature": fakeupstream.ThinkingSignature,
				"format": "anthropic-claude-v1", "index": 0.0},
			{"type": "reasoning.encrypted", "data": fakeupstream.RedactedThinkingData, "format": "anthropic-claude-v1", "index": 1.0},
		}
		if !reflect.DeepEqual(details, want) || len(msg.ToolCalls) != 1 || msg.JSON.ExtraFields["reasoning"].Raw() != `"I should call get_weather. Let me do that."` {
			t.Fatalf("first answer %s", msg.RawJSON())
		}
		if got := secondStep(t, msg, details); got != "Done: 18°C" {
			t.Errorf("answer %q", got)
		}
	})

	t.Run("stream", func(t *testing.T) {
		// The client keeps the streamed pieces as they came (text pieces,
		// then the signature): the gateway merges them back into blocks.
		s := h.client.Chat.Completions.NewStreaming(ctx, params(first))
		var acc openai.ChatCompletionAccumulator
		var pieces []map[string]any
		for s.Next() {
			c := s.Current()
			acc.AddChunk(c)
			if len(c.Choices) > 0 {
				if raw := c.Choices[0].Delta.JSON.ExtraFields["reasoning_details"].Raw(); raw != "" {
					pieces = append(pieces, reasoningDetails(t, `{"reasoning_details":`+raw+`}`)...)
				}
			}
		}
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		if len(pieces) != 4 || pieces[2]["signature"] != fakeupstream.ThinkingSignature || pieces[3]["data"] != fakeupstream.RedactedThinkingData {
			t.Fatalf("streamed reasoning_details %v", pieces)
		}
		msg := acc.Choices[0].Message
		if len(msg.ToolCalls) != 1 {
			t.Fatalf("accumulated %+v", msg)
		}
		if got := secondStep(t, msg, pieces); got != "Done: 18°C" {
			t.Errorf("answer %q", got)
		}
	})
}

// TestReasoningToOpenAIUpstream: the neutral (OpenRouter-style) reasoning
// object reaches OpenAI as reasoning_effort, and reasoning_details, which
// OpenAI does not know, are not sent.
func TestReasoningToOpenAIUpstream(t *testing.T) {
	h := startGateway(t, "sqlite", nil)
	asst := openai.AssistantMessage("Hi.")
	asst.OfAssistant.SetExtraFields(map[string]any{"reasoning_details": []map[string]any{
		{"type": "reasoning.text", "text": "x", "signature": "sig", "format": "anthropic-claude-v1", "index": 0}}})
	params := openai.ChatCompletionNewParams{Model: "gpt-5", Messages: []openai.ChatCompletionMessageParamUnion{
		openai.UserMessage("hello"), asst, openai.UserMessage("again")}}
	params.SetExtraFields(map[string]any{"reasoning": map[string]any{"effort": "high", "max_tokens": 1000, "exclude": true}})
	if _, err := h.client.Chat.Completions.New(context.Background(), params); err != nil {
		t.Fatal(err)
	}
	last := h.fake.Last()
	msgs, _ := last.Body["messages"].([]any)
	if last.Path != "/v1/chat/completions" || last.Body["reasoning"] != nil || last.Body["reasoning_effort"] != "high" || len(msgs) != 3 {
		t.Fatalf("upstream got %s %v", last.Path, last.Body)
	}
	if _, ok := msgs[1].(map[string]any)["reasoning_details"]; ok {
		t.Errorf("reasoning_details sent to OpenAI: %v", msgs[1])
	}
}
