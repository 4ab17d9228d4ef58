package respcache_test

import (
	"context"
	"fmt"

	"github.com/llmgw/gateway/app/respcache"
	"github.com/llmgw/gateway/app/schema"
)

// How the pipeline uses the cache for a project with caching enabled.
func Example() {
	ctx := context.Background()
	cache := respcache.New(respcache.NewMemory(64<<20), respcache.Options{})
	ttl := respcache.TTL(60) // the project's cacheDurationSeconds

	req, _ := schema.DecodeChatRequest([]byte(`{"model":"openai/gpt-4o","messages":[{"role":"user","content":"Classify: apple"}]}`))
	if !respcache.Cacheable(req) {
		return // call the upstream as usual
	}
	key := respcache.Key("proj_1", req)
	upstream := func(ctx context.Context) (*schema.ChatResponse, error) {
		return &schema.ChatResponse{ID: "chatcmpl-1", Object: "chat.completion", Model: "gpt-4o",
			Usage:   &schema.Usage{PromptTokens: 9, CompletionTokens: 1, TotalTokens: 10},
			Choices: []schema.Choice{{Message: schema.Message{Role: "assistant", Content: schema.TextContent("fruit")}, FinishReason: "stop"}}}, nil
	}

	resp, outcome, _ := cache.Do(ctx, key, ttl, upstream)
	fmt.Println(outcome, resp.Choices[0].Message.Content.String(), resp.Usage.TotalTokens)
	cache.Wait() // only so the example is deterministic: the write is in the background

	// The same request streamed: same key, answered from the cache.
	req.Stream = true
	resp, outcome, _ = cache.Do(ctx, respcache.Key("proj_1", req), ttl, upstream)
	resp.Usage = &schema.Usage{} // a hit reports zero usage and cost (the caller's decision)
	chunks := respcache.Replay(resp)
	fmt.Println(outcome, len(chunks), *chunks[len(chunks)-1].Choices[0].FinishReason)
	// Output:
	// miss fruit 10
	// hit 3 stop
}
