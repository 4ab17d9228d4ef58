package server_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/llmgw/gateway/models"
)

// TestDataRetention: after PATCH /v1/master/organization {"retention":
// "retain-all"}, requests carry cost_details.data_storage_cost and their
// payloads are stored encrypted, readable through the master API; before it
// (metadata-only, the default) nothing is stored.
func TestDataRetention(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		h := startGateway(t, dialect, nil)
		ask := func(prompt string) (*openai.ChatCompletion, string) {
			t.Helper()
			var raw *httpResponse
			resp, err := h.client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
				Model:    "gpt-4o-mini",
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(prompt)},
			}, option.WithResponseInto(&raw))
			if err != nil {
				t.Fatal(err)
			}
			return resp, raw.Header.Get("X-Request-Id")
		}
		_, before := ask("metadata only please")
		if st, _ := h.call("PATCH", "/v1/master/organization", h.setup.MasterKey, `{"retention":"retain-all","retentionDays":7}`); st != 200 {
			t.Fatalf("PATCH organization: %d", st)
		}
		resp, reqID := ask("the secret recipe is 42")
		storage := resp.Usage.JSON.ExtraFields["cost_details"].Raw()
		if !strings.Contains(storage, `"data_storage_cost":`) || strings.Contains(storage, `"data_storage_cost":0,`) {
			t.Fatalf("cost_details = %s", storage)
		}
		if err := h.srv.Payloads.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		logID := h.logs(reqID)[0].ID
		st, p := h.call("GET", "/v1/master/logs/"+logID+"/payload", h.setup.MasterKey, "")
		if st != 200 {
			t.Fatalf("payload: %d %v", st, p)
		}
		reqBody, _ := p["request"].(map[string]any)
		respBody, _ := p["response"].(map[string]any)
		if reqBody["model"] != "gpt-4o-mini" || !strings.Contains(toJSON(respBody), "the secret recipe is 42") || p["dataStorageCost"] == "0" {
			t.Fatalf("payload = %v", p)
		}
		var rows []models.RequestPayload
		h.srv.DB.DB.Find(&rows)
		if len(rows) != 1 || strings.Contains(toJSON(rows), "secret recipe") {
			t.Fatalf("stored rows %d (plaintext visible: %v)", len(rows), strings.Contains(toJSON(rows), "secret recipe"))
		}
		if st, _ := h.call("GET", "/v1/master/logs/"+h.logs(before)[0].ID+"/payload", h.setup.MasterKey, ""); st != 404 {
			t.Fatalf("metadata-only request has a payload: %d", st)
		}
	})
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestDataRetentionRelayed: relayed calls (the vLLM pass-through) are
// retained and priced like the others.
func TestDataRetentionRelayed(t *testing.T) {
	h := startVLLM(t, "sqlite")
	if st, _ := h.call("PATCH", "/v1/master/organization", h.setup.MasterKey, `{"retention":"retain-all"}`); st != 200 {
		t.Fatalf("PATCH organization: %d", st)
	}
	res := h.post("/v1/vllm/chat/completions", `{"model":"fake-llama","messages":[{"role":"user","content":"keep me"}]}`)
	if res.StatusCode != 200 {
		t.Fatalf("relayed: %d", res.StatusCode)
	}
	if err := h.srv.Payloads.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	rows := h.logs(res.Header.Get("X-Request-Id"))
	if len(rows) != 1 {
		t.Fatalf("rows = %d", len(rows))
	}
	st, p := h.call("GET", "/v1/master/logs/"+rows[0].ID+"/payload", h.setup.MasterKey, "")
	if st != 200 || !strings.Contains(toJSON(p["request"]), "keep me") || p["dataStorageCost"] == "0" {
		t.Fatalf("payload: %d %v", st, p)
	}
}
