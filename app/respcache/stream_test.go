package respcache

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/llmgw/gateway/app/schema"
)

func chunk(index int, d schema.Delta, finish string) *schema.ChatChunk {
	c := &schema.ChatChunk{ID: "chatcmpl-1", Object: "chat.completion.chunk", Created: 1700000000, Model: "gpt-4o",
		Choices: []schema.ChunkChoice{{Index: index, Delta: d}}}
	if finish != "" {
		c.Choices[0].FinishReason = &finish
	}
	return c
}

func call(index int, id, name, args string) schema.ToolCall {
	return schema.ToolCall{Index: &index, ID: id, Type: map[bool]string{true: "function"}[id != ""],
		Function: schema.ToolCallFunction{Name: name, Arguments: args}}
}

// toolStream is what OpenAI streams for a reasoning answer with two parallel
// tool calls, their argument deltas interleaved, then a usage-only chunk.
func toolStream() []*schema.ChatChunk {
	return []*schema.ChatChunk{
		chunk(0, schema.Delta{Role: "assistant", Content: ptr("")}, ""),
		chunk(0, schema.Delta{Reasoning: ptr("Need the ")}, ""),
		chunk(0, schema.Delta{Reasoning: ptr("weather.")}, ""),
		chunk(0, schema.Delta{Content: ptr("Checking ")}, ""),
		chunk(0, schema.Delta{Content: ptr("both cities.")}, ""),
		chunk(0, schema.Delta{ToolCalls: []schema.ToolCall{call(0, "call_a", "weather", "")}}, ""),
		chunk(0, schema.Delta{ToolCalls: []schema.ToolCall{call(0, "", "", `{"city":`)}}, ""),
		chunk(0, schema.Delta{ToolCalls: []schema.ToolCall{call(1, "call_b", "weather", `{"ci`)}}, ""),
		chunk(0, schema.Delta{ToolCalls: []schema.ToolCall{call(0, "", "", `"Paris"}`), call(1, "", "", `ty":"Oslo"}`)}}, ""),
		chunk(0, schema.Delta{}, "tool_calls"),
		{ID: "chatcmpl-1", Object: "chat.completion.chunk", Created: 1700000000, Model: "gpt-4o", Choices: []schema.ChunkChoice{},
			Usage: &schema.Usage{PromptTokens: 10, CompletionTokens: 20, TotalTokens: 30}},
	}
}

func accumulate(chunks []*schema.ChatChunk) *schema.ChatResponse {
	var a Accumulator
	for _, c := range chunks {
		a.Add(c)
	}
	return a.Response()
}

func TestAccumulatorToolCalls(t *testing.T) {
	got := accumulate(toolStream())
	want := &schema.ChatResponse{ID: "chatcmpl-1", Object: "chat.completion", Created: 1700000000, Model: "gpt-4o",
		Usage: &schema.Usage{PromptTokens: 10, CompletionTokens: 20, TotalTokens: 30},
		Choices: []schema.Choice{{Index: 0, FinishReason: "tool_calls", Message: schema.Message{
			Role: "assistant", Content: schema.TextContent("Checking both cities."), Reasoning: "Need the weather.",
			ToolCalls: []schema.ToolCall{
				{ID: "call_a", Type: "function", Function: schema.ToolCallFunction{Name: "weather", Arguments: `{"city":"Paris"}`}},
				{ID: "call_b", Type: "function", Function: schema.ToolCallFunction{Name: "weather", Arguments: `{"city":"Oslo"}`}},
			}}}}}
	if !reflect.DeepEqual(got, want) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		t.Fatalf("got  %s\nwant %s", g, w)
	}
	if !Storable(got) {
		t.Fatal("a complete tool-call answer must be storable")
	}
}

func TestAccumulatorEdgeCases(t *testing.T) {
	// Two choices interleaved, a refusal, index-less tool call deltas, and a
	// stream cut before its finish.
	got := accumulate([]*schema.ChatChunk{
		chunk(1, schema.Delta{Role: "assistant", Content: ptr("B")}, ""),
		chunk(0, schema.Delta{Role: "assistant", Refusal: ptr("I can't ")}, ""),
		chunk(1, schema.Delta{ToolCalls: []schema.ToolCall{{ID: "x", Function: schema.ToolCallFunction{Name: "f", Arguments: "{"}}}}, ""),
		chunk(0, schema.Delta{Refusal: ptr("help.")}, "stop"),
		chunk(1, schema.Delta{ToolCalls: []schema.ToolCall{{Function: schema.ToolCallFunction{Arguments: "}"}}}}, ""),
		chunk(1, schema.Delta{ToolCalls: []schema.ToolCall{{ID: "y", Function: schema.ToolCallFunction{Name: "g", Arguments: "[]"}}}}, ""),
		nil,
	})
	if len(got.Choices) != 2 || got.Choices[0].Index != 0 || got.Choices[1].Index != 1 {
		t.Fatalf("choices %+v", got.Choices)
	}
	c0, c1 := got.Choices[0], got.Choices[1]
	if c0.Message.Refusal == nil || *c0.Message.Refusal != "I can't help." || !c0.Message.Content.IsNull() || c0.FinishReason != "stop" {
		t.Fatalf("choice 0 %+v", c0)
	}
	tcs := c1.Message.ToolCalls
	if len(tcs) != 2 || tcs[0].ID != "x" || tcs[0].Function.Arguments != "{}" || tcs[1].ID != "y" || tcs[1].Function.Name != "g" || tcs[0].Index != nil {
		t.Fatalf("index-less calls %+v", tcs)
	}
	if c1.FinishReason != "" || Storable(got) {
		t.Fatal("a stream without its finish_reason must not be storable")
	}
	if r := (&Accumulator{}).Response(); r.Choices == nil || len(r.Choices) != 0 || Storable(r) {
		t.Fatal("empty accumulator")
	}
}

func TestReplay(t *testing.T) {
	long := strings.Repeat("Paris is the capital of France. ", 10) + "Ünïcödé ✓ 🎉"
	resp := &schema.ChatResponse{ID: "chatcmpl-9", Object: "chat.completion", Created: 42, Model: "gpt-4o", SystemFingerprint: "fp",
		Usage: &schema.Usage{PromptTokens: 5, CompletionTokens: 50, TotalTokens: 55},
		Choices: []schema.Choice{{Index: 0, FinishReason: "tool_calls", Message: schema.Message{Role: "assistant",
			Content: schema.TextContent(long), Reasoning: "short",
			ToolCalls: []schema.ToolCall{{ID: "call_1", Type: "function", Function: schema.ToolCallFunction{Name: "f",
				Arguments: `{"query":"` + strings.Repeat("x", 100) + `"}`}}}}}}}
	chunks := Replay(resp)
	if c := chunks[0].Choices[0]; c.Delta.Role != "assistant" || c.Delta.Content == nil || *c.Delta.Content != "" || c.FinishReason != nil {
		t.Fatalf("first chunk %+v", c)
	}
	last := chunks[len(chunks)-1].Choices[0]
	if last.FinishReason == nil || *last.FinishReason != "tool_calls" || !reflect.DeepEqual(last.Delta, schema.Delta{}) {
		t.Fatalf("last chunk %+v", last)
	}
	contentChunks, argChunks := 0, 0
	for _, c := range chunks {
		if c.Usage != nil || c.ID != "chatcmpl-9" || c.Model != "gpt-4o" || c.Created != 42 || c.Object != "chat.completion.chunk" || c.SystemFingerprint != "fp" {
			t.Fatalf("chunk header %+v", c)
		}
		if _, err := json.Marshal(c); err != nil {
			t.Fatal(err)
		}
		d := c.Choices[0].Delta
		if d.Content != nil && *d.Content != "" {
			contentChunks++
			if !utf8.ValidString(*d.Content) {
				t.Fatalf("a rune was split: %q", *d.Content)
			}
		}
		if len(d.ToolCalls) == 1 && d.ToolCalls[0].ID == "" {
			argChunks++
		}
	}
	if contentChunks < 3 || contentChunks > 10 || argChunks < 2 {
		t.Fatalf("content in %d chunks, arguments in %d", contentChunks, argChunks)
	}
	// Back through the accumulator: the same response, without usage.
	back := accumulate(chunks)
	want := *resp
	want.Usage = nil
	if !reflect.DeepEqual(back, &want) {
		g, _ := json.Marshal(back)
		w, _ := json.Marshal(&want)
		t.Fatalf("got  %s\nwant %s", g, w)
	}
	// Chunks share nothing with the response.
	*chunks[1].Choices[0].Delta.Reasoning = "changed"
	if resp.Choices[0].Message.Reasoning != "short" {
		t.Fatal("aliasing")
	}
	if Replay(nil) != nil || len(Replay(&schema.ChatResponse{})) != 0 {
		t.Fatal("empty replay")
	}
}

// thinkingStream is what the anthropic adapter streams for two signed
// thinking blocks around a redacted one, then a tool call.
func thinkingStream() []*schema.ChatChunk {
	text := func(i int, s string) []schema.ReasoningDetail {
		return []schema.ReasoningDetail{{Type: schema.ReasoningText, Format: schema.ReasoningFormatAnthropic, Index: i, Text: s}}
	}
	sig := func(i int, s string) []schema.ReasoningDetail {
		return []schema.ReasoningDetail{{Type: schema.ReasoningText, Format: schema.ReasoningFormatAnthropic, Index: i, Signature: s}}
	}
	return []*schema.ChatChunk{
		chunk(0, schema.Delta{Role: "assistant", Content: ptr("")}, ""),
		chunk(0, schema.Delta{Reasoning: ptr("Need the "), ReasoningDetails: text(0, "Need the ")}, ""),
		chunk(0, schema.Delta{Reasoning: ptr("weather."), ReasoningDetails: text(0, "weather.")}, ""),
		chunk(0, schema.Delta{ReasoningDetails: sig(0, "sig-A")}, ""),
		chunk(0, schema.Delta{ReasoningDetails: []schema.ReasoningDetail{{Type: schema.ReasoningEncrypted, Format: schema.ReasoningFormatAnthropic, Index: 1, Data: "redacted"}}}, ""),
		chunk(0, schema.Delta{Reasoning: ptr(" In Paris."), ReasoningDetails: text(2, " In Paris.")}, ""),
		chunk(0, schema.Delta{ReasoningDetails: sig(2, "sig-B")}, ""),
		chunk(0, schema.Delta{ToolCalls: []schema.ToolCall{call(0, "toolu_1", "weather", `{"city":"Paris"}`)}}, ""),
		chunk(0, schema.Delta{}, "tool_calls"),
	}
}

func TestAccumulatorReasoningDetails(t *testing.T) {
	got := accumulate(thinkingStream()).Choices[0].Message
	want := []schema.ReasoningDetail{
		{Type: schema.ReasoningText, Format: schema.ReasoningFormatAnthropic, Index: 0, Text: "Need the weather.", Signature: "sig-A"},
		{Type: schema.ReasoningEncrypted, Format: schema.ReasoningFormatAnthropic, Index: 1, Data: "redacted"},
		{Type: schema.ReasoningText, Format: schema.ReasoningFormatAnthropic, Index: 2, Text: " In Paris.", Signature: "sig-B"},
	}
	if got.Reasoning != "Need the weather. In Paris." || !reflect.DeepEqual(got.ReasoningDetails, want) {
		t.Fatalf("reasoning %q, details %+v", got.Reasoning, got.ReasoningDetails)
	}
	// Replayed, each chunk's reasoning is the text its details carry: a
	// consumer using either never sees the text twice.
	var reasoning, fromDetails strings.Builder
	for _, c := range Replay(accumulate(thinkingStream())) {
		d := c.Choices[0].Delta
		r, dt := "", ""
		if d.Reasoning != nil {
			r = *d.Reasoning
		}
		for _, rd := range d.ReasoningDetails {
			dt += rd.Text
		}
		if r != dt {
			t.Fatalf("chunk reasoning %q, details text %q", r, dt)
		}
		reasoning.WriteString(r)
		fromDetails.WriteString(dt)
	}
	if reasoning.String() != got.Reasoning {
		t.Fatalf("replayed reasoning %q", reasoning.String())
	}
}

// chunks -> Accumulator -> Replay -> Accumulator is the identity (usage aside).
func TestRoundTrip(t *testing.T) {
	for name, chunks := range map[string][]*schema.ChatChunk{
		"tools":    toolStream(),
		"thinking": thinkingStream(),
		// Reasoning text that is not the details' (never from an adapter).
		"other reasoning": {chunk(0, schema.Delta{Role: "assistant", Reasoning: ptr("plain"), ReasoningDetails: []schema.ReasoningDetail{
			{Type: schema.ReasoningSummary, Format: "openai-responses-v1", Summary: "summary"}, {Type: schema.ReasoningEncrypted, ID: "rs_1", Data: "gAAA"}}}, "stop")},
		"text": {chunk(0, schema.Delta{Role: "assistant", Content: ptr("Hello")}, ""),
			chunk(0, schema.Delta{Content: ptr(" world")}, "stop")},
		"n=2": {chunk(0, schema.Delta{Role: "assistant", Content: ptr("A")}, ""), chunk(1, schema.Delta{Role: "assistant", Content: ptr("B")}, "length"),
			chunk(0, schema.Delta{}, "stop")},
	} {
		checkRoundTrip(t, name, chunks)
	}
}

func checkRoundTrip(t *testing.T, name string, chunks []*schema.ChatChunk) {
	t.Helper()
	first := accumulate(chunks)
	first.Usage = nil
	if len(first.Choices) == 0 {
		return // nothing to replay (and never stored: not Storable)
	}
	second := accumulate(Replay(first))
	if !reflect.DeepEqual(first, second) {
		a, _ := json.Marshal(first)
		b, _ := json.Marshal(second)
		t.Fatalf("%s:\nfirst  %s\nsecond %s", name, a, b)
	}
}

func FuzzRoundTrip(f *testing.F) {
	seed, _ := json.Marshal(toolStream())
	f.Add(seed)
	seed, _ = json.Marshal(thinkingStream())
	f.Add(seed)
	f.Add([]byte(`[{"choices":[{"index":2,"delta":{"content":"é","tool_calls":[{"function":{"arguments":"{"}}]}}]},{"choices":[{"index":0,"delta":{"refusal":"no"},"finish_reason":"stop"}]}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var chunks []*schema.ChatChunk
		if json.Unmarshal(b, &chunks) != nil {
			return
		}
		checkRoundTrip(t, string(b), chunks)
		// And a stored entry survives JSON.
		resp := accumulate(chunks)
		data, err := EncodeEntry(Entry{Response: resp})
		if err != nil {
			return
		}
		if _, err := DecodeEntry(data); err != nil {
			t.Fatal(err)
		}
	})
}

func TestSplit(t *testing.T) {
	for _, s := range []string{"", "short", strings.Repeat("a", 1000), strings.Repeat("word ", 100), strings.Repeat("日本語", 50), "\xff\xfe" + strings.Repeat("z", 40)} {
		parts := split(s)
		if strings.Join(parts, "") != s {
			t.Fatalf("%q: pieces do not rebuild the text", s)
		}
		if len(parts) > maxPieces+2 {
			t.Fatalf("%d pieces", len(parts))
		}
		for _, p := range parts {
			if p == "" || (utf8.ValidString(s) && !utf8.ValidString(p)) {
				t.Fatalf("bad piece %q", p)
			}
		}
	}
}
