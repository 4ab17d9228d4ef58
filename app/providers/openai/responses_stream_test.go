package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"github.com/llmgw/gateway/app/providers/providertest"
	"github.com/llmgw/gateway/app/schema"
)

func sp(s string) *string { return &s }
func ip(i int) *int       { return &i }

func textChunk(s string) *schema.ChatChunk {
	return &schema.ChatChunk{ID: "chatcmpl-s", Created: 100, Model: "up", Choices: []schema.ChunkChoice{{Delta: schema.Delta{Content: &s}}}}
}

func deltaChunk(d schema.Delta, finish string) *schema.ChatChunk {
	c := &schema.ChatChunk{ID: "chatcmpl-s", Created: 100, Model: "up", Choices: []schema.ChunkChoice{{Delta: d}}}
	if finish != "" {
		c.Choices[0].FinishReason = &finish
	}
	return c
}

func toolDelta(idx *int, id, name, args string) schema.Delta {
	return schema.Delta{ToolCalls: []schema.ToolCall{{Index: idx, ID: id, Type: "function", Function: schema.ToolCallFunction{Name: name, Arguments: args}}}}
}

// encode runs chunks through a new encoder and Finish (or ErrorEvent when
// fail is set), and checks the result against the protocol.
func encode(t *testing.T, chunks []*schema.ChatChunk, usage *schema.Usage, fail bool) *checkedStream {
	t.Helper()
	var buf bytes.Buffer
	e := NewResponsesStreamEncoder("alias")
	for _, c := range chunks {
		if err := e.WriteChunk(&buf, c); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	if fail {
		err = e.ErrorEvent(&buf, 502, "Upstream provider acme failed.")
	} else {
		err = e.Finish(&buf, usage)
	}
	if err != nil {
		t.Fatal(err)
	}
	cs, problems := checkStream(buf.Bytes())
	for _, p := range problems {
		t.Error(p)
	}
	if t.Failed() {
		t.Logf("stream:\n%s", buf.String())
	}
	return cs
}

// upstreamChunks decodes an upstream SSE fixture with the adapter's own stream.
func upstreamChunks(t *testing.T, name string) []*schema.ChatChunk {
	t.Helper()
	s := newStream(context.Background(), "acme", io.NopCloser(strings.NewReader(providertest.Fixture(t, name))))
	chunks, err := providertest.ReadStream(s)
	if err != io.EOF {
		t.Fatal(err)
	}
	return chunks
}

func TestResponsesStreamText(t *testing.T) {
	cs := encode(t, upstreamChunks(t, "stream_content.sse"), nil, false)
	want := []string{"response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
		"response.output_text.delta", "response.output_text.delta", "response.output_text.delta", "response.output_text.delta",
		"response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed"}
	if !reflect.DeepEqual(cs.types, want) {
		t.Errorf("events:\n%v\nwant\n%v", cs.types, want)
	}
	r := cs.final
	if r.ID != "resp_chatcmpl-BJr0aT5uWm3oPq9YxN2cVb7LkEfGh" || r.Model != "alias" || r.CreatedAt != 1743958702 ||
		len(r.Output) != 1 || r.Output[0].Content[0].Text != "Bonjour le monde ✨ !" || r.Output[0].ID != "msg_chatcmpl-BJr0aT5uWm3oPq9YxN2cVb7LkEfGh_0" {
		t.Errorf("final %s", providertest.Short(r))
	}
	// Finish(nil) reports the usage of the last chunk.
	if u := r.Usage; u == nil || u.InputTokens != 21 || u.OutputTokens != 6 || u.TotalTokens != 27 || u.Cost != nil {
		t.Errorf("usage %s", providertest.Short(r.Usage))
	}
}

func TestResponsesStreamToolCalls(t *testing.T) {
	cost := 0.0042
	cs := encode(t, upstreamChunks(t, "stream_tool_calls.sse"), &schema.Usage{PromptTokens: 100, CompletionTokens: 20, TotalTokens: 120,
		Cost: &cost, PromptTokensDetails: &schema.PromptTokensDetails{CachedTokens: 64}}, false)
	var calls []ResponsesOutputItem
	for _, it := range cs.final.Output {
		if it.Type == "function_call" {
			calls = append(calls, it)
		}
	}
	if len(calls) != 2 || calls[0].CallID != "call_Q7rV2kHc9mXbN4tLpZ1wYs8e" || calls[0].Name != "get_weather" ||
		calls[0].Arguments != `{"city":"Paris","unit":"celsius"}` || calls[1].Name != "get_time" || calls[1].Arguments != `{"timezone":"Europe/Paris"}` {
		t.Errorf("calls %s", providertest.Short(calls))
	}
	if u := cs.final.Usage; u.InputTokens != 100 || u.InputTokensDetails.CachedTokens != 64 || u.Cost == nil || *u.Cost != cost {
		t.Errorf("usage %s", providertest.Short(u))
	}
}

// TestResponsesStreamAllKinds: reasoning, text, refusal and two tool calls
// in one stream, with the exact event sequence and indices.
func TestResponsesStreamAllKinds(t *testing.T) {
	chunks := []*schema.ChatChunk{
		deltaChunk(schema.Delta{Role: "assistant", Content: sp("")}, ""),
		deltaChunk(schema.Delta{Reasoning: sp("Let me")}, ""),
		deltaChunk(schema.Delta{Reasoning: sp(" think.")}, ""),
		textChunk("Hello"),
		deltaChunk(schema.Delta{Content: sp(" world"), Refusal: sp("But no.")}, ""),
		deltaChunk(toolDelta(ip(0), "call_a", "f", ""), ""),
		deltaChunk(toolDelta(ip(0), "", "", `{"x":`), ""),
		deltaChunk(toolDelta(ip(0), "", "", `1}`), ""),
		deltaChunk(toolDelta(ip(1), "call_b", "g", `{}`), ""),
		deltaChunk(toolDelta(ip(0), "", "", ""), ""), // an empty continuation of a closed call says nothing
		deltaChunk(schema.Delta{}, "tool_calls"),
	}
	cs := encode(t, chunks, nil, false)
	want := []string{"response.created", "response.in_progress",
		"response.output_item.added", "response.reasoning_summary_part.added", "response.reasoning_summary_text.delta", "response.reasoning_summary_text.delta",
		"response.reasoning_summary_text.done", "response.reasoning_summary_part.done", "response.output_item.done",
		"response.output_item.added", "response.content_part.added", "response.output_text.delta", "response.output_text.delta",
		"response.output_text.done", "response.content_part.done", "response.content_part.added", "response.refusal.delta",
		"response.refusal.done", "response.content_part.done", "response.output_item.done",
		"response.output_item.added", "response.function_call_arguments.delta", "response.function_call_arguments.delta",
		"response.function_call_arguments.done", "response.output_item.done",
		"response.output_item.added", "response.function_call_arguments.delta", "response.function_call_arguments.done", "response.output_item.done",
		"response.completed"}
	if !reflect.DeepEqual(cs.types, want) {
		t.Errorf("events:\n%v\nwant\n%v", cs.types, want)
	}
	out := cs.final.Output
	if len(out) != 4 || out[0].Type != "reasoning" || out[0].Summary[0].Text != "Let me think." || out[0].ID != "rs_chatcmpl-s_0" ||
		out[1].Content[0].Text != "Hello world" || out[1].Content[1].Refusal != "But no." || out[1].ID != "msg_chatcmpl-s_1" ||
		out[2].Arguments != `{"x":1}` || out[2].CallID != "call_a" || out[2].ID != "fc_chatcmpl-s_2" ||
		out[3].Arguments != `{}` || out[3].Name != "g" || out[3].ID != "fc_chatcmpl-s_3" {
		t.Errorf("output %s", providertest.Short(out))
	}
}

func TestResponsesStreamIncomplete(t *testing.T) {
	cs := encode(t, []*schema.ChatChunk{textChunk("Once upon"), deltaChunk(schema.Delta{Content: sp(" a")}, "length")}, nil, false)
	r := cs.final
	if cs.terminal != "response.incomplete" || r.Status != "incomplete" || r.IncompleteDetails.Reason != "max_output_tokens" ||
		r.Output[0].Status != "incomplete" || r.Output[0].Content[0].Text != "Once upon a" {
		t.Errorf("final %s %s", cs.terminal, providertest.Short(r))
	}
}

func TestResponsesStreamError(t *testing.T) {
	cs := encode(t, []*schema.ChatChunk{textChunk("Hel")}, nil, true)
	if cs.terminal != "response.failed" || cs.types[len(cs.types)-2] != "error" {
		t.Fatalf("events %v", cs.types)
	}
	r := cs.final
	if r.Error == nil || r.Error.Code != "server_error" || r.Error.Message != "Upstream provider acme failed." ||
		len(r.Output) != 1 || r.Output[0].Status != "incomplete" || r.Output[0].Content[0].Text != "Hel" {
		t.Errorf("failed response %s", providertest.Short(r))
	}
	// Before any chunk, the stream is still well formed.
	cs = encode(t, nil, nil, true)
	if !reflect.DeepEqual(cs.types, []string{"response.created", "response.in_progress", "error", "response.failed"}) {
		t.Errorf("events %v", cs.types)
	}
	// Nothing may follow.
	e := NewResponsesStreamEncoder("m")
	var buf bytes.Buffer
	_ = e.ErrorEvent(&buf, 429, "slow down")
	if !strings.Contains(buf.String(), `"code":"rate_limit_exceeded"`) {
		t.Errorf("429: %s", buf.String())
	}
	if err := e.WriteChunk(&buf, textChunk("x")); !errors.Is(err, ErrResponsesStreamFinished) {
		t.Errorf("WriteChunk after error: %v", err)
	}
	if err := e.ErrorEvent(&buf, 500, "x"); !errors.Is(err, ErrResponsesStreamFinished) {
		t.Errorf("ErrorEvent after error: %v", err)
	}
}

func TestResponsesStreamEmpty(t *testing.T) {
	// No chunk at all, or only chunks without choices (Azure's
	// prompt_filter_results, a usage chunk): an empty message.
	for name, chunks := range map[string][]*schema.ChatChunk{
		"none":       nil,
		"no choices": {{ID: "", Choices: []schema.ChunkChoice{}}, {ID: "chatcmpl-u", Choices: []schema.ChunkChoice{}, Usage: &schema.Usage{PromptTokens: 3, TotalTokens: 3}}},
		"role only":  {deltaChunk(schema.Delta{Role: "assistant", Content: sp("")}, ""), deltaChunk(schema.Delta{}, "stop")},
	} {
		cs := encode(t, chunks, nil, false)
		if len(cs.final.Output) != 1 || cs.final.Output[0].Type != "message" || cs.final.Output[0].Content[0].Text != "" || cs.terminal != "response.completed" {
			t.Errorf("%s: %v %s", name, cs.types, providertest.Short(cs.final))
		}
	}
	// Finish twice writes once.
	e := NewResponsesStreamEncoder("m")
	var buf bytes.Buffer
	_ = e.Finish(&buf, nil)
	n := buf.Len()
	if err := e.Finish(&buf, nil); err != nil || buf.Len() != n {
		t.Errorf("second Finish: %v, %d bytes", err, buf.Len()-n)
	}
	if err := e.WriteChunk(&buf, textChunk("x")); !errors.Is(err, ErrResponsesStreamFinished) {
		t.Errorf("WriteChunk after Finish: %v", err)
	}
}

func TestResponsesStreamToolCallsWithoutIndex(t *testing.T) {
	chunks := []*schema.ChatChunk{
		deltaChunk(toolDelta(nil, "call_1", "f", `{"a"`), ""),
		deltaChunk(toolDelta(nil, "", "", `:1}`), ""),
		deltaChunk(toolDelta(nil, "", "g", `{}`), ""), // a name: a new call, its id generated
		deltaChunk(schema.Delta{}, "tool_calls"),
	}
	cs := encode(t, chunks, nil, false)
	out := cs.final.Output
	if len(out) != 2 || out[0].Arguments != `{"a":1}` || out[1].Name != "g" || !strings.HasPrefix(out[1].CallID, "call_") {
		t.Errorf("output %s", providertest.Short(out))
	}
}

func TestResponsesStreamInterleavedToolCalls(t *testing.T) {
	e := NewResponsesStreamEncoder("m")
	var buf bytes.Buffer
	for _, c := range []*schema.ChatChunk{deltaChunk(toolDelta(ip(0), "c0", "f", "{"), ""), deltaChunk(toolDelta(ip(1), "c1", "g", "{"), "")} {
		if err := e.WriteChunk(&buf, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.WriteChunk(&buf, deltaChunk(toolDelta(ip(0), "", "", "}"), "")); !errors.Is(err, ErrResponsesInterleavedToolCalls) {
		t.Fatalf("err = %v", err)
	}
	if err := e.ErrorEvent(&buf, 502, "broken upstream"); err != nil {
		t.Fatal(err)
	}
	if _, problems := checkStream(buf.Bytes()); len(problems) > 0 {
		t.Error(problems)
	}
}

func TestResponsesStreamEcho(t *testing.T) {
	req, err := DecodeResponsesRequest([]byte(`{"model":"m","input":"x","instructions":"I","temperature":0.3,
		"tools":[{"type":"function","name":"f","parameters":{"type":"object"}}],"metadata":{"a":"b"}}`))
	if err != nil {
		t.Fatal(err)
	}
	e := NewResponsesStreamEncoder("m")
	e.Request = req
	var buf bytes.Buffer
	_ = e.WriteChunk(&buf, textChunk("hi"))
	_ = e.Finish(&buf, nil)
	cs, problems := checkStream(buf.Bytes())
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	if r := cs.final; r.Instructions == nil || *r.Instructions != "I" || r.Temperature != 0.3 || string(r.Metadata) != `{"a":"b"}` ||
		!strings.Contains(string(r.Tools), `"name":"f"`) || e.ID() != r.ID {
		t.Errorf("final %s", providertest.Short(r))
	}
}

// fakeGateway serves POST /responses the way the gateway will: decode,
// translate, then answer a canned neutral completion (or chunks) in the
// Responses format. The handler records the neutral request.
type fakeGateway struct {
	answer *schema.ChatResponse
	chunks []*schema.ChatChunk
	fail   bool // end the stream with ErrorEvent
	got    *schema.ChatRequest
}

func (g *fakeGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req, err := DecodeResponsesRequest(body)
	var chat *schema.ChatRequest
	if err == nil {
		chat, err = req.ToChat()
	}
	if err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(400)
		b, _ := json.Marshal(map[string]any{"error": map[string]any{"message": err.Error(), "type": "invalid_request_error", "param": nil, "code": nil}})
		_, _ = w.Write(b)
		return
	}
	g.got = chat
	if !chat.Stream {
		w.Header().Set("Content-Type", "application/json")
		b, _ := json.Marshal(FromChatResponse(g.answer, req.Model).EchoRequest(req))
		_, _ = w.Write(b)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	enc := NewResponsesStreamEncoder(req.Model)
	enc.Request = req
	for _, c := range g.chunks {
		_ = enc.WriteChunk(w, c)
		w.(http.Flusher).Flush()
	}
	if g.fail {
		_ = enc.ErrorEvent(w, 503, "No provider available.")
		return
	}
	_ = enc.Finish(w, nil)
}

// TestResponsesOfficialSDK: the official Go SDK, as the lead's end-to-end
// test will use it, talks to a server built from these converters.
func TestResponsesOfficialSDK(t *testing.T) {
	g := &fakeGateway{
		answer: &schema.ChatResponse{ID: "chatcmpl-1", Created: 1700000000, Choices: []schema.Choice{{FinishReason: "stop",
			Message: schema.Message{Role: "assistant", Content: schema.TextContent("Paris.")}}},
			Usage: &schema.Usage{PromptTokens: 9, CompletionTokens: 2, TotalTokens: 11}},
		chunks: append(upstreamChunks(t, "stream_tool_calls.sse"), upstreamChunks(t, "stream_content.sse")...),
	}
	srv := httptest.NewServer(g)
	defer srv.Close()
	client := openai.NewClient(option.WithBaseURL(srv.URL+"/"), option.WithAPIKey("k"), option.WithMaxRetries(0))
	ctx := context.Background()

	resp, err := client.Responses.New(ctx, responses.ResponseNewParams{
		Model: "alias", Instructions: openai.String("Short answers."),
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Capital of France?")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.OutputText() != "Paris." || resp.Status != "completed" || resp.Usage.TotalTokens != 11 || resp.Model != "alias" ||
		resp.Instructions.OfString != "Short answers." {
		t.Errorf("response %s", resp.RawJSON())
	}
	if len(g.got.Messages) != 2 || g.got.Messages[0].Role != "system" {
		t.Errorf("neutral request %+v", g.got)
	}

	stream := client.Responses.NewStreaming(ctx, responses.ResponseNewParams{
		Model: "alias", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Weather?")},
		Tools: []responses.ToolUnionParam{{OfFunction: &responses.FunctionToolParam{Name: "get_weather", Parameters: map[string]any{"type": "object"}}}},
	})
	var text strings.Builder
	var calls []responses.ResponseFunctionToolCall
	var final *responses.Response
	n := 0
	for stream.Next() {
		ev := stream.Current()
		if ev.SequenceNumber != int64(n) {
			t.Errorf("event %d: sequence_number %d", n, ev.SequenceNumber)
		}
		n++
		switch v := ev.AsAny().(type) {
		case responses.ResponseTextDeltaEvent:
			text.WriteString(v.Delta)
		case responses.ResponseOutputItemDoneEvent:
			if v.Item.Type == "function_call" {
				calls = append(calls, v.Item.AsFunctionCall())
			}
		case responses.ResponseCompletedEvent:
			final = &v.Response
		case nil:
			t.Errorf("unknown event %s", ev.RawJSON())
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if !g.got.Stream || g.got.StreamOptions == nil || !g.got.StreamOptions.IncludeUsage {
		t.Errorf("neutral stream request %+v", g.got)
	}
	if final == nil || text.String() != "Bonjour le monde ✨ !" || final.OutputText() != text.String() || len(calls) != 2 ||
		calls[0].Arguments != `{"city":"Paris","unit":"celsius"}` || final.Usage.TotalTokens != 27 {
		t.Errorf("stream: text %q calls %d final %v", text.String(), len(calls), final != nil)
	}
	// The output items go back as input of the next turn.
	var next, outputs responses.ResponseInputParam
	for _, it := range final.Output {
		if it.Type == "function_call" {
			p := it.AsFunctionCall().ToParam()
			next = append(next, responses.ResponseInputItemUnionParam{OfFunctionCall: &p})
			out := responses.ResponseInputItemParamOfFunctionCallOutput(`{"ok":true}`)
			out.OfFunctionCallOutput.CallID = openai.String(it.CallID)
			outputs = append(outputs, out)
		}
	}
	next = append(next, outputs...)
	if _, err := client.Responses.New(ctx, responses.ResponseNewParams{Model: "alias",
		Input: responses.ResponseNewParamsInputUnion{OfInputItemList: next}}); err != nil {
		t.Fatal(err)
	}
	if m := g.got.Messages; len(m) != 3 || len(m[0].ToolCalls) != 2 || m[1].Role != "tool" || m[1].ToolCallID != "call_Q7rV2kHc9mXbN4tLpZ1wYs8e" ||
		m[2].ToolCallID != "call_J3nT8fRw0qLx5vBkM2cHd6yA" {
		t.Errorf("next turn %+v", m)
	}

	// A stream that breaks: the SDK delivers the error and response.failed
	// events (it would stop with an error on a top-level "error" key).
	g.fail = true
	stream = client.Responses.NewStreaming(ctx, responses.ResponseNewParams{Model: "alias",
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("x")}})
	var types []string
	for stream.Next() {
		ev := stream.Current()
		types = append(types, ev.Type)
		if f, ok := ev.AsAny().(responses.ResponseFailedEvent); ok && (f.Response.Error.Code != "server_error" || f.Response.Error.Message != "No provider available.") {
			t.Errorf("failed event %s", ev.RawJSON())
		}
	}
	if err := stream.Err(); err != nil || len(types) < 2 || types[len(types)-2] != "error" || types[len(types)-1] != "response.failed" {
		t.Errorf("failed stream: %v %v", types, err)
	}
	g.fail = false

	// A refused request is an OpenAI error the SDK reports.
	_, err = client.Responses.New(ctx, responses.ResponseNewParams{Model: "alias", PreviousResponseID: openai.String("resp_1"),
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("again")}})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || !strings.Contains(apiErr.Message, "does not store responses") {
		t.Errorf("refusal: %v", err)
	}
}

// TestSDKProblemsDetects keeps the SDK check honest: it must see a missing
// required field and a field of the wrong type.
func TestSDKProblemsDetects(t *testing.T) {
	var u responses.ResponseStreamEventUnion
	_ = u.UnmarshalJSON([]byte(`{"type":"response.output_text.delta","sequence_number":"one","item_id":"m","output_index":0,"delta":"x","logprobs":[]}`))
	got := strings.Join(sdkProblems("ev", reflect.ValueOf(u)), "\n")
	if !strings.Contains(got, "content_index: required field missing") || !strings.Contains(got, "sequence_number") {
		t.Errorf("problems: %s", got)
	}
}
