package logging

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

const (
	gwKey     = "llmgtwy_abcdefghijklmnopqrstuvwxyz0123456789ABCD"
	masterKey = "llmgmk_ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210"
	openaiKey = "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz012345"
	antKey    = "sk-ant-api03-QwErTyUiOpAsDfGhJkL"
	googleKey = "AIzaSyA1234567890abcdefghijklmnopqrstu"
	bearerTok = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig-nature"
	prompt    = "my deepest secret prompt"
)

// secretParts must never appear in output (the tails of the secrets).
var secretParts = []string{
	"cdefghijklmnop", "XWVUTSRQPONM", "dEfGhIjKlMnOp", "QwErTyUiOp", "1234567890abcdef",
	"JhbGciOiJIUzI1NiJ9", "abc123secretpw", "deepest secret", "hunter2hunter2",
}

func logAll(l *slog.Logger) {
	h := http.Header{}
	h.Set("Authorization", "Bearer "+gwKey)
	h.Set("X-Request-Id", "req_1")
	h.Set("X-Goog-Api-Key", googleKey)

	l.Info("request", "key_id", "key_123", "prompt_tokens", 12, "Authorization", "Bearer "+bearerTok,
		"api_key", openaiKey, "X-API-Key", antKey, "password", "abc123secretpw")
	l.Info("upstream said: Incorrect API key provided: "+openaiKey, "error", errors.New("401 from openai: key "+openaiKey))
	l.Info("nested", slog.Group("req", slog.Group("headers", "authorization", "Bearer "+bearerTok, "accept", "json"),
		slog.String("note", "used "+gwKey+" and "+masterKey), slog.Group("messages", "role", "user", "text", prompt)))
	l.Info("headers", "headers", h, "map", map[string]string{"upstream_token": "hunter2hunter2", "model": "gpt-4o"})
	l.WithGroup("body").Info("grouped", "anything", prompt)
	l.With("secret", "hunter2hunter2").Warn("with attrs", "raw", []byte(`{"k":"`+googleKey+`"}`),
		"content", prompt, "struct", struct{ Key string }{antKey})
	l.Debug("debug line", "auth", "Bearer "+bearerTok)
}

func TestJSONFormat(t *testing.T) {
	var buf bytes.Buffer
	l, err := New(&buf, "debug", "json")
	if err != nil {
		t.Fatal(err)
	}
	logAll(l)
	out := buf.String()
	assertNoSecrets(t, out)

	var lines []map[string]any
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("invalid JSON line %q: %v", sc.Text(), err)
		}
		lines = append(lines, m)
	}
	if len(lines) != 7 {
		t.Fatalf("got %d lines, want 7:\n%s", len(lines), out)
	}
	first := lines[0]
	for k, want := range map[string]any{
		"key_id": "key_123", "prompt_tokens": float64(12), "Authorization": Redacted,
		"api_key": Redacted, "X-API-Key": Redacted, "password": Redacted, "level": "INFO", "msg": "request",
	} {
		if first[k] != want {
			t.Errorf("line 1 %s = %v, want %v", k, first[k], want)
		}
	}
	if got := lines[1]["msg"]; got != "upstream said: Incorrect API key provided: sk-pr…" {
		t.Errorf("msg = %q", got)
	}
	if got := lines[1]["error"]; got != "401 from openai: key sk-pr…" {
		t.Errorf("error = %q", got)
	}
	req := lines[2]["req"].(map[string]any)
	if got := req["headers"].(map[string]any); got["authorization"] != Redacted || got["accept"] != "json" {
		t.Errorf("headers = %v", got)
	}
	if got := req["note"]; got != "used llmgtwy_ab… and llmgmk_ZY…" {
		t.Errorf("note = %q", got)
	}
	if got := req["messages"].(map[string]any); got["role"] != Redacted || got["text"] != Redacted {
		t.Errorf("messages = %v", got)
	}
	hdr := lines[3]["headers"].(map[string]any)
	if hdr["Authorization"] != Redacted || hdr["X-Goog-Api-Key"] != Redacted || hdr["X-Request-Id"] != "req_1" {
		t.Errorf("http.Header = %v", hdr)
	}
	if m := lines[3]["map"].(map[string]any); m["upstream_token"] != Redacted || m["model"] != "gpt-4o" {
		t.Errorf("map = %v", m)
	}
	if got := lines[4]["body"].(map[string]any)["anything"]; got != Redacted {
		t.Errorf("group body = %v", got)
	}
	if lines[5]["secret"] != Redacted || lines[5]["content"] != Redacted || lines[5]["raw"] != `{"k":"AIzaSy…"}` {
		t.Errorf("line 6 = %v", lines[5])
	}
	if got := lines[6]["auth"]; got != "Bearer ey…" {
		t.Errorf("bearer = %q", got)
	}
}

func TestTextFormat(t *testing.T) {
	var buf bytes.Buffer
	l, err := New(&buf, "INFO", "text")
	if err != nil {
		t.Fatal(err)
	}
	logAll(l)
	out := buf.String()
	assertNoSecrets(t, out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 6 { // debug suppressed
		t.Fatalf("got %d lines, want 6:\n%s", len(lines), out)
	}
	for _, want := range []string{
		"level=INFO msg=request key_id=key_123 prompt_tokens=12 Authorization=[REDACTED]",
		"req.headers.authorization=[REDACTED] req.headers.accept=json",
		`req.note="used llmgtwy_ab… and llmgmk_ZY…"`,
		"headers.Authorization=[REDACTED]",
		"body.anything=[REDACTED]",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	for _, line := range lines {
		if !strings.HasPrefix(line, "time=") {
			t.Errorf("malformed line %q", line)
		}
	}
}

func assertNoSecrets(t *testing.T, out string) {
	t.Helper()
	for _, s := range secretParts {
		if strings.Contains(out, s) {
			t.Errorf("output leaks %q:\n%s", s, out)
		}
	}
}

func TestNewErrors(t *testing.T) {
	for _, c := range [][2]string{{"verbose", "text"}, {"info", "xml"}, {"trace", ""}} {
		if _, err := New(io.Discard, c[0], c[1]); err == nil {
			t.Errorf("New(%q, %q): no error", c[0], c[1])
		}
	}
	for _, c := range [][2]string{{"", ""}, {"Warning", "JSON"}, {"error", "text"}, {" debug ", "json"}} {
		if _, err := New(io.Discard, c[0], c[1]); err != nil {
			t.Errorf("New(%q, %q): %v", c[0], c[1], err)
		}
	}
	l, _ := New(io.Discard, "warn", "")
	if l.Enabled(t.Context(), slog.LevelInfo) || !l.Enabled(t.Context(), slog.LevelWarn) {
		t.Error("warn level not applied")
	}
}

func TestMaskSecrets(t *testing.T) {
	for in, want := range map[string]string{
		"":                                   "",
		"no secrets here, task-force ready":  "no secrets here, task-force ready",
		"key " + gwKey + ".":                 "key llmgtwy_ab….",
		"llmgtwy_test_abcdefghijklmnop":      "llmgtwy_te…",
		"llmgtwy_ prefix alone":              "llmgtwy_ prefix alone",
		"Authorization: bearer " + bearerTok: "Authorization: bearer ey…",
		"Bearer " + gwKey:                    "Bearer llmgtwy_ab…",
		"use a bearer token":                 "use a bearer token",
		"sk-short":                           "sk-short",
		"x=" + antKey + "&y=" + openaiKey:    "x=sk-ant-ap…&y=sk-pr…",
		"disk-" + openaiKey[3:]:              "disk-" + openaiKey[3:],
	} {
		if got := MaskSecrets(in); got != want {
			t.Errorf("MaskSecrets(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSensitiveKey(t *testing.T) {
	for k, want := range map[string]bool{
		"Authorization": true, "X-Api-Key": true, "x_api_key": true, "openai_api_key": true, "ACCESS-TOKEN": true,
		"messages": true, "Body": true, "key": true, "upstream_secret": true,
		"key_id": false, "prompt_tokens": false, "model": false, "tokens": false, "": false,
		strings.Repeat("a", 100): false,
	} {
		if got := sensitiveKey(k); got != want {
			t.Errorf("sensitiveKey(%q) = %v", k, got)
		}
	}
}

func BenchmarkLogRequestLine(b *testing.B) {
	l, _ := New(io.Discard, "info", "json")
	b.ReportAllocs()
	for b.Loop() {
		l.Info("request", "request_id", "req_123", "provider", "openai", "model", "gpt-4o", "status", 200, "prompt_tokens", 12)
	}
}
