package anthropic

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmgw/gateway/app/providers/providertest"
)

// TestToChatGolden: testdata/inbound/*.json Anthropic requests translate to
// the expected neutral request, field by field.
func TestToChatGolden(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "inbound", "*.json"))
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			raw, _ := os.ReadFile(f)
			var tc struct {
				Request json.RawMessage `json:"request"`
				Want    json.RawMessage `json:"want"`
			}
			if err := json.Unmarshal(raw, &tc); err != nil {
				t.Fatal(err)
			}
			r, err := DecodeMessagesRequest(tc.Request)
			if err != nil {
				t.Fatal(err)
			}
			chat, err := r.ToChat()
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.Marshal(chat)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range providertest.JSONDiff("chat", providertest.DecodeAny(t, tc.Want), providertest.DecodeAny(t, got)) {
				t.Error(d)
			}
		})
	}
}

// TestRoundTrip: an Anthropic request that the gateway sends to an Anthropic
// upstream arrives as sent, except for what the neutral schema cannot carry
// (thinking blocks and their signatures, tool cache_control, is_error).
func TestRoundTrip(t *testing.T) {
	in := `{"model":"claude-sonnet-4-20250514","max_tokens":2048,
	"system":[{"type":"text","text":"S1"},{"type":"text","text":"S2","cache_control":{"type":"ephemeral"}}],
	"messages":[
	  {"role":"user","content":[{"type":"text","text":"Look"},{"type":"image","source":{"type":"base64","media_type":"image/jpeg","data":"/9j/"}}]},
	  {"role":"assistant","content":[{"type":"text","text":"Calling."},{"type":"tool_use","id":"toolu_1","name":"f","input":{"x":[1,{"y":null}]}}]},
	  {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"42"},{"type":"text","text":"Go on","cache_control":{"type":"ephemeral"}}]}
	],
	"tools":[{"name":"f","description":"d","input_schema":{"type":"object","properties":{"x":{"type":"array"}}}}],
	"tool_choice":{"type":"any","disable_parallel_tool_use":true},
	"stop_sequences":["STOP"],"temperature":0.5,"top_k":3,"metadata":{"user_id":"u1"}}`
	r, err := DecodeMessagesRequest([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	chat, err := r.ToChat()
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := translateRequest("anthropic", chat, r.Model, 4096)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(out)
	want := providertest.DecodeAny(t, []byte(in)).(map[string]any)
	// metadata.user_id is exposed through SessionID, not forwarded as user.
	delete(want, "metadata")
	// Content strings come back as blocks.
	msgs := want["messages"].([]any)
	msgs[2].(map[string]any)["content"].([]any)[0].(map[string]any)["content"] = "42"
	for _, d := range providertest.JSONDiff("body", want, providertest.DecodeAny(t, got)) {
		t.Error(d)
	}
}

func TestDecodeErrors(t *testing.T) {
	ok := `"model":"m","max_tokens":10`
	tests := []struct{ body, field string }{
		{``, ""},
		{`[]`, ""},
		{`{"model":`, ""},
		{`{"max_tokens":10,"messages":[{"role":"user","content":"x"}]}`, "model"},
		{`{"model":5,"max_tokens":10,"messages":[]}`, "model"},
		{`{"model":"m","messages":[{"role":"user","content":"x"}]}`, "max_tokens"},
		{`{"model":"m","max_tokens":0,"messages":[{"role":"user","content":"x"}]}`, "max_tokens"},
		{`{"model":"m","max_tokens":"ten","messages":[{"role":"user","content":"x"}]}`, "max_tokens"},
		{`{` + ok + `}`, "messages"},
		{`{` + ok + `,"messages":[]}`, "messages"},
		{`{` + ok + `,"messages":{}}`, "messages"},
		{`{` + ok + `,"messages":[5]}`, "messages.0"},
		{`{` + ok + `,"messages":[{"role":"tool","content":"x"}]}`, "messages.0.role"},
		{`{` + ok + `,"messages":[{"role":"user","content":"x"},{"role":"system","content":[{"type":"image","source":{"type":"url","url":"https://x/y.png"}}]}]}`, "messages.1.content.0.type"},
		{`{` + ok + `,"messages":[{"role":"user"}]}`, "messages.0.content"},
		{`{` + ok + `,"messages":[{"role":"user","content":5}]}`, "messages.0.content"},
		{`{` + ok + `,"messages":[{"role":"user","content":[{"text":"x"}]}]}`, "messages.0.content.0.type"},
		{`{` + ok + `,"messages":[{"role":"user","content":["x"]}]}`, "messages.0.content.0"},
		{`{` + ok + `,"messages":[{"role":"user","content":[{"type":"text","text":5}]}]}`, "messages.0.content.0.text"},
		{`{` + ok + `,"messages":[{"role":"user","content":[{"type":"image"}]}]}`, "messages.0.content.0.source"},
		{`{` + ok + `,"messages":[{"role":"assistant","content":[{"type":"tool_use","name":"f"}]}]}`, "messages.0.content.0"},
		{`{` + ok + `,"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":[1]}]}]}`, "messages.0.content.0.input"},
		{`{` + ok + `,"messages":[{"role":"user","content":[{"type":"tool_result"}]}]}`, "messages.0.content.0.tool_use_id"},
		{`{` + ok + `,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"text","text":1}]}]}]}`, "messages.0.content.0.content.0.text"},
		{`{` + ok + `,"messages":[{"role":"user","content":"x"}],"system":[{"type":"image","source":{}}]}`, "system.0.type"},
		{`{` + ok + `,"messages":[{"role":"user","content":"x"}],"system":7}`, "system"},
		{`{` + ok + `,"messages":[{"role":"user","content":"x"}],"temperature":"hot"}`, "temperature"},
		{`{` + ok + `,"messages":[{"role":"user","content":"x"}],"stop_sequences":"x"}`, "stop_sequences"},
		{`{` + ok + `,"messages":[{"role":"user","content":"x"}],"tools":[{"input_schema":{}}]}`, "tools.0.name"},
		{`{` + ok + `,"messages":[{"role":"user","content":"x"}],"tools":[{"name":"f"}]}`, "tools.0.input_schema"},
		{`{` + ok + `,"messages":[{"role":"user","content":"x"}],"tool_choice":{"type":"tool"}}`, "tool_choice.name"},
		{`{` + ok + `,"messages":[{"role":"user","content":"x"}],"tool_choice":{"type":"sometimes"}}`, "tool_choice.type"},
		{`{` + ok + `,"messages":[{"role":"user","content":"x"}],"thinking":{"type":"enabled"}}`, "thinking.budget_tokens"},
		{`{` + ok + `,"messages":[{"role":"user","content":"x"}],"thinking":{"type":"on"}}`, "thinking.type"},
		{`{` + ok + `,"messages":[{"role":"user","content":"x"}],"metadata":{"user_id":5}}`, "metadata.user_id"},
	}
	for _, tc := range tests {
		_, err := DecodeMessagesRequest([]byte(tc.body))
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field || fe.Message == "" {
			t.Errorf("%s: err = %v, want field %q", tc.body, err, tc.field)
			continue
		}
		if tc.field != "" && !strings.HasPrefix(fe.Error(), tc.field+": ") {
			t.Errorf("%s: message %q", tc.body, fe.Error())
		}
	}
}

// TestToChatErrors: well-formed requests asking for what the gateway cannot
// carry to a neutral upstream.
func TestToChatErrors(t *testing.T) {
	ok := `"model":"m","max_tokens":10`
	user := `"messages":[{"role":"user","content":"x"}]`
	tests := []struct{ body, field string }{
		{`{` + ok + `,` + user + `,"tools":[{"type":"web_search_20250305","name":"web_search","max_uses":5}]}`, "tools.0.type"},
		{`{` + ok + `,` + user + `,"tools":[{"name":"f","input_schema":"x"}]}`, "tools.0.input_schema"},
		{`{` + ok + `,` + user + `,"mcp_servers":[{"type":"url","url":"https://x","name":"x"}]}`, "mcp_servers"},
		{`{` + ok + `,` + user + `,"output_config":{"format":{"type":"json_object"}}}`, "output_config.format"},
		{`{` + ok + `,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"file","file_id":"file_1"}}]}]}`, "messages.0.content.0.source.type"},
		{`{` + ok + `,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64"}}]}]}`, "messages.0.content.0.source"},
		{`{` + ok + `,"messages":[{"role":"user","content":[{"type":"document","source":{"type":"url","url":"https://x/a.pdf"}}]}]}`, "messages.0.content.0.source"},
		{`{` + ok + `,"messages":[{"role":"user","content":[{"type":"search_result","source":"x","title":"t","content":[]}]}]}`, "messages.0.content.0.type"},
		{`{` + ok + `,"messages":[{"role":"user","content":[{"type":"thinking","thinking":"x"}]}]}`, "messages.0.content.0.type"},
		{`{` + ok + `,"messages":[{"role":"assistant","content":[{"type":"server_tool_use","id":"s","name":"web_search","input":{}}]}]}`, "messages.0.content.0.type"},
		{`{` + ok + `,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"search_result"}]}]}]}`, "messages.0.content.0.content.0.type"},
	}
	for _, tc := range tests {
		r, err := DecodeMessagesRequest([]byte(tc.body))
		if err != nil {
			t.Errorf("%s: decode: %v", tc.body, err)
			continue
		}
		_, err = r.ToChat()
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%s: err = %v, want field %q", tc.body, err, tc.field)
		}
	}
}

func TestSessionID(t *testing.T) {
	for userID, want := range map[string]string{
		"":    "",
		"u-1": "u-1",
		`{"device_id":"d","account_uuid":"a","session_id":"5f0c2b8e-1d3a-4e6f-9b7c-2a4d6e8f0a1b"}`: "5f0c2b8e-1d3a-4e6f-9b7c-2a4d6e8f0a1b",
		`{"device_id":"d"}`: `{"device_id":"d"}`,
		"user_2d8b1c3e4f_account_7a6b5c4d-1e2f-3a4b-5c6d-7e8f9a0b1c2d_session_1b2c3d4e-5f6a-7b8c-9d0e-1f2a3b4c5d6e": "1b2c3d4e-5f6a-7b8c-9d0e-1f2a3b4c5d6e",
		"user_abc_account__session_": "user_abc_account__session_",
	} {
		body := `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}],"metadata":{"user_id":` + mustJSON(userID) + `}}`
		r, err := DecodeMessagesRequest([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if got := r.SessionID(); got != want {
			t.Errorf("%q: SessionID = %q, want %q", userID, got, want)
		}
	}
	if (&MessagesRequest{}).SessionID() != "" {
		t.Error("no metadata")
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestCountTokensRequest(t *testing.T) {
	r, err := DecodeCountTokensRequest([]byte(`{"model":"claude-sonnet-4-20250514","system":"s","messages":[{"role":"user","content":"Hello"}],"tools":[{"name":"f","input_schema":{"type":"object"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	chat, err := r.ToChat()
	if err != nil {
		t.Fatal(err)
	}
	if chat.Model != "claude-sonnet-4-20250514" || len(chat.Messages) != 2 || len(chat.Tools) != 1 || chat.MaxCompletionTokens != nil || chat.MaxTokens != nil {
		t.Errorf("chat %+v", chat)
	}
	var fe *FieldError
	if _, err := DecodeCountTokensRequest([]byte(`{"messages":[{"role":"user","content":"x"}]}`)); !errors.As(err, &fe) || fe.Field != "model" {
		t.Errorf("err %v", err)
	}
	b, _ := json.Marshal(CountTokensResponse{InputTokens: 14})
	if string(b) != `{"input_tokens":14}` {
		t.Errorf("%s", b)
	}
}
