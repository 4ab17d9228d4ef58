package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func enableCaching(t *testing.T, h *harness) {
	t.Helper()
	st, _ := h.call("PATCH", "/v1/master/projects/"+h.setup.ProjectID, h.setup.MasterKey, `{"cachingEnabled":true,"cacheDurationSeconds":60}`)
	if st != 200 {
		t.Fatalf("enable caching: %d", st)
	}
}

// TestResponseCache: with caching on, an identical request is answered from
// the cache (header HIT, zero usage and cost, no upstream call, logged as
// cached), as JSON or replayed as a stream; a different request misses.
func TestResponseCache(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) { testResponseCache(t, dialect, nil) })
	// With REDIS_URL the entries live in Redis (shared by every instance). A
	// loaded CI machine can stall Redis past the 250ms production lookup
	// budget, which would turn an expected hit into a miss.
	t.Run("redis", func(t *testing.T) {
		testResponseCache(t, "sqlite", map[string]string{"REDIS_URL": "redis://127.0.0.1:6379/0", "GATEWAY_CACHE_LOOKUP_TIMEOUT": "10s"})
	})
}

func testResponseCache(t *testing.T, dialect string, env map[string]string) {
	{
		h := startGateway(t, dialect, env)
		ask := func(prompt string) (*openai.ChatCompletion, *http.Response) {
			var raw *http.Response
			resp, err := h.client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
				Model:    "gpt-4o-mini",
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(prompt)},
			}, option.WithResponseInto(&raw))
			if err != nil {
				t.Fatal(err)
			}
			return resp, raw
		}
		// Caching off (the default): every request reaches the upstream.
		ask("uncached")
		ask("uncached")
		if n := len(h.fake.Requests()); n != 2 {
			t.Fatalf("caching off: %d upstream calls", n)
		}
		enableCaching(t, h)
		first, raw1 := ask("what is 2+2?")
		second, raw2 := ask("what is 2+2?")
		if n := len(h.fake.Requests()); n != 3 {
			t.Fatalf("upstream calls = %d, want 3", n)
		}
		if raw1.Header.Get("X-LLMGateway-Cache") != "MISS" || raw2.Header.Get("X-LLMGateway-Cache") != "HIT" {
			t.Fatalf("cache headers %q, %q", raw1.Header.Get("X-LLMGateway-Cache"), raw2.Header.Get("X-LLMGateway-Cache"))
		}
		if second.Choices[0].Message.Content != first.Choices[0].Message.Content || second.Usage.TotalTokens != 0 ||
			second.Model != first.Model || first.Usage.TotalTokens == 0 {
			t.Fatalf("first %+v\nsecond %+v", first, second)
		}
		if cost := second.Usage.JSON.ExtraFields["cost"].Raw(); cost != "0" {
			t.Fatalf("cached cost = %s", cost)
		}
		rows := h.logs(raw2.Header.Get("X-Request-Id"))
		if len(rows) != 1 || !rows[0].Cached || rows[0].TotalCost == nil || *rows[0].TotalCost != 0 {
			t.Fatalf("cached row %+v", rows)
		}

		// The same request streamed is replayed from the cache as a stream.
		stream := h.client.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
			Model:         "gpt-4o-mini",
			Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("what is 2+2?")},
			StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
		})
		var acc openai.ChatCompletionAccumulator
		for stream.Next() {
			acc.AddChunk(stream.Current())
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if acc.Choices[0].Message.Content != first.Choices[0].Message.Content || len(h.fake.Requests()) != 3 {
			t.Fatalf("replayed %q, upstream calls %d", acc.Choices[0].Message.Content, len(h.fake.Requests()))
		}
		// A streamed miss fills the cache for a later non-streamed request.
		var sraw *http.Response
		stream = h.client.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
			Model:    "gpt-4o-mini",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("streamed first")},
		}, option.WithResponseInto(&sraw))
		var streamed strings.Builder
		for stream.Next() {
			if ch := stream.Current(); len(ch.Choices) > 0 {
				streamed.WriteString(ch.Choices[0].Delta.Content)
			}
		}
		// The client may finish reading before the gateway stored the answer:
		// its log row is written after the store was queued.
		rowOf(t, h, sraw.Header.Get("X-Request-Id"))
		h.srv.Cache.Wait()
		resp, raw := ask("streamed first")
		if raw.Header.Get("X-LLMGateway-Cache") != "HIT" || resp.Choices[0].Message.Content != streamed.String() || len(h.fake.Requests()) != 4 {
			t.Fatalf("after streamed miss: %q %q (%d calls)", raw.Header.Get("X-LLMGateway-Cache"), resp.Choices[0].Message.Content, len(h.fake.Requests()))
		}
		// Different sampling parameters are a different entry.
		if _, err := h.client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
			Model:       "gpt-4o-mini",
			Messages:    []openai.ChatCompletionMessageParamUnion{openai.UserMessage("what is 2+2?")},
			Temperature: openai.Float(0.3),
		}); err != nil || len(h.fake.Requests()) != 5 {
			t.Fatalf("temperature change: %v, %d calls", err, len(h.fake.Requests()))
		}
	}
}

// TestResponseCacheCoalescesMisses: concurrent identical misses make one
// upstream call.
func TestResponseCacheCoalescesMisses(t *testing.T) {
	h := startGateway(t, "sqlite", nil)
	enableCaching(t, h)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := h.client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
				Model:    "gpt-4o-mini",
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("#slow 300ms\nsame question")},
			})
			if err == nil && !strings.Contains(resp.Choices[0].Message.Content, "same question") {
				err = fmt.Errorf("answer %q", resp.Choices[0].Message.Content)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := len(h.fake.Requests()); n != 1 {
		t.Fatalf("20 concurrent identical requests made %d upstream calls", n)
	}
	// /metrics counts the hits and every request.
	req, _ := http.NewRequest("GET", h.base+"/metrics", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	// Parsed with Prometheus's own text parser: the exposition must be valid.
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	value := func(name string, labels map[string]string) float64 {
		f := families[name]
		if f == nil {
			t.Fatalf("/metrics lacks %s", name)
		}
	next:
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if want, ok := labels[l.GetName()]; ok && want != l.GetValue() {
					continue next
				}
			}
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
		t.Fatalf("%s%v not found", name, labels)
		return 0
	}
	if v := value("llmgw_cache_requests_total", map[string]string{"result": "hit"}); v != 19 {
		t.Fatalf("cache hits = %v", v)
	}
	if v := value("llmgw_cache_requests_total", map[string]string{"result": "miss"}); v != 1 {
		t.Fatalf("cache misses = %v", v)
	}
	if v := value("llmgw_requests_total", map[string]string{"endpoint": "chat.completions", "model": "gpt-4o-mini", "provider": "openai", "status": "200"}); v != 20 {
		t.Fatalf("requests = %v", v)
	}
	value("llmgw_log_queue_depth", nil)
	if h := families["llmgw_request_duration_seconds"]; h == nil || h.GetMetric()[0].GetHistogram().GetSampleCount() == 0 {
		t.Fatal("no request duration histogram")
	}
}
