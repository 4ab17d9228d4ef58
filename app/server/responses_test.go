package server_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/responses"
)

// TestResponsesAPI: the official SDK's Responses client against /v1/responses,
// mapped onto chat models (OpenAI and Anthropic upstreams).
func TestResponsesAPI(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		h := withNativeUpstreams(t, dialect)
		ctx := context.Background()
		for _, model := range []string{"gpt-4o-mini", "claude-haiku-4-5"} {
			resp, err := h.client.Responses.New(ctx, responses.ResponseNewParams{
				Model:        model,
				Instructions: openai.String("be brief"),
				Input:        responses.ResponseNewParamsInputUnion{OfString: openai.String("hi there")},
			})
			if err != nil {
				t.Fatalf("%s: %v", model, err)
			}
			if resp.OutputText() != "Hello! You said: hi there" || resp.Status != "completed" || resp.Usage.InputTokens == 0 {
				t.Fatalf("%s: %s", model, resp.RawJSON())
			}
			stream := h.client.Responses.NewStreaming(ctx, responses.ResponseNewParams{
				Model: model, Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("stream please")},
			})
			var text strings.Builder
			completed := false
			for stream.Next() {
				ev := stream.Current()
				switch ev.Type {
				case "response.output_text.delta":
					text.WriteString(ev.Delta)
				case "response.completed":
					completed = ev.Response.Usage.TotalTokens > 0
				}
			}
			if err := stream.Err(); err != nil || text.String() != "Hello! You said: stream please" || !completed {
				t.Fatalf("%s stream: %v %q completed=%v", model, err, text.String(), completed)
			}
		}
		// Function calls come back as function_call items.
		resp, err := h.client.Responses.New(ctx, responses.ResponseNewParams{
			Model: "gpt-4o-mini",
			Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("#tool get_weather {\"city\":\"Paris\"}\nweather?")},
			Tools: []responses.ToolUnionParam{{OfFunction: &responses.FunctionToolParam{Name: "get_weather",
				Parameters: map[string]any{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}}}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		var call *responses.ResponseOutputItemUnion
		for i := range resp.Output {
			if resp.Output[i].Type == "function_call" {
				call = &resp.Output[i]
			}
		}
		if call == nil || call.Name != "get_weather" || call.Arguments.OfString != `{"city":"Paris"}` {
			t.Fatalf("function call: %s", resp.RawJSON())
		}
		// previous_response_id cannot be honoured: the gateway stores no responses.
		_, err = h.client.Responses.New(ctx, responses.ResponseNewParams{Model: "gpt-4o-mini", PreviousResponseID: openai.String("resp_x"),
			Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")}})
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Param != "previous_response_id" {
			t.Fatalf("previous_response_id: %v", err)
		}
	})
}

func TestAzureUpstream(t *testing.T) {
	h := startGatewayTB(t, "sqlite", map[string]string{"LLM_AZURE_API_KEY": "az-key", "LLM_AZURE_BASE_URL": "FAKE"})
	writeModels(t, h, `
  - id: azure-chat
    providers:
      - {provider: azure, model: my-gpt4o-deployment, inputPrice: 2.5, outputPrice: 10}
`)
	resp, err := h.client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model: "azure-chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
	})
	if err != nil {
		t.Fatal(err)
	}
	last := h.fake.Last()
	if resp.Choices[0].Message.Content != "Hello! You said: hi" || last.Path != "/openai/deployments/my-gpt4o-deployment/chat/completions" ||
		last.Header.Get("Api-Key") != "az-key" || last.Header.Get("Authorization") != "" {
		t.Fatalf("azure: %s %v", last.Path, last.Header)
	}
}
