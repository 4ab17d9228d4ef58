// Package logging builds the gateway's slog logger, with secret masking.
//
// Two rules, applied by ReplaceAttr to every attribute (the message included)
// at every group depth:
//
//  1. Key rule: an attribute whose key, or any enclosing group's name, is
//     sensitive has its whole value replaced by "[REDACTED]". Keys compare
//     case-insensitively with '-' and '_' equivalent. Sensitive keys:
//     credentials authorization, proxy_authorization, api_key, apikey,
//     x_api_key, x_goog_api_key, key, token, access_token, refresh_token,
//     id_token, secret, client_secret, password, passwd, cookie, set_cookie;
//     request/response content prompt, messages, content, contents, input,
//     instructions, system, body; and any key ending in _api_key, _token,
//     _secret or _password. ("prompt_tokens", "key_id" are not sensitive.)
//  2. Value rule: inside any string value, tokens that look like secrets are
//     cut to a short prefix followed by "…": gateway keys (llmgtwy_ab…),
//     master keys (llmgmk_ab…), OpenAI/Anthropic keys (sk-ab…, sk-ant-ab…),
//     Google API keys (AIzaab…) and Bearer tokens (Bearer ab…). Errors,
//     fmt.Stringers, []byte and other non-scalar values are rendered and
//     checked the same way; string-keyed maps (http.Header, map[string]string,
//     map[string]any) become groups so that both rules reach their entries.
package logging

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
)

// Redacted replaces the value of sensitive attributes.
const Redacted = "[REDACTED]"

// New returns a logger writing to w. level is debug|info|warn|error ("" =
// info, "warning" = warn); format is text|json ("" = text); both are
// case-insensitive. Secrets are masked (see the package documentation).
func New(w io.Writer, level, format string) (*slog.Logger, error) {
	var lvl slog.Level
	switch strings.ToLower(strings.TrimSpace(level)) {
	case "debug":
		lvl = slog.LevelDebug
	case "", "info":
		lvl = slog.LevelInfo
	case "warn", "warning":
		lvl = slog.LevelWarn
	case "error":
		lvl = slog.LevelError
	default:
		return nil, fmt.Errorf("logging: unknown level %q (want debug, info, warn or error)", level)
	}
	opts := &slog.HandlerOptions{Level: lvl, ReplaceAttr: ReplaceAttr}
	switch strings.ToLower(strings.TrimSpace(format)) {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("logging: unknown format %q (want text or json)", format)
}

// ReplaceAttr is the slog.HandlerOptions.ReplaceAttr that masks secrets; use
// it when building other handlers.
func ReplaceAttr(groups []string, a slog.Attr) slog.Attr {
	if sensitiveKey(a.Key) {
		return slog.String(a.Key, Redacted)
	}
	for _, g := range groups {
		if sensitiveKey(g) {
			return slog.String(a.Key, Redacted)
		}
	}
	switch a.Value.Kind() {
	case slog.KindString:
		if s, ok := mask(a.Value.String()); ok {
			a.Value = slog.StringValue(s)
		}
	case slog.KindAny:
		if len(groups) == 0 && a.Key == slog.LevelKey {
			return a // the built-in level
		}
		a.Value = maskAny(a.Value.Any(), a.Value)
	}
	return a
}

// maskAny handles non-scalar values; orig is returned when nothing is masked.
func maskAny(v any, orig slog.Value) slog.Value {
	var s string
	switch x := v.(type) {
	case http.Header:
		return mapGroup(x)
	case map[string][]string:
		return mapGroup(x)
	case map[string]string:
		return mapGroup(x)
	case map[string]any:
		return mapGroup(x)
	case json.RawMessage:
		s = string(x)
	case []byte:
		s = string(x)
	case error:
		s = x.Error()
	case fmt.Stringer:
		s = x.String()
	case nil:
		return orig
	default:
		s = fmt.Sprintf("%+v", x)
	}
	if m, ok := mask(s); ok {
		return slog.StringValue(m)
	}
	return orig
}

// mapGroup turns a string-keyed map into a group (sorted keys), whose entries
// then pass through ReplaceAttr themselves.
func mapGroup[V any](m map[string]V) slog.Value {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	as := make([]slog.Attr, len(ks))
	for i, k := range ks {
		var v any = m[k]
		if ss, ok := v.([]string); ok && len(ss) == 1 {
			v = ss[0] // http.Header values are nearly always single
		}
		as[i] = slog.Any(k, v)
	}
	return slog.GroupValue(as...)
}

var sensitiveKeys = map[string]bool{
	// credentials
	"authorization": true, "proxy_authorization": true, "api_key": true, "apikey": true,
	"x_api_key": true, "x_goog_api_key": true, "key": true, "token": true, "access_token": true,
	"refresh_token": true, "id_token": true, "secret": true, "client_secret": true,
	"password": true, "passwd": true, "cookie": true, "set_cookie": true,
	// request and response content
	"prompt": true, "messages": true, "content": true, "contents": true, "input": true,
	"instructions": true, "system": true, "body": true,
}

var sensitiveSuffixes = []string{"_api_key", "_token", "_secret", "_password"}

func sensitiveKey(k string) bool {
	if k == "" || len(k) > 64 {
		return false
	}
	var buf [64]byte
	n := copy(buf[:], k)
	b := buf[:n]
	for i, c := range b {
		switch {
		case c >= 'A' && c <= 'Z':
			b[i] = c + ('a' - 'A')
		case c == '-':
			b[i] = '_'
		}
	}
	if sensitiveKeys[string(b)] { // no allocation for map lookups
		return true
	}
	for _, suf := range sensitiveSuffixes {
		if len(b) > len(suf) && string(b[len(b)-len(suf):]) == suf {
			return true
		}
	}
	return false
}

// MaskSecrets returns s with secret-looking tokens cut to a short prefix.
func MaskSecrets(s string) string {
	m, _ := mask(s)
	return m
}

// keyPrefixes are the recognised key formats, most specific first, with the
// minimum token length (after the prefix) that counts as a key.
var keyPrefixes = []struct {
	prefix string
	min    int
}{
	{"llmgtwy_", 8},
	{"llmgmk_", 8},
	{"sk-ant-", 8},
	{"sk-", 16},
	{"AIza", 30},
}

// keep is how many characters of a secret stay visible after its prefix.
const keep = 2

// mask reports whether s contains a secret and returns it masked.
func mask(s string) (string, bool) {
	if !maybeSecret(s) {
		return s, false
	}
	var out strings.Builder
	last, changed := 0, false
	for i := 0; i < len(s); i++ {
		if i > 0 && isAlnum(s[i-1]) {
			continue // secrets start at a word boundary ("task-…" is not "sk-…")
		}
		start, end, ok := matchSecret(s, i)
		if !ok {
			continue
		}
		out.WriteString(s[last:start])
		out.WriteString("…")
		last, changed = end, true
		i = end - 1
	}
	if !changed {
		return s, false
	}
	out.WriteString(s[last:])
	return out.String(), true
}

// maybeSecret is a cheap pre-check for mask.
func maybeSecret(s string) bool {
	return strings.Contains(s, "llmg") || strings.Contains(s, "sk-") || strings.Contains(s, "AIza") ||
		strings.Contains(s, "earer ") || strings.Contains(s, "EARER ")
}

// matchSecret matches a secret starting at s[i]: s[i:start] stays visible and
// s[start:end] is replaced.
func matchSecret(s string, i int) (start, end int, ok bool) {
	rest := s[i:]
	if len(rest) > 7 && strings.EqualFold(rest[:7], "bearer ") {
		j := i + 7
		for j < len(s) && s[j] == ' ' {
			j++
		}
		if st, en, ok := matchKey(s, j); ok {
			return st, en, true // "Bearer llmgtwy_ab…"
		}
		en := j
		for en < len(s) && isTokenChar(s[en]) {
			en++
		}
		if en-j < 8 {
			return 0, 0, false // "bearer token" in prose
		}
		return j + keep, en, true
	}
	return matchKey(s, i)
}

func matchKey(s string, i int) (start, end int, ok bool) {
	for _, p := range keyPrefixes {
		if !strings.HasPrefix(s[i:], p.prefix) {
			continue
		}
		j := i + len(p.prefix)
		en := j
		for en < len(s) && isKeyChar(s[en]) {
			en++
		}
		if en-j < p.min {
			return 0, 0, false
		}
		return j + keep, en, true
	}
	return 0, 0, false
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isKeyChar(c byte) bool { return isAlnum(c) || c == '_' || c == '-' }

// isTokenChar: RFC 6750 b64token characters.
func isTokenChar(c byte) bool {
	return isKeyChar(c) || c == '.' || c == '~' || c == '+' || c == '/' || c == '='
}
