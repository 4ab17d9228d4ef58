package server_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// odockModels serves the model of the Odock document's examples from the
// fake OpenAI upstream (priced like gpt-4o-mini).
const odockModels = `
  - id: my-chat-model
    name: My chat model
    ownedBy: openai
    capabilities: [streaming, tools, json_output]
    providers:
      - {provider: openai, model: my-chat-model, inputPrice: 0.15, outputPrice: 0.60}
`

// writeCatalogWith rewrites the harness's models file with more providers
// and models (the fake's URL replaces FAKE) and reloads it.
func writeCatalogWith(t *testing.T, h *harness, providers, models string) {
	t.Helper()
	content := strings.ReplaceAll(modelsFile, "ACME_URL", h.fake.URL)
	content = strings.Replace(content, "providers:\n", "providers:\n"+providers, 1) + models
	content = strings.ReplaceAll(content, "FAKE", h.fake.URL)
	if err := os.WriteFile(h.srv.Config.ModelsFile, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := h.srv.Reload(); err != nil {
		t.Fatal(err)
	}
}

// odockReply is a raw answer: status, request id, body.
type odockReply struct {
	status    int
	requestID string
	header    http.Header
	body      []byte
}

func (r odockReply) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("not JSON (%d): %s", r.status, r.body)
	}
	return m
}

// odockError checks Odock's error body and returns its code.
func (r odockReply) odockError(t *testing.T) string {
	t.Helper()
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Status  int    `json:"status"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" || e.Error.Status != r.status {
		t.Fatalf("not an Odock error body (%d): %s", r.status, r.body)
	}
	return e.Error.Code
}

func (h *harness) send(method, path, body string, headers ...string) odockReply {
	h.t.Helper()
	var resp *http.Response
	if method == "POST" {
		resp = h.post(path, body, headers...)
	} else {
		req, _ := http.NewRequest(method, h.base+path, nil)
		req.Header.Set("Authorization", "Bearer "+h.setup.APIKey)
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		var err error
		if resp, err = http.DefaultClient.Do(req); err != nil {
			h.t.Fatal(err)
		}
		defer resp.Body.Close()
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return odockReply{status: resp.StatusCode, requestID: resp.Header.Get("X-Request-Id"), header: resp.Header, body: b}
}

type sseEvent struct {
	name string
	data map[string]any
}

// odockEvents parses an Odock stream: every event has a name and a JSON
// object whose "type" repeats it.
func odockEvents(t *testing.T, body []byte) []sseEvent {
	t.Helper()
	var out []sseEvent
	var cur sseEvent
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			cur.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &cur.data); err != nil {
				t.Fatalf("event data not JSON: %s", line)
			}
		case line == "":
			if cur.name != "" {
				if cur.data["type"] != cur.name {
					t.Fatalf("event %q has type %v", cur.name, cur.data["type"])
				}
				out = append(out, cur)
			}
			cur = sseEvent{}
		}
	}
	return out
}

// The document's unified request, verbatim.
const odockDocRequest = `{
  "provider": "openai",
  "model": "my-chat-model",
  "messages": [
    { "role": "user", "content": "Write a short summary." }
  ],
  "temperature": 0.2,
  "max_tokens": 512,
  "stream": false
}`

// TestOdockDocumentExamples runs the document's examples against a real
// gateway: the curl example on /v1/chat/completions and the unified request
// on /v1/llm/chat, non-streaming and streaming, with and without provider.
func TestOdockDocumentExamples(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		h := startGateway(t, dialect, nil)
		writeModels(t, h, odockModels)

		// curl http://localhost:8080/v1/chat/completions -H "Authorization: Bearer $ODOCK_API_KEY" ...
		r := h.send("POST", "/v1/chat/completions", `{"model":"my-chat-model","messages":[{"role":"user","content":"Hello"}]}`)
		if r.status != 200 || !strings.Contains(string(r.body), `"Hello! You said: Hello"`) {
			t.Fatalf("curl example: %d %s", r.status, r.body)
		}

		// POST /v1/llm/chat, the document's request.
		r = h.send("POST", "/v1/llm/chat", odockDocRequest)
		if r.status != 200 {
			t.Fatalf("unified: %d %s", r.status, r.body)
		}
		m := r.json(t)
		if m["provider"] != "openai" || m["model"] != "my-chat-model" || m["content"] != "Hello! You said: Write a short summary." ||
			m["stop_reason"] != "end_turn" || m["input_tokens"].(float64) <= 0 || m["output_tokens"].(float64) <= 0 ||
			m["provider_request_id"] != "chatcmpl-fake" {
			t.Fatalf("unified response: %s", r.body)
		}
		for _, k := range []string{"content_blocks", "tool_calls", "provider_usage"} {
			if _, ok := m[k]; !ok {
				t.Fatalf("response lacks %s: %s", k, r.body)
			}
		}
		if pu := m["provider_usage"].(map[string]any); pu["cost"] == nil || pu["cost"].(float64) <= 0 {
			t.Fatalf("unpriced: %s", r.body)
		}
		if blocks := m["content_blocks"].([]any); len(blocks) != 1 || blocks[0].(map[string]any)["type"] != "text" {
			t.Fatalf("content_blocks: %s", r.body)
		}
		up := h.fake.Last()
		if up.Path != "/v1/chat/completions" || up.Body["model"] != "my-chat-model" || up.Body["temperature"] != 0.2 ||
			up.Body["max_completion_tokens"] != 512.0 || up.Body["stream"] == true {
			t.Fatalf("upstream body: %v", up.Body)
		}
		if r.header.Get("X-LLMGateway-Used-Provider") != "openai" {
			t.Fatalf("headers: %v", r.header)
		}
		rows := h.logs(r.requestID)
		if len(rows) != 1 || rows[0].Endpoint != "llm.chat" || rows[0].Status != 200 || rows[0].RequestedProvider != "openai" ||
			rows[0].UsedProvider != "openai" || rows[0].PromptTokens == 0 || rows[0].TotalCost == nil || *rows[0].TotalCost <= 0 {
			t.Fatalf("log rows: %+v", rows)
		}

		// Streaming: start, deltas, done with the full response.
		r = h.send("POST", "/v1/llm/chat", strings.Replace(odockDocRequest, `"stream": false`, `"stream": true`, 1))
		if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/event-stream") {
			t.Fatalf("stream: %d %v %s", r.status, r.header, r.body)
		}
		evs := odockEvents(t, r.body)
		if len(evs) < 3 || evs[0].name != "start" || evs[len(evs)-1].name != "done" {
			t.Fatalf("events: %s", r.body)
		}
		if evs[0].data["provider"] != "openai" || evs[0].data["model"] != "my-chat-model" {
			t.Fatalf("start: %v", evs[0].data)
		}
		var text string
		for _, e := range evs[1 : len(evs)-1] {
			if e.name != "delta" {
				t.Fatalf("event %q inside the stream", e.name)
			}
			s, _ := e.data["content"].(string)
			text += s
		}
		done := evs[len(evs)-1].data["response"].(map[string]any)
		if text != "Hello! You said: Write a short summary." || done["content"] != text || done["stop_reason"] != "end_turn" ||
			done["input_tokens"].(float64) <= 0 || done["output_tokens"].(float64) <= 0 {
			t.Fatalf("streamed %q, done %v", text, done)
		}
		if strings.Contains(string(r.body), "[DONE]") {
			t.Fatal("an Odock stream has no [DONE] sentinel")
		}
		if up := h.fake.Last(); up.Body["stream"] != true {
			t.Fatalf("upstream not streamed: %v", up.Body)
		}
		rows = h.logs(r.requestID)
		if len(rows) != 1 || rows[0].Endpoint != "llm.chat" || !rows[0].Streamed || rows[0].CompletionTokens == 0 {
			t.Fatalf("stream log rows: %+v", rows)
		}

		// provider omitted: the catalog and routing choose (the one offer).
		r = h.send("POST", "/v1/llm/chat", `{"model":"my-chat-model","messages":[{"role":"user","content":"no provider"}]}`)
		if m := r.json(t); r.status != 200 || m["provider"] != "openai" || m["model"] != "my-chat-model" {
			t.Fatalf("no provider: %d %s", r.status, r.body)
		}
		if rows := h.logs(r.requestID); len(rows) != 1 || rows[0].RequestedProvider != "" || rows[0].UsedProvider != "openai" {
			t.Fatalf("no provider rows: %+v", rows)
		}
		// A provider that serves the model under another name, and a pinned model id.
		r = h.send("POST", "/v1/llm/chat", `{"provider":"openrouter","model":"gpt-4o-mini","messages":[{"role":"user","content":"x"}]}`)
		if r.status != 400 || r.odockError(t) != "provider_not_configured" {
			t.Fatalf("unconfigured provider: %d %s", r.status, r.body)
		}
		r = h.send("POST", "/v1/llm/chat", `{"provider":"openai","model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"x"}]}`)
		if m := r.json(t); r.status != 200 || m["model"] != "gpt-4o-mini" || h.fake.Last().Body["model"] != "gpt-4o-mini" {
			t.Fatalf("prefixed model: %d %s", r.status, r.body)
		}
	})
}

func TestOdockToolCall(t *testing.T) {
	h := startGateway(t, "sqlite", nil)
	writeModels(t, h, odockModels)
	const tools = `"tools":[{"name":"get_weather","description":"Weather of a city","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}],"tool_choice":"auto"`
	ask := `{"model":"my-chat-model","messages":[{"role":"user","content":"#tool get_weather {\"city\":\"Paris\"}"}],` + tools + `}`

	r := h.send("POST", "/v1/llm/chat", ask)
	m := r.json(t)
	calls, _ := m["tool_calls"].([]any)
	if r.status != 200 || m["stop_reason"] != "tool_use" || len(calls) != 1 {
		t.Fatalf("tool call: %d %s", r.status, r.body)
	}
	call := calls[0].(map[string]any)
	if call["id"] != "call_fake1" || call["name"] != "get_weather" || call["arguments"] != `{"city":"Paris"}` || call["type"] != "function" {
		t.Fatalf("tool call: %v", call)
	}
	blocks := m["content_blocks"].([]any)
	if b := blocks[len(blocks)-1].(map[string]any); b["type"] != "tool_use" || b["input"].(map[string]any)["city"] != "Paris" {
		t.Fatalf("tool_use block: %v", blocks)
	}
	up := h.fake.Last().Body
	if ts := up["tools"].([]any); len(ts) != 1 || ts[0].(map[string]any)["function"].(map[string]any)["name"] != "get_weather" || up["tool_choice"] != "auto" {
		t.Fatalf("upstream tools: %v", up)
	}

	// Streamed: the call arrives as tool_calls deltas, and whole in done.
	r = h.send("POST", "/v1/llm/chat", strings.Replace(ask, `"tools"`, `"stream":true,"tools"`, 1))
	evs := odockEvents(t, r.body)
	var args, name string
	for _, e := range evs {
		for _, d := range asSlice(e.data["tool_calls"]) {
			dm := d.(map[string]any)
			args += dm["arguments"].(string)
			if n, _ := dm["name"].(string); n != "" {
				name = n
			}
		}
	}
	done := evs[len(evs)-1].data["response"].(map[string]any)
	if name != "get_weather" || args != `{"city":"Paris"}` || done["stop_reason"] != "tool_use" || len(done["tool_calls"].([]any)) != 1 {
		t.Fatalf("streamed tool call %q %q: %s", name, args, r.body)
	}

	// The answer replayed with the tool's result.
	replay := `{"model":"my-chat-model","messages":[
		{"role":"user","content":"weather?"},
		{"role":"assistant","content":[{"type":"tool_use","id":"call_fake1","name":"get_weather","input":{"city":"Paris"}}]},
		{"role":"user","content":[{"type":"tool_result","tool_use_id":"call_fake1","content":"sunny"}]}],` + tools + `}`
	r = h.send("POST", "/v1/llm/chat", replay)
	if r.status != 200 {
		t.Fatalf("replay: %d %s", r.status, r.body)
	}
	msgs := h.fake.Last().Body["messages"].([]any)
	last := msgs[len(msgs)-1].(map[string]any)
	asst := msgs[1].(map[string]any)
	if len(msgs) != 3 || last["role"] != "tool" || last["tool_call_id"] != "call_fake1" || last["content"] != "sunny" ||
		asst["tool_calls"].([]any)[0].(map[string]any)["id"] != "call_fake1" {
		t.Fatalf("upstream messages: %v", msgs)
	}
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

func TestOdockErrors(t *testing.T) {
	h := startGateway(t, "sqlite", nil)
	writeModels(t, h, odockModels)
	body := `{"model":"my-chat-model","messages":[{"role":"user","content":"hi"}]}`

	for _, c := range []struct {
		name    string
		headers []string
	}{{"no key", []string{"Authorization", ""}}, {"bad key", []string{"Authorization", "Bearer sk-nope"}}} {
		r := h.send("POST", "/v1/llm/chat", body, c.headers...)
		if r.status != 401 || r.odockError(t) != "invalid_api_key" {
			t.Fatalf("%s: %d %s", c.name, r.status, r.body)
		}
	}
	for _, c := range []struct {
		body   string
		status int
		code   string
		msg    string
	}{
		{`{"model":"my-chat-model"`, 400, "invalid_request", "not valid JSON"},
		{`{"model":"my-chat-model","messages":[{"role":"user","content":"hi"}],"max_tokens":0}`, 400, "invalid_request", "max_tokens"},
		{`{"model":"my-chat-model","messages":[{"role":"user","content":"hi"}],"stop":["x"]}`, 400, "invalid_request", "stop_sequences"},
		{`{"model":"my-chat-model","messages":[{"role":"user","content":"hi"}],"base_url":"http://evil"}`, 400, "invalid_request", "base_url"},
		{`{"model":"no-such-model","messages":[{"role":"user","content":"hi"}]}`, 404, "model_not_found", "no-such-model"},
		{`{"provider":"nope","model":"my-chat-model","messages":[{"role":"user","content":"hi"}]}`, 400, "unknown_provider", "nope"},
		{`{"provider":"anthropic","model":"my-chat-model","messages":[{"role":"user","content":"hi"}]}`, 400, "provider_mismatch", "anthropic"},
		{`{"model":"my-chat-model","messages":[{"role":"user","content":"#status 500"}]}`, 502, "upstream_error", ""},
	} {
		r := h.send("POST", "/v1/llm/chat", c.body)
		code := r.odockError(t)
		if r.status != c.status || (c.code != "" && code != c.code) || !strings.Contains(string(r.body), c.msg) {
			t.Errorf("%s: %d %s", c.body, r.status, r.body)
		}
		if rows := h.logs(r.requestID); len(rows) == 0 || rows[len(rows)-1].Status != c.status || rows[0].Endpoint != "llm.chat" {
			t.Errorf("%s: log rows %+v", c.body, rows)
		}
	}

	// 402: a key whose spend limit ($0.000001) is used up after one request.
	mk := h.setup.MasterKey
	_, k := h.call("POST", "/v1/master/keys", mk, `{"projectId":"`+h.setup.ProjectID+`","description":"odock"}`)
	key := k["apiKey"].(map[string]any)
	auth := "Bearer " + key["token"].(string)
	if r := h.send("POST", "/v1/llm/chat", body, "Authorization", auth); r.status != 200 {
		t.Fatalf("first request: %d %s", r.status, r.body)
	}
	if st, _ := h.call("PATCH", "/v1/master/keys/"+key["id"].(string), mk, `{"usageLimit":"0.000001"}`); st != 200 {
		t.Fatalf("PATCH: %d", st)
	}
	var r odockReply
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(20 * time.Millisecond) { // the key cache reloads
		if r = h.send("POST", "/v1/llm/chat", body, "Authorization", auth); r.status != 200 || time.Now().After(deadline) {
			break
		}
	}
	if r.status != 402 || r.odockError(t) != "budget_exceeded" {
		t.Fatalf("over the limit: %d %s", r.status, r.body)
	}
	// Streaming requests are refused before the stream starts: a plain error.
	r = h.send("POST", "/v1/llm/chat", strings.Replace(body, `"messages"`, `"stream":true,"messages"`, 1), "Authorization", auth)
	if r.status != 402 || r.odockError(t) != "budget_exceeded" {
		t.Fatalf("stream over the limit: %d %s", r.status, r.body)
	}

	// Last (the provider's key then cools down): an upstream 429 is a 429.
	r = h.send("POST", "/v1/llm/chat", `{"model":"my-chat-model","messages":[{"role":"user","content":"#status 429"}]}`)
	if r.status != 429 || r.odockError(t) == "" {
		t.Fatalf("upstream 429: %d %s", r.status, r.body)
	}
}

// TestOdockDependencyUnavailable: with REDIS_URL, spend limits live in Redis;
// when Redis goes away a limited key is answered 503 dependency_unavailable.
func TestOdockDependencyUnavailable(t *testing.T) {
	proxy := newTCPProxy(t, "127.0.0.1:6379")
	h := startGateway(t, "sqlite", map[string]string{"REDIS_URL": "redis://" + proxy.addr() + "/0"})
	writeModels(t, h, odockModels)
	mk := h.setup.MasterKey
	_, k := h.call("POST", "/v1/master/keys", mk, `{"projectId":"`+h.setup.ProjectID+`","description":"limited","usageLimit":"10"}`)
	auth := "Bearer " + k["apiKey"].(map[string]any)["token"].(string)
	body := `{"model":"my-chat-model","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}`
	if r := h.send("POST", "/v1/llm/chat", body, "Authorization", auth); r.status != 200 {
		t.Fatalf("with Redis: %d %s", r.status, r.body)
	}
	proxy.close()
	r := h.send("POST", "/v1/llm/chat", body, "Authorization", auth)
	if r.status != 503 || r.odockError(t) != "dependency_unavailable" {
		t.Fatalf("without Redis: %d %s", r.status, r.body)
	}
}

// tcpProxy forwards connections to a server until closed (then it refuses
// them and cuts the open ones), to take a dependency away mid-test.
type tcpProxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	if c, err := net.DialTimeout("tcp", target, time.Second); err != nil {
		t.Fatalf("%s is needed for this test: %v", target, err)
	} else {
		c.Close()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln}
	t.Cleanup(p.close)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(u, c); u.Close() }()
			go func() { _, _ = io.Copy(c, u); c.Close() }()
		}
	}()
	return p
}

func (p *tcpProxy) addr() string { return p.ln.Addr().String() }

func (p *tcpProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}
