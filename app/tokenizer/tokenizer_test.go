package tokenizer

import (
	"testing"

	"github.com/llmgw/gateway/app/schema"
)

func TestCountKnownStrings(t *testing.T) {
	// Reference counts from OpenAI's tokenizer for o200k_base.
	cases := map[string]int{
		"":                   0,
		"hello world":        2,
		"Hello, world!":      4,
		"tiktoken is great!": 6,
	}
	for s, want := range cases {
		if got := Count(s); got != want {
			t.Errorf("Count(%q) = %d, want %d", s, got, want)
		}
	}
}

func TestCountMessages(t *testing.T) {
	req := &schema.ChatRequest{Messages: []schema.Message{
		{Role: "system", Content: schema.TextContent("You are helpful.")},
		{Role: "user", Content: schema.TextContent("hello world")},
	}}
	// 3 priming + 2×3 per message + roles (1 each) + "You are helpful." (4) + "hello world" (2)
	if got := CountMessages(req); got != 17 {
		t.Fatalf("CountMessages = %d, want 17", got)
	}
}
