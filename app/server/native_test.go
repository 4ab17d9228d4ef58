package server_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	aoption "github.com/anthropics/anthropic-sdk-go/option"
	"github.com/openai/openai-go/v3"
	"google.golang.org/genai"
)

// withNativeUpstreams also serves Anthropic and Google models, from the fake
// upstream speaking their wire formats.
func withNativeUpstreams(t *testing.T, dialect string) *harness {
	t.Helper()
	h := startGatewayTB(t, dialect, map[string]string{
		"LLM_ANTHROPIC_API_KEY": "sk-ant-test", "LLM_ANTHROPIC_BASE_URL": "FAKE",
		"LLM_GOOGLE_AI_STUDIO_API_KEY": "g-test", "LLM_GOOGLE_AI_STUDIO_BASE_URL": "FAKE",
	})
	return h
}

// TestOpenAIClientAgainstEveryUpstreamKind: openai-go talks OpenAI format; the
// gateway translates to Anthropic's and Gemini's wire formats and back.
func TestOpenAIClientAgainstEveryUpstreamKind(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		h := withNativeUpstreams(t, dialect)
		ctx := context.Background()
		for _, model := range []string{"claude-sonnet-4-5", "gemini-2.5-flash", "gpt-4o-mini"} {
			resp, err := h.client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
				Model: model, Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("be brief"), openai.UserMessage("hi there")},
			})
			if err != nil {
				t.Fatalf("%s: %v", model, err)
			}
			if resp.Choices[0].Message.Content != "Hello! You said: hi there" || resp.Choices[0].FinishReason != "stop" || resp.Usage.PromptTokens == 0 || costOf(t, resp.Usage) <= 0 {
				t.Fatalf("%s: %s", model, resp.RawJSON())
			}
			last := h.fake.Last()
			switch model {
			case "claude-sonnet-4-5":
				if last.Path != "/v1/messages" || last.Header.Get("X-Api-Key") != "sk-ant-test" || last.Header.Get("Anthropic-Version") == "" ||
					last.Body["model"] != "claude-sonnet-4-5-20250929" || last.Body["system"] != "be brief" {
					t.Fatalf("anthropic upstream got %s %v %v", last.Path, last.Header, last.Body)
				}
			case "gemini-2.5-flash":
				if !strings.HasPrefix(last.Path, "/v1beta/models/gemini-2.5-flash:generateContent") || last.Header.Get("X-Goog-Api-Key") != "g-test" {
					t.Fatalf("gemini upstream got %s %v", last.Path, last.Header)
				}
			}
			// The same through a stream, ending with the priced usage chunk.
			stream := h.client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
				Model: model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("stream please")},
			})
			var text strings.Builder
			var lastChunk openai.ChatCompletionChunk
			for stream.Next() {
				c := stream.Current()
				if len(c.Choices) > 0 {
					text.WriteString(c.Choices[0].Delta.Content)
				}
				lastChunk = c
			}
			if err := stream.Err(); err != nil || text.String() != "Hello! You said: stream please" || lastChunk.Usage.TotalTokens == 0 {
				t.Fatalf("%s stream: %v %q %s", model, err, text.String(), lastChunk.RawJSON())
			}
		}
	})
}

// TestAnthropicCacheTokensPricedAtTheirRate: Anthropic reports cache reads
// outside input_tokens; the gateway folds them into prompt_tokens and prices
// them at the cache-read rate.
func TestAnthropicCacheTokensPricedAtTheirRate(t *testing.T) {
	h := withNativeUpstreams(t, "sqlite")
	resp, err := h.client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model: "anthropic/claude-sonnet-4-5", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("#cached 1000\nhi")},
	})
	if err != nil {
		t.Fatal(err)
	}
	u := resp.Usage
	// input_tokens = 3 words ("#cached 1000 hi") + 10 = 13; cache reads 1000; output "Hello! You said: hi" = 4.
	if u.PromptTokens != 1013 || u.PromptTokensDetails.CachedTokens != 1000 || u.CompletionTokens != 4 {
		t.Fatalf("usage = %s", u.RawJSON())
	}
	want := 13*3e-6 + 1000*0.3e-6 + 4*15e-6
	if c := costOf(t, u); !near(c, want) {
		t.Fatalf("cost = %v, want %v", c, want)
	}
}

func anthropicClient(h *harness, key string) anthropic.Client {
	return anthropic.NewClient(aoption.WithAPIKey(key), aoption.WithBaseURL(h.base), aoption.WithMaxRetries(0))
}

// TestAnthropicSDKMessages: the official Anthropic SDK against /v1/messages,
// served by an OpenAI upstream and by an Anthropic upstream, plain, streaming
// and with tools.
func TestAnthropicSDKMessages(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		h := withNativeUpstreams(t, dialect)
		client := anthropicClient(h, h.setup.APIKey)
		ctx := context.Background()
		for _, model := range []string{"gpt-4o-mini", "claude-sonnet-4-5"} {
			msg, err := client.Messages.New(ctx, anthropic.MessageNewParams{
				Model: anthropic.Model(model), MaxTokens: 256,
				System:   []anthropic.TextBlockParam{{Text: "be brief"}},
				Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi there"))},
			})
			if err != nil {
				t.Fatalf("%s: %v", model, err)
			}
			if len(msg.Content) != 1 || msg.Content[0].Text != "Hello! You said: hi there" || msg.StopReason != "end_turn" || msg.Usage.InputTokens == 0 || msg.Usage.OutputTokens != 5 {
				t.Fatalf("%s: %s", model, msg.RawJSON())
			}
			// Streaming, accumulated by the SDK from the exact event sequence.
			stream := client.Messages.NewStreaming(ctx, anthropic.MessageNewParams{
				Model: anthropic.Model(model), MaxTokens: 256,
				Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("stream please"))},
			})
			acc := anthropic.Message{}
			for stream.Next() {
				if err := acc.Accumulate(stream.Current()); err != nil {
					t.Fatalf("%s accumulate: %v", model, err)
				}
			}
			if err := stream.Err(); err != nil || len(acc.Content) != 1 || acc.Content[0].Text != "Hello! You said: stream please" || acc.StopReason != "end_turn" {
				t.Fatalf("%s stream: %v %s", model, err, acc.RawJSON())
			}
			// Tools: the model calls get_weather; the result goes back as tool_result.
			tools := []anthropic.ToolUnionParam{{OfTool: &anthropic.ToolParam{Name: "get_weather", Description: anthropic.String("Weather of a city"),
				InputSchema: anthropic.ToolInputSchemaParam{Properties: map[string]any{"city": map[string]any{"type": "string"}}}}}}
			first := anthropic.NewUserMessage(anthropic.NewTextBlock("#tool get_weather {\"city\":\"Paris\"}\nweather?"))
			msg, err = client.Messages.New(ctx, anthropic.MessageNewParams{Model: anthropic.Model(model), MaxTokens: 256, Tools: tools, Messages: []anthropic.MessageParam{first}})
			if err != nil {
				t.Fatalf("%s tools: %v", model, err)
			}
			if msg.StopReason != "tool_use" || len(msg.Content) != 1 || msg.Content[0].Type != "tool_use" || msg.Content[0].Name != "get_weather" || string(msg.Content[0].Input) != `{"city":"Paris"}` {
				t.Fatalf("%s tool_use: %s", model, msg.RawJSON())
			}
			_, err = client.Messages.New(ctx, anthropic.MessageNewParams{Model: anthropic.Model(model), MaxTokens: 256, Tools: tools, Messages: []anthropic.MessageParam{
				first, msg.ToParam(), anthropic.NewUserMessage(anthropic.NewToolResultBlock(msg.Content[0].ID, `{"temp":21}`, false)),
			}})
			if err != nil {
				t.Fatalf("%s tool_result: %v", model, err)
			}
		}
		// Errors come in Anthropic's shape.
		bad := anthropicClient(h, "llmgtwy_wrong")
		_, err := bad.Messages.New(ctx, anthropic.MessageNewParams{Model: "gpt-4o-mini", MaxTokens: 10,
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}})
		var aerr *anthropic.Error
		if !errors.As(err, &aerr) || aerr.StatusCode != 401 || !strings.Contains(aerr.RawJSON(), `"authentication_error"`) {
			t.Fatalf("bad key: %v", err)
		}
		_, err = client.Messages.New(ctx, anthropic.MessageNewParams{Model: "no-such-model", MaxTokens: 10,
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}})
		if !errors.As(err, &aerr) || aerr.StatusCode != 404 || !strings.Contains(aerr.RawJSON(), `"not_found_error"`) {
			t.Fatalf("unknown model: %v", err)
		}
		// count_tokens.
		n, err := client.Messages.CountTokens(ctx, anthropic.MessageCountTokensParams{Model: "gpt-4o",
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hello world"))}})
		if err != nil || n.InputTokens < 5 {
			t.Fatalf("count_tokens: %v %+v", err, n)
		}
	})
}

// TestGenAISDK: Google's official GenAI SDK against the Gemini endpoints, served
// by an OpenAI upstream and by a Gemini upstream.
func TestGenAISDK(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		h := withNativeUpstreams(t, dialect)
		ctx := context.Background()
		client, err := genai.NewClient(ctx, &genai.ClientConfig{APIKey: h.setup.APIKey, Backend: genai.BackendGeminiAPI,
			HTTPOptions: genai.HTTPOptions{BaseURL: h.base, APIVersion: "v1beta"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, model := range []string{"gpt-4o-mini", "gemini-2.5-flash"} {
			resp, err := client.Models.GenerateContent(ctx, model, genai.Text("hi there"), &genai.GenerateContentConfig{
				SystemInstruction: genai.NewContentFromText("be brief", genai.RoleUser)})
			if err != nil {
				t.Fatalf("%s: %v", model, err)
			}
			if resp.Text() != "Hello! You said: hi there" || resp.UsageMetadata == nil || resp.UsageMetadata.PromptTokenCount == 0 {
				t.Fatalf("%s: %+v", model, resp)
			}
			var text strings.Builder
			for chunk, err := range client.Models.GenerateContentStream(ctx, model, genai.Text("stream please"), nil) {
				if err != nil {
					t.Fatalf("%s stream: %v", model, err)
				}
				text.WriteString(chunk.Text())
			}
			if text.String() != "Hello! You said: stream please" {
				t.Fatalf("%s stream text = %q", model, text.String())
			}
		}
		// Errors in Gemini's shape; the key may also come as ?key=.
		bad, _ := genai.NewClient(ctx, &genai.ClientConfig{APIKey: "llmgtwy_wrong", Backend: genai.BackendGeminiAPI,
			HTTPOptions: genai.HTTPOptions{BaseURL: h.base, APIVersion: "v1beta"}})
		_, err = bad.Models.GenerateContent(ctx, "gpt-4o-mini", genai.Text("hi"), nil)
		var gerr genai.APIError
		if !errors.As(err, &gerr) || gerr.Code != 401 || gerr.Status != "UNAUTHENTICATED" {
			t.Fatalf("bad key: %v", err)
		}
		resp := h.post("/v1beta/models/gpt-4o-mini:generateContent?key="+h.setup.APIKey, `{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`, "Authorization", "")
		if resp.StatusCode != 200 {
			t.Fatalf("?key=: %d", resp.StatusCode)
		}
	})
}

func TestNativeErrorShapesBeforeTheHandler(t *testing.T) {
	h := startGateway(t, "sqlite", map[string]string{"GATEWAY_MAX_BODY_BYTES": "1024"})
	big := `{"model":"gpt-4o","max_tokens":5,"messages":[{"role":"user","content":"` + strings.Repeat("x", 2000) + `"}]}`
	resp := h.post("/v1/messages", big)
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 413 || !strings.Contains(string(b), `"type":"error"`) || !strings.Contains(string(b), `"request_too_large"`) {
		t.Fatalf("anthropic 413: %d %s", resp.StatusCode, b)
	}
	resp = h.post("/v1beta/models/x:generateContent", big)
	b, _ = io.ReadAll(resp.Body)
	if resp.StatusCode != 413 || !strings.Contains(string(b), `"status"`) {
		t.Fatalf("gemini 413: %d %s", resp.StatusCode, b)
	}
	resp = h.post("/v1/messages", `{"model":`)
	b, _ = io.ReadAll(resp.Body)
	if resp.StatusCode != 400 || !strings.Contains(string(b), `"invalid_request_error"`) {
		t.Fatalf("anthropic bad json: %d %s", resp.StatusCode, b)
	}
}

// TestUnexpressibleStreamIsAnError: an OpenAI upstream interleaves two tool
// calls' arguments, which Anthropic's event format cannot express: the client
// gets Anthropic's error event (not just a stream that stops) and no
// message_stop.
func TestUnexpressibleStreamIsAnError(t *testing.T) {
	h := startGateway(t, "sqlite", nil)
	resp := h.post("/v1/messages", `{"model":"gpt-4o-mini","max_tokens":100,"stream":true,`+
		`"tools":[{"name":"a","input_schema":{"type":"object"}},{"name":"b","input_schema":{"type":"object"}}],`+
		`"messages":[{"role":"user","content":"#interleave"}]}`)
	b, _ := io.ReadAll(resp.Body)
	events := string(b)
	if !strings.Contains(events, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\"") ||
		strings.Contains(events, "message_stop") {
		t.Fatalf("events:\n%s", events)
	}
	rows := h.logs(resp.Header.Get("X-Request-Id"))
	if len(rows) != 1 || rows[0].Status != 502 {
		t.Fatalf("log = %+v", rows)
	}
}
