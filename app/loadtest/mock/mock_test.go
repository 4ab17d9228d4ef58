package mock

import (
	"bufio"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestJSONAnswer(t *testing.T) {
	h := New(Config{Tokens: 3})
	body := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/v1/chat/completions", strings.NewReader(body)))
	var got struct {
		Choices []struct {
			Message struct{ Content string }
		}
		Usage struct{ PromptTokens, CompletionTokens, TotalTokens int } `json:"usage"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, rec.Body)
	}
	if got.Choices[0].Message.Content != "tok tok tok" {
		t.Errorf("content %q", got.Choices[0].Message.Content)
	}
	if rec.Header().Get("Content-Type") != "application/json" {
		t.Errorf("content type %q", rec.Header().Get("Content-Type"))
	}
}

func TestStreamAnswer(t *testing.T) {
	h := New(Config{StreamTokens: 4})
	body := `{"model":"gpt-4o-mini","stream": true,"messages":[{"role":"user","content":"hi"}]}`
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/v1/chat/completions", strings.NewReader(body)))
	var events []string
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			events = append(events, d)
		}
	}
	// 4 content chunks, the finish chunk, the usage chunk, [DONE].
	if len(events) != 7 || events[6] != "[DONE]" {
		t.Fatalf("events: %q", events)
	}
	for _, e := range events[:6] {
		var v map[string]any
		if err := json.Unmarshal([]byte(e), &v); err != nil {
			t.Fatalf("chunk is not JSON: %v: %s", err, e)
		}
	}
	var last struct {
		Usage struct {
			CompletionTokens int `json:"completion_tokens"`
		} `json:"usage"`
	}
	_ = json.Unmarshal([]byte(events[5]), &last)
	if last.Usage.CompletionTokens != 4 {
		t.Errorf("usage chunk: %s", events[5])
	}
}

func TestIsStream(t *testing.T) {
	for body, want := range map[string]bool{
		`{"stream":true}`:                               true,
		`{"stream" : true}`:                             true,
		`{"stream":false}`:                              false,
		`{"stream_options":{"include_usage":true}}`:     false,
		`{"messages":[{"content":"\"stream\": true"}]}`: false,
		`{}`: false,
	} {
		if got := IsStream([]byte(body)); got != want {
			t.Errorf("IsStream(%s) = %v", body, got)
		}
	}
}
