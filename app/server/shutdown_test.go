package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/llmgw/gateway/app/store"
	"github.com/llmgw/gateway/models"
)

// TestShutdownFinishesStreamsAndFlushesLogs: on shutdown the gateway stops
// accepting, lets an in-flight stream finish within the grace period, and
// writes its log row before exiting.
func TestShutdownFinishesStreamsAndFlushesLogs(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		h := startGateway(t, dialect, nil)
		var raw *httpResponse
		stream := h.client.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
			Model:    "gpt-4o-mini",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("#drip 100ms\none two three")},
		}, option.WithResponseInto(&raw))
		if !stream.Next() {
			t.Fatalf("no first chunk: %v", stream.Err())
		}
		stopped := make(chan struct{})
		go func() { h.stop(); close(stopped) }()

		// New connections are refused while the stream goes on.
		time.Sleep(100 * time.Millisecond)
		if resp, err := http.Get(h.base + "/health"); err == nil {
			resp.Body.Close()
			t.Errorf("a new request was accepted during shutdown (status %d)", resp.StatusCode)
		}
		var text strings.Builder
		for stream.Next() {
			if c := stream.Current(); len(c.Choices) > 0 {
				text.WriteString(c.Choices[0].Delta.Content)
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatalf("in-flight stream broken by shutdown: %v", err)
		}
		if !strings.HasSuffix(text.String(), "one two three") {
			t.Fatalf("stream text = %q", text.String())
		}
		select {
		case <-stopped:
		case <-time.After(20 * time.Second):
			t.Fatal("shutdown did not finish")
		}
		db, err := store.Open(h.dbURL, h.dbDir)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var rows []models.RequestLog
		db.Where("request_id = ?", raw.Header.Get("X-Request-Id")).Find(&rows)
		if len(rows) != 1 || rows[0].Status != 200 || rows[0].TotalCost == nil {
			t.Fatalf("log rows after shutdown = %+v", rows)
		}
	})
}

// TestShutdownCancelsStreamsAfterGrace: a stream longer than the grace period is
// cut with an error event, and its partial usage is still logged.
func TestShutdownCancelsStreamsAfterGrace(t *testing.T) {
	h := startGateway(t, "sqlite", map[string]string{"GATEWAY_SHUTDOWN_GRACE": "300ms"})
	var raw *httpResponse
	stream := h.client.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model:    "gpt-4o-mini",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("#drip 400ms\none two three four five")},
	}, option.WithResponseInto(&raw))
	if !stream.Next() {
		t.Fatalf("no first chunk: %v", stream.Err())
	}
	stopped := make(chan struct{})
	go func() { h.stop(); close(stopped) }()
	for stream.Next() {
	}
	if stream.Err() == nil {
		t.Fatal("a stream cut by shutdown ended as a clean finish")
	}
	<-stopped
	db, err := store.Open(h.dbURL, h.dbDir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rows []models.RequestLog
	db.Where("request_id = ?", raw.Header.Get("X-Request-Id")).Find(&rows)
	if len(rows) != 1 || rows[0].Status != 503 || rows[0].PromptTokens == 0 {
		t.Fatalf("log rows = %+v", rows)
	}
}
