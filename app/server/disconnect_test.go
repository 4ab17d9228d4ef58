package server_test

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/llmgw/gateway/models"
)

// rowOf waits for the single log row of a request the client abandoned.
func rowOf(t *testing.T, h *harness, requestID string) models.RequestLog {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if rows := h.logs(requestID); len(rows) == 1 {
			return rows[0]
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no log row for %s", requestID)
	return models.RequestLog{}
}

// abandon sends a request and closes the connection after wait (non-streaming)
// or after the first SSE line (streaming).
func abandon(t *testing.T, h *harness, requestID, body string, stream bool, wait time.Duration) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", h.base+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+h.setup.APIKey)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-Id", requestID)
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	if !stream {
		time.AfterFunc(wait, cancel)
		if _, err := (&http.Client{Transport: tr}).Do(req); err == nil {
			t.Fatal("request finished before the client left")
		}
		return
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(resp.Body).ReadString('\n')
	if !strings.HasPrefix(line, "data: ") {
		t.Fatalf("first line %q", line)
	}
	cancel()
	resp.Body.Close()
}

// TestClientDisconnect: a client that leaves is logged as 499
// request_cancelled. With cancel (the default) the upstream call stops at once
// and the prompt (plus what was streamed) is billed from the tokenizer; with
// drain the upstream finishes and its exact usage is billed.
func TestClientDisconnect(t *testing.T) {
	for _, policy := range []string{"cancel", "drain"} {
		t.Run(policy, func(t *testing.T) {
			h := startGateway(t, "sqlite", map[string]string{"GATEWAY_ON_CLIENT_DISCONNECT": policy})
			abandon(t, h, "req_gone_json_"+policy, `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"#slow 1500ms\nplease think"}]}`, false, 300*time.Millisecond)
			row := rowOf(t, h, "req_gone_json_"+policy)
			if row.Status != 499 || row.ErrorType != "request_cancelled" || row.TotalCost == nil || *row.TotalCost <= 0 || row.PromptTokens == 0 {
				t.Fatalf("non-streaming row %+v", row)
			}
			if policy == "cancel" && (h.fake.Cancelled() != 1 || row.CompletionTokens != 0 || !row.TokensEstimated) {
				t.Fatalf("cancel: upstream cancelled %d, row %+v", h.fake.Cancelled(), row)
			}
			if policy == "drain" && (h.fake.Cancelled() != 0 || row.CompletionTokens == 0 || row.TokensEstimated) {
				t.Fatalf("drain: upstream cancelled %d, row %+v", h.fake.Cancelled(), row)
			}

			abandon(t, h, "req_gone_sse_"+policy, `{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"#drip 100ms\none two three four five six seven eight nine ten"}]}`, true, 0)
			row = rowOf(t, h, "req_gone_sse_"+policy)
			if row.Status != 499 || row.ErrorType != "request_cancelled" || row.TotalCost == nil || *row.TotalCost <= 0 {
				t.Fatalf("streaming row %+v", row)
			}
			wantCancelled := map[string]int{"cancel": 2, "drain": 0}[policy]
			time.Sleep(200 * time.Millisecond) // the fake notices the cancellation at its next chunk
			if h.fake.Cancelled() != wantCancelled || row.TokensEstimated != (policy == "cancel") {
				t.Fatalf("%s stream: upstream cancelled %d, row %+v", policy, h.fake.Cancelled(), row)
			}
		})
	}
}

// TestClientDisconnectWithCache: with the response cache on, a client that
// leaves during the (shared) upstream call is logged as 499, billed the
// call's usage; the call is not cancelled and its answer fills the cache.
func TestClientDisconnectWithCache(t *testing.T) {
	h := startGateway(t, "sqlite", nil)
	enableCaching(t, h)
	body := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"#slow 1000ms\ncached question"}]}`
	abandon(t, h, "req_gone_cached", body, false, 300*time.Millisecond)
	row := rowOf(t, h, "req_gone_cached")
	if row.Status != 499 || row.ErrorType != "request_cancelled" || row.TotalCost == nil || *row.TotalCost <= 0 || row.CompletionTokens == 0 {
		t.Fatalf("row %+v", row)
	}
	if h.fake.Cancelled() != 0 {
		t.Fatalf("the shared upstream call was cancelled")
	}
	h.srv.Cache.Wait()
	st, _ := h.call("POST", "/v1/chat/completions", h.setup.APIKey, body)
	if st != 200 || len(h.fake.Requests()) != 1 {
		t.Fatalf("after the abandoned fill: %d, %d upstream calls", st, len(h.fake.Requests()))
	}
}
