package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
)

// costOf reads usage.cost, which the SDK keeps as an extra field.
func costOf(t *testing.T, u openai.CompletionUsage) float64 {
	t.Helper()
	f, ok := u.JSON.ExtraFields["cost"]
	if !ok {
		t.Fatalf("usage has no cost: %s", u.RawJSON())
	}
	var v float64
	if err := json.Unmarshal([]byte(f.Raw()), &v); err != nil {
		t.Fatalf("usage.cost = %s: %v", f.Raw(), err)
	}
	return v
}

func costDetails(t *testing.T, u openai.CompletionUsage) map[string]any {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal([]byte(u.JSON.ExtraFields["cost_details"].Raw()), &d); err != nil {
		t.Fatalf("cost_details: %v (%s)", err, u.RawJSON())
	}
	return d
}

func near(a, b float64) bool { d := a - b; return d < 1e-12 && d > -1e-12 }

func TestChatCompletion(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		h := startGateway(t, dialect, nil)
		ctx := context.Background()
		var raw *httpResponse
		resp, err := h.client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model:       "gpt-4o-mini",
			Messages:    []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("be brief"), openai.UserMessage("hi there")},
			Temperature: openai.Float(0),
			Seed:        openai.Int(7),
			User:        openai.String("user-42"),
		}, option.WithJSONSet("custom_vendor_field", map[string]any{"a": 1}), option.WithHeader("X-LLMGateway-Tenant-ID", "acme"),
			option.WithHeader("X-Source", "example.com"), option.WithResponseInto(&raw))
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.Choices[0].Message.Content; got != "Hello! You said: hi there" {
			t.Fatalf("content = %q", got)
		}
		if resp.Model != "openai/gpt-4o-mini" {
			t.Errorf("model = %q", resp.Model)
		}
		// Upstream saw the upstream model id, our provider key, and every client field.
		up := h.fake.Last()
		if up.Body["model"] != "gpt-4o-mini" || up.Header.Get("Authorization") != "Bearer sk-upstream-test" {
			t.Errorf("upstream got model %v auth %q", up.Body["model"], up.Header.Get("Authorization"))
		}
		if up.Body["temperature"] != 0.0 || up.Body["seed"] != 7.0 || up.Body["user"] != "user-42" || up.Body["custom_vendor_field"] == nil {
			t.Errorf("fields not passed through: %v", up.Body)
		}
		// prompt = 4 words + 10, completion = 5 words; gpt-4o-mini $0.15 / $0.60 per 1M.
		u := resp.Usage
		if u.PromptTokens != 14 || u.CompletionTokens != 5 || u.TotalTokens != 19 {
			t.Fatalf("usage = %s", u.RawJSON())
		}
		want := 14*0.15e-6 + 5*0.60e-6
		if c := costOf(t, u); !near(c, want) {
			t.Fatalf("cost = %v, want %v", c, want)
		}
		d := costDetails(t, u)
		for _, k := range []string{"upstream_inference_cost", "upstream_inference_prompt_cost", "upstream_inference_completions_cost",
			"total_cost", "input_cost", "output_cost", "cached_input_cost", "request_cost", "data_storage_cost"} {
			if _, ok := d[k]; !ok {
				t.Errorf("cost_details.%s missing", k)
			}
		}
		if !near(d["input_cost"].(float64), 14*0.15e-6) || !near(d["output_cost"].(float64), 5*0.60e-6) {
			t.Errorf("cost_details = %v", d)
		}
		if _, ok := u.JSON.ExtraFields["prompt_tokens_details"]; !ok && u.PromptTokensDetails.RawJSON() == "" {
			t.Errorf("prompt_tokens_details missing")
		}
		if p := raw.Header.Get("X-LLMGateway-Used-Provider"); p != "openai" {
			t.Errorf("served provider header = %q", p)
		}

		// The log row: costs in nano-USD, attribution, metadata.
		rows := h.logs(raw.Header.Get("X-Request-Id"))
		if len(rows) != 1 {
			t.Fatalf("log rows = %d", len(rows))
		}
		r := rows[0]
		if r.Status != 200 || r.UsedProvider != "openai" || r.UsedModel != "gpt-4o-mini" || r.PromptTokens != 14 || r.CompletionTokens != 5 {
			t.Errorf("log row = %+v", r)
		}
		if r.TotalCost == nil || *r.TotalCost != 14*150+5*600 || *r.InputCost != 14*150 || *r.OutputCost != 5*600 {
			t.Errorf("log costs = %v %v %v", r.TotalCost, r.InputCost, r.OutputCost)
		}
		if r.Source != "example.com" || !strings.Contains(r.Metadata, `"tenant-id":"acme"`) || r.SessionID != "user-42" || r.FinishReason != "stop" {
			t.Errorf("attribution: source %q metadata %q session %q finish %q", r.Source, r.Metadata, r.SessionID, r.FinishReason)
		}
		if r.ProjectID != h.setup.ProjectID || r.OrganizationID != h.setup.OrganizationID || r.APIKeyID == "" {
			t.Errorf("ownership: %+v", r)
		}
		// The hourly rollup was maintained by the same writer.
		var hourly struct{ Requests, Cost int64 }
		h.srv.DB.Raw("SELECT SUM(requests) AS requests, SUM(cost) AS cost FROM usage_hourly WHERE project_id = ?", h.setup.ProjectID).Scan(&hourly)
		if hourly.Requests != 1 || hourly.Cost != 14*150+5*600 {
			t.Errorf("rollup = %+v", hourly)
		}
	})
}

type httpResponse = http.Response

func TestChatStreamingWithUsage(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		h := startGateway(t, dialect, nil)
		var raw *httpResponse
		stream := h.client.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
			Model:    "gpt-4o-mini",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("stream this please")},
		}, option.WithResponseInto(&raw))
		var text strings.Builder
		var last openai.ChatCompletionChunk
		chunks := 0
		for stream.Next() {
			c := stream.Current()
			chunks++
			if len(c.Choices) > 0 {
				text.WriteString(c.Choices[0].Delta.Content)
			}
			last = c
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if text.String() != "Hello! You said: stream this please" {
			t.Fatalf("streamed text = %q", text.String())
		}
		if len(last.Choices) != 0 || last.Usage.TotalTokens == 0 {
			t.Fatalf("last chunk is not the usage chunk: %s", last.RawJSON())
		}
		want := 13*0.15e-6 + 6*0.60e-6
		if last.Usage.PromptTokens != 13 || last.Usage.CompletionTokens != 6 || !near(costOf(t, last.Usage), want) {
			t.Fatalf("usage = %s", last.Usage.RawJSON())
		}
		if h.fake.Last().Body["stream_options"].(map[string]any)["include_usage"] != true {
			t.Errorf("upstream was not asked for usage")
		}
		rows := h.logs(raw.Header.Get("X-Request-Id"))
		if len(rows) != 1 || !rows[0].Streamed || rows[0].TotalCost == nil || *rows[0].TotalCost != 13*150+6*600 || rows[0].TTFTMs == nil {
			t.Fatalf("log = %+v", rows)
		}
	})
}

func TestStreamWithoutUpstreamUsageIsCounted(t *testing.T) {
	h := startGateway(t, "sqlite", nil)
	stream := h.client.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model:    "gpt-4o-mini",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("#nousage\nhello world")},
	})
	var last openai.ChatCompletionChunk
	for stream.Next() {
		last = stream.Current()
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	u := last.Usage
	if u.PromptTokens == 0 || u.CompletionTokens == 0 || u.TotalTokens != u.PromptTokens+u.CompletionTokens {
		t.Fatalf("usage not estimated: %s", last.RawJSON())
	}
	if costOf(t, u) <= 0 {
		t.Fatalf("estimated usage not priced")
	}
}

func TestToolCalls(t *testing.T) {
	h := startGateway(t, "sqlite", nil)
	ctx := context.Background()
	params := openai.ChatCompletionNewParams{
		Model:    "gpt-4o",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(`#tool get_weather {"city":"Paris"}` + "\nweather?")},
		Tools: []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
			Name: "get_weather", Description: openai.String("Weather of a city"),
			Parameters: shared.FunctionParameters{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}},
		})},
		ToolChoice: openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("auto")},
	}
	resp, err := h.client.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	tc := resp.Choices[0].Message.ToolCalls
	if resp.Choices[0].FinishReason != "tool_calls" || len(tc) != 1 || tc[0].Function.Name != "get_weather" || tc[0].Function.Arguments != `{"city":"Paris"}` {
		t.Fatalf("tool call = %s", resp.RawJSON())
	}
	up := h.fake.Last().Body
	if tools, _ := up["tools"].([]any); len(tools) != 1 || up["tool_choice"] != "auto" {
		t.Fatalf("tools not forwarded: %v", up)
	}

	// The same through a stream, accumulated by the SDK.
	stream := h.client.Chat.Completions.NewStreaming(ctx, params)
	acc := openai.ChatCompletionAccumulator{}
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if tc := acc.Choices[0].Message.ToolCalls; len(tc) != 1 || tc[0].Function.Arguments != `{"city":"Paris"}` {
		t.Fatalf("streamed tool call = %+v", acc.Choices[0].Message)
	}

	// A tool result goes back upstream as a tool message.
	params.Messages = append(params.Messages, resp.Choices[0].Message.ToParam(), openai.ToolMessage(`{"temp":21}`, tc[0].ID))
	if _, err := h.client.Chat.Completions.New(ctx, params); err != nil {
		t.Fatal(err)
	}
	msgs := h.fake.Last().Body["messages"].([]any)
	toolMsg := msgs[len(msgs)-1].(map[string]any)
	if toolMsg["role"] != "tool" || toolMsg["tool_call_id"] != tc[0].ID {
		t.Fatalf("tool message = %v", toolMsg)
	}
}

func TestBuiltinTestProvider(t *testing.T) {
	h := startGateway(t, "sqlite", nil)
	resp, err := h.client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:    "test/echo",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Choices[0].Message.Content != "echo: hi" || costOf(t, resp.Usage) != 0 {
		t.Fatalf("echo = %s", resp.RawJSON())
	}
}

func TestUnpricedModelHasNullCost(t *testing.T) {
	h := startGateway(t, "sqlite", nil)
	resp, err := h.client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:    "unpriced-chat",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if f := resp.Usage.JSON.ExtraFields["cost"]; f.Raw() != "null" {
		t.Fatalf("cost of an unpriced model = %q, want null", f.Raw())
	}
}
