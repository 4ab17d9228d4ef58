package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestClaudeCode runs the real Claude Code CLI (`claude -p`) against a real
// gateway, with ANTHROPIC_BASE_URL pointing at it, in a throw-away HOME:
//
//   - claude-sonnet-4-5 served by an Anthropic upstream, key in
//     ANTHROPIC_AUTH_TOKEN: Claude Code calls Bash, gets its output, answers;
//   - gpt-4o-mini served by an OpenAI upstream, key in ANTHROPIC_API_KEY: the
//     same round trip, through Claude Code's request shape for models it does
//     not know (system turns inside messages, adaptive thinking with effort);
//   - /context, which makes Claude Code call POST /v1/messages/count_tokens
//     with its system prompt pieces and all its tool definitions.
//
// A recording proxy between Claude Code and the gateway keeps every request
// it sends; the scripted upstream records what the gateway forwards. Set
// LLMGW_CLAUDE_CODE_DUMP=dir to write both to dir/<subtest>-{client,upstream}.json.
//
// The binary is $LLMGW_CLAUDE_CODE_BIN, else `claude` on PATH, else
// $HOME/.cache/llmgw-cc/node_modules/.bin/claude (where CI installs it with
// npm install --prefix). Without it the test is skipped, unless
// LLMGW_REQUIRE_CLAUDE_CODE is set (CI), which makes it fail.
func TestClaudeCode(t *testing.T) {
	bin := claudeCodeBinary(t)
	up := &ccUpstream{rec: &ccRecorder{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/messages", up.anthropic)
	mux.HandleFunc("POST /v1/chat/completions", up.openai)
	upstream := httptest.NewServer(ccRecording(up.rec, mux))
	t.Cleanup(upstream.Close)

	h := startGateway(t, "sqlite", map[string]string{
		"LLM_ANTHROPIC_API_KEY": "sk-ant-test", "LLM_ANTHROPIC_BASE_URL": upstream.URL,
		"LLM_OPENAI_BASE_URL":      upstream.URL,
		"GATEWAY_UPSTREAM_TIMEOUT": "30s", "GATEWAY_UPSTREAM_FIRST_BYTE_TIMEOUT": "30s",
	})
	gw, _ := url.Parse(h.base)
	proxy := httputil.NewSingleHostReverseProxy(gw)
	proxy.FlushInterval = -1 // stream events as they come
	client := &ccRecorder{}
	front := httptest.NewServer(ccRecording(client, proxy))
	t.Cleanup(front.Close)

	cc := &ccRunner{bin: bin, baseURL: front.URL, key: h.setup.APIKey, client: client, upstream: up.rec}
	const prompt = "Run `echo " + ccMarker + "` with the Bash tool and tell me what it printed."
	const want = "The tool printed: " + ccMarker

	t.Run("AnthropicUpstream", func(t *testing.T) {
		run := cc.run(t, "ANTHROPIC_AUTH_TOKEN", "claude-sonnet-4-5", prompt)
		if got := strings.TrimSpace(run.stdout); got != want {
			t.Fatalf("answer = %q, want %q", got, want)
		}
		msgs := run.clientPosts(t, "/v1/messages")
		for _, e := range msgs {
			if !strings.HasPrefix(e.Header.Get("Authorization"), "Bearer llmgtwy_") {
				t.Errorf("Claude Code did not send ANTHROPIC_AUTH_TOKEN as a bearer token: %v", e.Header)
			}
		}
		// The gateway streamed the upstream's thinking to Claude Code.
		if !strings.Contains(msgs[0].Response, `"thinking_delta"`) {
			t.Errorf("no thinking block reached Claude Code:\n%s", msgs[0].Response)
		}
		// The tool round trip reached the upstream: a Bash call, then its result.
		ups := run.upstreamPosts(t, "/v1/messages")
		first, last := ups[0], ups[len(ups)-1]
		if first.Body["model"] != "claude-sonnet-4-5-20250929" || !strings.Contains(first.Response, `"name":"Bash"`) {
			t.Fatalf("first upstream call: model %v, answer %s", first.Body["model"], first.Response)
		}
		if !anthropicToolRoundTrip(last.Body) {
			t.Fatalf("the last upstream call does not carry the Bash tool_use and its tool_result: %s", ccJSON(last.Body["messages"]))
		}
		// Claude Code's cache breakpoints in its system blocks reach Anthropic.
		if !strings.Contains(ccJSON(first.Body["system"]), `"cache_control"`) {
			t.Errorf("system lost cache_control: %.300s", ccJSON(first.Body["system"]))
		}
		// The request log has Claude Code's session (from metadata.user_id).
		session := msgs[0].Header.Get("X-Claude-Code-Session-Id")
		if rows := h.logs(msgs[0].RequestID); len(rows) == 0 || session == "" || rows[0].SessionID != session {
			t.Errorf("log of %s: %+v, want session %q", msgs[0].RequestID, rows, session)
		}
	})

	t.Run("OpenAIUpstream", func(t *testing.T) {
		run := cc.run(t, "ANTHROPIC_API_KEY", "gpt-4o-mini", prompt)
		if got := strings.TrimSpace(run.stdout); got != want {
			t.Fatalf("answer = %q, want %q", got, want)
		}
		msgs := run.clientPosts(t, "/v1/messages")
		sentSystemTurn, sentThinking := false, false
		for _, e := range msgs {
			if !strings.HasPrefix(e.Header.Get("X-Api-Key"), "llmgtwy_") {
				t.Errorf("Claude Code did not send ANTHROPIC_API_KEY as x-api-key: %v", e.Header)
			}
			sentSystemTurn = sentSystemTurn || strings.Contains(ccJSON(e.Body["messages"]), `"role":"system"`)
			sentThinking = sentThinking || e.Body["thinking"] != nil
		}
		t.Logf("Claude Code sent system turns in messages: %v, thinking: %v", sentSystemTurn, sentThinking)
		ups := run.upstreamPosts(t, "/v1/chat/completions")
		for _, u := range ups {
			// gpt-4o-mini is no reasoning model and writes at most 16384 tokens:
			// OpenAI would answer 400 to Claude Code's thinking and max_tokens 32000.
			if u.Body["reasoning"] != nil || u.Body["reasoning_effort"] != nil {
				t.Errorf("reasoning sent to a non-reasoning model: %v %v", u.Body["reasoning"], u.Body["reasoning_effort"])
			}
			if n, _ := u.Body["max_completion_tokens"].(float64); n > 16384 {
				t.Errorf("max_completion_tokens %v above gpt-4o-mini's limit", n)
			}
			if sentSystemTurn && strings.Count(ccJSON(u.Body["messages"]), `"role":"system"`) < 2 {
				t.Errorf("the system turn did not reach the upstream in place: %.500s", ccJSON(u.Body["messages"]))
			}
		}
		if !openAIToolRoundTrip(ups[len(ups)-1].Body) {
			t.Fatalf("the last upstream call does not carry the Bash call and its result: %s", ccJSON(ups[len(ups)-1].Body["messages"]))
		}
	})

	t.Run("CountTokens", func(t *testing.T) {
		run := cc.run(t, "ANTHROPIC_AUTH_TOKEN", "claude-sonnet-4-5", "/context")
		if !strings.Contains(run.stdout, "Tokens") {
			t.Errorf("/context printed:\n%s", run.stdout)
		}
		counts := run.clientPosts(t, "/v1/messages/count_tokens")
		withTools := 0
		for _, e := range counts {
			var n struct {
				InputTokens int `json:"input_tokens"`
			}
			if json.Unmarshal([]byte(e.Response), &n) != nil || n.InputTokens <= 0 {
				t.Errorf("count_tokens answered %s", e.Response)
			}
			if tools, _ := e.Body["tools"].([]any); len(tools) > 1 {
				withTools++
			}
		}
		if withTools == 0 {
			t.Errorf("no count_tokens call carried Claude Code's tool definitions")
		}
		if n := len(run.upstreamPosts(t, "")); n != 0 {
			t.Errorf("count_tokens called the upstream %d times", n)
		}
	})
}

// ccMarker is what the Bash call prints: only a real tool run can put it in
// the tool_result.
const ccMarker = "ccmarker-4217"

const ccToolInput = `{"command":"echo ` + ccMarker + `","description":"Print the marker"}`

// claudeCodeBinary finds the claude executable (see TestClaudeCode).
func claudeCodeBinary(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("LLMGW_CLAUDE_CODE_BIN")
	if bin == "" {
		if p, err := exec.LookPath("claude"); err == nil {
			bin = p
		}
	}
	if bin == "" {
		if home, err := os.UserHomeDir(); err == nil {
			p := filepath.Join(home, ".cache", "llmgw-cc", "node_modules", ".bin", "claude")
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				bin = p
			}
		}
	}
	if bin == "" {
		msg := "Claude Code not found (LLMGW_CLAUDE_CODE_BIN, PATH, ~/.cache/llmgw-cc/node_modules/.bin/claude); install it with: npm install --prefix ~/.cache/llmgw-cc @anthropic-ai/claude-code"
		if os.Getenv("LLMGW_REQUIRE_CLAUDE_CODE") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("%s --version: %v\n%s", bin, err, out)
	}
	t.Logf("Claude Code %s (%s)", strings.TrimSpace(string(out)), bin)
	return bin
}

// ccRunner runs claude -p against the recording proxy.
type ccRunner struct {
	bin, baseURL, key string
	client, upstream  *ccRecorder
}

type ccRun struct {
	stdout           string
	client, upstream []ccExchange // this run's exchanges
}

func (cc *ccRunner) run(t *testing.T, keyVar, model, prompt string) *ccRun {
	t.Helper()
	c0, u0 := len(cc.client.all()), len(cc.upstream.all())
	home, work := t.TempDir(), t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := []string{"-p", prompt, "--model", model, "--allowedTools", "Bash", "--max-turns", "4"}
	cmd := exec.CommandContext(ctx, cc.bin, args...)
	cmd.Dir = work
	// A clean environment: nothing of the caller's Anthropic settings leaks in.
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "SHELL=/bin/bash", "TERM=dumb", "NO_COLOR=1",
		"ANTHROPIC_BASE_URL=" + cc.baseURL, keyVar + "=" + cc.key,
		"ANTHROPIC_DEFAULT_HAIKU_MODEL=" + model, // background calls use the served model too
		"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1", "DISABLE_AUTOUPDATER=1", "DISABLE_TELEMETRY=1",
		"DISABLE_ERROR_REPORTING=1", "DISABLE_COST_WARNINGS=1",
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := &ccRun{stdout: stdout.String(), client: cc.client.all()[c0:], upstream: cc.upstream.all()[u0:]}
	var tr strings.Builder
	for _, e := range r.client {
		fmt.Fprintf(&tr, "  claude -> gateway: %s %s?%s -> %d\n", e.Method, e.Path, e.Query, e.Status)
	}
	for _, e := range r.upstream {
		fmt.Fprintf(&tr, "  gateway -> upstream: %s %s -> %d\n", e.Method, e.Path, e.Status)
	}
	t.Logf("claude %s (%v, %v)\n%s", strings.Join(args, " "), time.Since(start).Round(time.Millisecond), err, tr.String())
	if dir := os.Getenv("LLMGW_CLAUDE_CODE_DUMP"); dir != "" {
		_ = os.MkdirAll(dir, 0o755)
		name := strings.ReplaceAll(t.Name(), "/", "_")
		for suffix, ex := range map[string][]ccExchange{"client": r.client, "upstream": r.upstream} {
			b, _ := json.MarshalIndent(ex, "", "  ")
			_ = os.WriteFile(filepath.Join(dir, name+"-"+suffix+".json"), b, 0o644)
		}
	}
	if err != nil {
		t.Fatalf("claude failed: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	// Every API call Claude Code made must have succeeded (HEAD / is its
	// connection pre-warming, whose answer it ignores).
	for _, e := range r.client {
		if e.Method != http.MethodHead && e.Status != http.StatusOK {
			t.Errorf("%s %s?%s answered %d: %s", e.Method, e.Path, e.Query, e.Status, e.Response)
		}
	}
	return r
}

// clientPosts are the run's POSTs of Claude Code to path (at least one).
func (r *ccRun) clientPosts(t *testing.T, path string) []ccExchange {
	t.Helper()
	out := ccPosts(r.client, path)
	if len(out) == 0 {
		t.Fatalf("Claude Code sent no POST %s", path)
	}
	return out
}

// upstreamPosts are the run's POSTs of the gateway to the upstream's path
// ("" for any); at least one unless path is "".
func (r *ccRun) upstreamPosts(t *testing.T, path string) []ccExchange {
	t.Helper()
	out := ccPosts(r.upstream, path)
	if len(out) == 0 && path != "" {
		t.Fatalf("the upstream got no POST %s", path)
	}
	return out
}

func ccPosts(ex []ccExchange, path string) []ccExchange {
	var out []ccExchange
	for _, e := range ex {
		if e.Method == http.MethodPost && (path == "" || e.Path == path) {
			out = append(out, e)
		}
	}
	return out
}

// anthropicToolRoundTrip: an assistant turn calls Bash (toolu_cc1) and a
// later user turn returns its result, which holds the marker.
func anthropicToolRoundTrip(body map[string]any) bool {
	msgs, _ := body["messages"].([]any)
	called := false
	for _, m := range msgs {
		mm, _ := m.(map[string]any)
		blocks, _ := mm["content"].([]any)
		for _, b := range blocks {
			bm, _ := b.(map[string]any)
			switch {
			case mm["role"] == "assistant" && bm["type"] == "tool_use" && bm["id"] == "toolu_cc1" && bm["name"] == "Bash":
				called = true
			case called && mm["role"] == "user" && bm["type"] == "tool_result" && bm["tool_use_id"] == "toolu_cc1" &&
				strings.Contains(ccJSON(bm["content"]), ccMarker):
				return true
			}
		}
	}
	return false
}

// openAIToolRoundTrip: an assistant message calls Bash (call_cc1) and a
// later tool message returns its result, which holds the marker.
func openAIToolRoundTrip(body map[string]any) bool {
	msgs, _ := body["messages"].([]any)
	called := false
	for _, m := range msgs {
		mm, _ := m.(map[string]any)
		switch {
		case mm["role"] == "assistant" && strings.Contains(ccJSON(mm["tool_calls"]), `"id":"call_cc1"`) &&
			strings.Contains(ccJSON(mm["tool_calls"]), `"name":"Bash"`):
			called = true
		case called && mm["role"] == "tool" && mm["tool_call_id"] == "call_cc1" && strings.Contains(ccJSON(mm["content"]), ccMarker):
			return true
		}
	}
	return false
}

func ccJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// ccExchange is one HTTP exchange seen by a recorder.
type ccExchange struct {
	Method, Path, Query string
	Header              http.Header
	Body                map[string]any
	Status              int
	RequestID           string // the gateway's X-Request-Id
	Response            string
}

type ccRecorder struct {
	mu  sync.Mutex
	log []ccExchange
}

func (r *ccRecorder) add(e ccExchange) {
	r.mu.Lock()
	r.log = append(r.log, e)
	r.mu.Unlock()
}

func (r *ccRecorder) all() []ccExchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]ccExchange(nil), r.log...)
}

// ccRecording records every exchange of next (the response body up to 1 MiB).
func ccRecording(rec *ccRecorder, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(raw))
		var body map[string]any
		_ = json.Unmarshal(raw, &body)
		cw := &ccCaptureWriter{ResponseWriter: w}
		next.ServeHTTP(cw, r)
		if cw.status == 0 {
			cw.status = http.StatusOK
		}
		rec.add(ccExchange{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body,
			Status: cw.status, RequestID: cw.Header().Get("X-Request-Id"), Response: cw.buf.String()})
	})
}

// ccCaptureWriter keeps a copy of what a handler writes and passes flushes on.
type ccCaptureWriter struct {
	http.ResponseWriter
	status int
	buf    bytes.Buffer
}

func (w *ccCaptureWriter) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
	w.ResponseWriter.WriteHeader(s)
}

func (w *ccCaptureWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.buf.Len() < 1<<20 {
		w.buf.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

func (w *ccCaptureWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// ccUpstream is a scripted model behind the gateway, speaking Anthropic's
// Messages API and OpenAI's Chat Completions. A request offering the Bash
// tool and carrying no tool result yet is answered with a call of Bash; one
// carrying the tool's result with "The tool printed: <result>"; anything
// else (side requests) with "ok". With thinking on, Anthropic answers start
// with a signed thinking block, as Claude's do.
type ccUpstream struct{ rec *ccRecorder }

func (*ccUpstream) decide(tools []string, result string, hasResult bool) (callTool bool, text string) {
	switch {
	case hasResult:
		return false, "The tool printed: " + strings.TrimSpace(result)
	case slices.Contains(tools, "Bash"):
		return true, ""
	}
	return false, "ok"
}

// ccToolResultText is the text of a tool result's content (a string or blocks).
func ccToolResultText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []struct{ Text string }
	_ = json.Unmarshal(raw, &parts)
	var b strings.Builder
	for _, p := range parts {
		b.WriteString(p.Text)
	}
	return b.String()
}

func (u *ccUpstream) anthropic(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Model    string `json:"model"`
		Stream   bool   `json:"stream"`
		Thinking *struct {
			Type string `json:"type"`
		} `json:"thinking"`
		Tools    []struct{ Name string }
		Messages []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		}
	}
	_ = json.NewDecoder(r.Body).Decode(&body)
	var names []string
	for _, t := range body.Tools {
		names = append(names, t.Name)
	}
	result, has := "", false
	for _, m := range body.Messages {
		var blocks []struct {
			Type    string          `json:"type"`
			Content json.RawMessage `json:"content"`
		}
		_ = json.Unmarshal(m.Content, &blocks)
		for _, b := range blocks {
			if b.Type == "tool_result" {
				result, has = ccToolResultText(b.Content), true
			}
		}
	}
	callTool, text := u.decide(names, result, has)
	var content []map[string]any
	if body.Thinking != nil && body.Thinking.Type != "disabled" {
		content = append(content, map[string]any{"type": "thinking", "thinking": "I will run the command.", "signature": "sig-fake"})
	}
	stop := "end_turn"
	if callTool {
		stop = "tool_use"
		content = append(content, map[string]any{"type": "tool_use", "id": "toolu_cc1", "name": "Bash", "input": json.RawMessage(ccToolInput)})
	} else {
		content = append(content, map[string]any{"type": "text", "text": text})
	}
	if !body.Stream {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"id": "msg_cc", "type": "message", "role": "assistant", "model": body.Model,
			"content": content, "stop_reason": stop, "stop_sequence": nil,
			"usage": map[string]any{"input_tokens": 100, "output_tokens": 10, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0}})
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	fl, _ := w.(http.Flusher)
	event := func(name string, data map[string]any) {
		data["type"] = name
		b, _ := json.Marshal(data)
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, b)
		if fl != nil {
			fl.Flush()
		}
	}
	event("message_start", map[string]any{"message": map[string]any{"id": "msg_cc", "type": "message", "role": "assistant", "model": body.Model,
		"content": []any{}, "stop_reason": nil, "stop_sequence": nil, "usage": map[string]any{"input_tokens": 100, "output_tokens": 1}}})
	for i, block := range content {
		delta := func(d map[string]any) { event("content_block_delta", map[string]any{"index": i, "delta": d}) }
		switch block["type"] {
		case "thinking":
			event("content_block_start", map[string]any{"index": i, "content_block": map[string]any{"type": "thinking", "thinking": "", "signature": ""}})
			delta(map[string]any{"type": "thinking_delta", "thinking": block["thinking"]})
			delta(map[string]any{"type": "signature_delta", "signature": block["signature"]})
		case "tool_use":
			event("content_block_start", map[string]any{"index": i, "content_block": map[string]any{"type": "tool_use", "id": "toolu_cc1", "name": "Bash", "input": map[string]any{}}})
			half := len(ccToolInput) / 2
			delta(map[string]any{"type": "input_json_delta", "partial_json": ccToolInput[:half]})
			delta(map[string]any{"type": "input_json_delta", "partial_json": ccToolInput[half:]})
		default:
			event("content_block_start", map[string]any{"index": i, "content_block": map[string]any{"type": "text", "text": ""}})
			for j, word := range strings.Fields(text) {
				if j > 0 {
					word = " " + word
				}
				delta(map[string]any{"type": "text_delta", "text": word})
			}
		}
		event("content_block_stop", map[string]any{"index": i})
	}
	event("message_delta", map[string]any{"delta": map[string]any{"stop_reason": stop, "stop_sequence": nil}, "usage": map[string]any{"output_tokens": 10}})
	event("message_stop", map[string]any{})
}

func (u *ccUpstream) openai(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Model    string `json:"model"`
		Stream   bool   `json:"stream"`
		Tools    []struct{ Function struct{ Name string } }
		Messages []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		}
	}
	_ = json.NewDecoder(r.Body).Decode(&body)
	var names []string
	for _, t := range body.Tools {
		names = append(names, t.Function.Name)
	}
	result, has := "", false
	for _, m := range body.Messages {
		if m.Role == "tool" {
			result, has = ccToolResultText(m.Content), true
		}
	}
	callTool, text := u.decide(names, result, has)
	call := map[string]any{"index": 0, "id": "call_cc1", "type": "function", "function": map[string]any{"name": "Bash", "arguments": ccToolInput}}
	usage := map[string]any{"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110}
	finish := "stop"
	if callTool {
		finish = "tool_calls"
	}
	if !body.Stream {
		msg := map[string]any{"role": "assistant", "content": text}
		if callTool {
			msg = map[string]any{"role": "assistant", "content": nil, "tool_calls": []any{call}}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"id": "chatcmpl-cc", "object": "chat.completion", "created": time.Now().Unix(), "model": body.Model,
			"choices": []any{map[string]any{"index": 0, "message": msg, "finish_reason": finish}}, "usage": usage})
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	fl, _ := w.(http.Flusher)
	send := func(delta map[string]any, finish any, usage map[string]any) {
		ch := map[string]any{"id": "chatcmpl-cc", "object": "chat.completion.chunk", "created": time.Now().Unix(), "model": body.Model,
			"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}}}
		if usage != nil {
			ch["choices"], ch["usage"] = []any{}, usage
		}
		b, _ := json.Marshal(ch)
		fmt.Fprintf(w, "data: %s\n\n", b)
		if fl != nil {
			fl.Flush()
		}
	}
	send(map[string]any{"role": "assistant", "content": ""}, nil, nil)
	if callTool {
		send(map[string]any{"tool_calls": []any{call}}, nil, nil)
	} else {
		for i, word := range strings.Fields(text) {
			if i > 0 {
				word = " " + word
			}
			send(map[string]any{"content": word}, nil, nil)
		}
	}
	send(map[string]any{}, finish, nil)
	send(nil, nil, usage)
	fmt.Fprint(w, "data: [DONE]\n\n")
}

// ccRequest is the shape of Claude Code 2.1.197's main-loop requests (texts
// shortened), second step of a tool loop: system blocks with cache_control,
// metadata.user_id as a JSON string, thinking, context_management, a system
// turn inside messages (sent for model names Claude Code does not know), a
// returned unsigned thinking block, and 2020-12 JSON schemas.
const ccRequest = `{"model":"MODEL","max_tokens":32000,"stream":true,
 "thinking":{"type":"adaptive"},"output_config":{"effort":"high"},
 "context_management":{"edits":[{"type":"clear_thinking_20251015","keep":"all"}]},
 "metadata":{"user_id":"{\"device_id\":\"1b9d\",\"account_uuid\":\"\",\"session_id\":\"958674ea-bd42-450b-bb81-cb8b14c64791\"}"},
 "system":[{"type":"text","text":"x-anthropic-billing-header: cc_version=2.1.197.a4c; cc_entrypoint=sdk-cli;"},
   {"type":"text","text":"You are a Claude agent.","cache_control":{"type":"ephemeral"}}],
 "tools":[{"name":"Bash","description":"Executes a bash command.","input_schema":{"$schema":"https://json-schema.org/draft/2020-12/schema",
   "type":"object","additionalProperties":false,"required":["command"],"properties":{"command":{"type":"string"},"timeout":{"type":"number"}}}},
  {"name":"Read","description":"Reads a file.","input_schema":{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object",
   "properties":{"file_path":{"type":"string"},"limit":{"type":"integer","exclusiveMinimum":0},"pages":{"anyOf":[{"type":"string"},{"const":null}]}},
   "propertyNames":{"pattern":"^[a-z_]+$"},"required":["file_path"]}}],
 "messages":[
  {"role":"user","content":[{"type":"text","text":"<system-reminder>Today's date is 2026-11-23.</system-reminder>"},
    {"type":"text","text":"Run echo hi.","cache_control":{"type":"ephemeral"}}]},
  {"role":"system","content":"Available agent types for the Agent tool: claude, Explore."},
  {"role":"assistant","content":[{"type":"thinking","thinking":"I will run it.","signature":""},
    {"type":"tool_use","id":"toolu_1","name":"Bash","input":{"command":"echo hi"}}]},
  {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"hi","is_error":false,"cache_control":{"type":"ephemeral"}}]}]}`

// TestClaudeCodeRequestShape replays ccRequest without the CLI (so it runs
// everywhere): /v1/messages?beta=true answers it for an OpenAI model and a
// Claude model, and count_tokens counts it.
func TestClaudeCodeRequestShape(t *testing.T) {
	h := withNativeUpstreams(t, "sqlite")
	headers := []string{"Anthropic-Version", "2023-06-01", "Anthropic-Beta",
		"claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27,mid-conversation-system-2026-04-07,effort-2025-11-24"}
	for _, model := range []string{"gpt-4o-mini", "claude-sonnet-4-5"} {
		resp := h.post("/v1/messages?beta=true", strings.Replace(ccRequest, "MODEL", model, 1), headers...)
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || !strings.Contains(string(b), "event: message_stop") {
			t.Fatalf("%s: %d %s", model, resp.StatusCode, b)
		}
		last := h.fake.Last()
		msgs := ccJSON(last.Body["messages"])
		switch model {
		case "gpt-4o-mini":
			// No reasoning for a non-reasoning model, max_tokens within its
			// 16384, the system turn in place, the thinking block dropped.
			if last.Path != "/v1/chat/completions" || last.Body["reasoning"] != nil || last.Body["reasoning_effort"] != nil ||
				last.Body["max_completion_tokens"] != float64(16384) {
				t.Errorf("%s upstream got %s %v", model, last.Path, last.Body)
			}
			var roles []string
			for _, m := range last.Body["messages"].([]any) {
				roles = append(roles, m.(map[string]any)["role"].(string))
			}
			if strings.Join(roles, ",") != "system,user,system,assistant,tool" || strings.Contains(msgs, "I will run it") {
				t.Errorf("%s messages: %s", model, msgs)
			}
		case "claude-sonnet-4-5":
			// The system turn joins the system prompt; a tool loop's step runs
			// without thinking (the returned block has no signature to send).
			system := ccJSON(last.Body["system"])
			if last.Path != "/v1/messages" || last.Body["max_tokens"] != float64(32000) || last.Body["thinking"] != nil ||
				!strings.Contains(system, "Available agent types") || !strings.Contains(system, `"cache_control"`) ||
				strings.Contains(msgs, `"thinking"`) || !strings.Contains(msgs, `"tool_result"`) {
				t.Errorf("%s upstream got %s %v", model, last.Path, last.Body)
			}
		}
		if rows := h.logs(resp.Header.Get("X-Request-Id")); len(rows) != 1 || rows[0].SessionID != "958674ea-bd42-450b-bb81-cb8b14c64791" {
			t.Errorf("%s log: %+v", model, rows)
		}
	}
	body := strings.Replace(strings.Replace(ccRequest, "MODEL", "claude-sonnet-4-5", 1), `"max_tokens":32000,"stream":true,`, "", 1)
	resp := h.post("/v1/messages/count_tokens?beta=true", body, append(headers[:2:2], "Anthropic-Beta", "token-counting-2024-11-01")...)
	b, _ := io.ReadAll(resp.Body)
	var n struct {
		InputTokens int `json:"input_tokens"`
	}
	if resp.StatusCode != 200 || json.Unmarshal(b, &n) != nil || n.InputTokens < 50 {
		t.Fatalf("count_tokens: %d %s", resp.StatusCode, b)
	}
}
