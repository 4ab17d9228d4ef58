package anthropic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/llmgw/gateway/app/providers"
)

// The transport and classification helpers below follow the openai adapter
// (app/providers/openai/errors.go) on purpose, so both adapters classify
// failures the same way. They are duplicated rather than shared because that
// package is not ours to change; keep the two in step.

const (
	// maxErrorBody caps how much of an error response is read.
	maxErrorBody = 1 << 20
	// maxMessageBytes is how much of a non-JSON error body becomes the message.
	maxMessageBytes = 500
	// maxDrain is how much of an unread body is discarded so that the
	// connection can go back to the pool; beyond it, closing is cheaper.
	maxDrain = 256 << 10
)

// errorFields is what an upstream error payload told us.
type errorFields struct {
	Type    string
	Message string
}

// errorObject is Anthropic's {"type":"error","error":{"type","message"}}. The
// inner object's fields are raw: proxies in front of Anthropic (and
// Anthropic-compatible servers) do not always send strings.
type errorObject struct {
	Type    json.RawMessage `json:"type"`
	Message json.RawMessage `json:"message"`
	Error   json.RawMessage `json:"error"`
}

// parseErrorBody extracts the error of a JSON error payload. ok is false when
// the body is not JSON or carries no recognisable error.
func parseErrorBody(body []byte) (f errorFields, ok bool) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return f, false
	}
	var top errorObject
	if json.Unmarshal(body, &top) != nil {
		return f, false
	}
	if !isNull(top.Error) {
		if s, isStr := rawString(top.Error); isStr {
			return errorFields{Message: s}, true // {"error":"text"}
		}
		var inner errorObject
		if json.Unmarshal(top.Error, &inner) != nil {
			return errorFields{Message: compactText(top.Error)}, true
		}
		return fieldsOf(&inner), true
	}
	if !isNull(top.Message) {
		return fieldsOf(&top), true
	}
	return f, false
}

func fieldsOf(o *errorObject) errorFields {
	var f errorFields
	if s, isStr := rawString(o.Message); isStr {
		f.Message = s
	} else if !isNull(o.Message) {
		f.Message = compactText(o.Message)
	}
	f.Type, _ = rawString(o.Type)
	return f
}

// rawString decodes a JSON string; isStr is false for anything else.
func rawString(raw json.RawMessage) (s string, isStr bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

func isNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

func compactText(raw json.RawMessage) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return truncateText(raw)
	}
	return truncateText(b.Bytes())
}

// truncateText turns an arbitrary body into a short, valid UTF-8 message.
func truncateText(b []byte) string {
	if len(b) > maxMessageBytes {
		b = b[:maxMessageBytes]
		for i := 0; i < utf8.UTFMax && len(b) > 0 && !utf8.Valid(b); i++ {
			b = b[:len(b)-1]
		}
	}
	return strings.ToValidUTF8(strings.TrimSpace(string(b)), "\uFFFD")
}

// statusError maps an HTTP error response (status >= 400). The status is kept
// as is, 529 included: providers.Error treats every 5xx as retryable and shows
// the client a 502, which is what an overloaded upstream deserves.
func statusError(provider string, status int, h http.Header, body []byte) *providers.Error {
	e := &providers.Error{Kind: providers.KindStatus, Provider: provider, Status: status}
	if f, ok := parseErrorBody(body); ok {
		e.Message, e.Type = f.Message, f.Type
	} else {
		e.Message = truncateText(body)
	}
	e.RetryAfter = retryAfter(h, time.Now())
	return e
}

// retryAfter reads Retry-After as seconds or an HTTP date; 0 when absent or
// unusable. Anthropic sends it on 429 and 529.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		if n <= 0 || n > 24*3600 {
			return 0
		}
		return time.Duration(n * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// streamErrorStatus gives an error event that arrived inside a 200 stream the
// HTTP status Anthropic uses for that error type, so that retry and fallback
// decisions match those of the same error sent as a status. overloaded_error
// (Anthropic's 529) becomes 503: the stream's status line is gone, and 503 is
// the standard code that says "try again elsewhere". An unknown type is 502:
// the upstream failed without saying how.
func streamErrorStatus(typ string) int {
	switch typ {
	case "invalid_request_error":
		return 400
	case "authentication_error":
		return 401
	case "billing_error":
		return 402
	case "permission_error":
		return 403
	case "not_found_error":
		return 404
	case "request_too_large":
		return 413
	case "rate_limit_error":
		return 429
	case "api_error":
		return 500
	case "overloaded_error":
		return 503
	case "timeout_error":
		return 504
	}
	return http.StatusBadGateway
}

// payloadError maps an error object found in a stream or a 200 body.
func payloadError(provider string, data []byte) *providers.Error {
	f, ok := parseErrorBody(data)
	if !ok {
		f = errorFields{Message: truncateText(data)}
	}
	return &providers.Error{Kind: providers.KindStatus, Provider: provider,
		Status: streamErrorStatus(f.Type), Message: f.Message, Type: f.Type}
}

// badResponse is an answer that does not follow the protocol.
func badResponse(provider, msg string, cause error) *providers.Error {
	if cause == nil {
		cause = errors.New(msg)
	}
	return &providers.Error{Kind: providers.KindBadResponse, Provider: provider, Message: msg, Err: cause}
}

// unsupported is a request this adapter cannot honour; param names the field
// in the OpenAI request, as the client sent it.
func unsupported(provider, param, format string, args ...any) *providers.Error {
	msg := fmt.Sprintf(format, args...)
	return &providers.Error{Kind: providers.KindUnsupported, Provider: provider, Param: param,
		Message: msg, Err: errors.New(msg)}
}

// transportError classifies a failure to send the request or read the answer.
// The caller's context is consulted first: once it is done, whatever error the
// transport produced is a consequence.
func transportError(ctx context.Context, provider string, err error) *providers.Error {
	e := &providers.Error{Kind: providers.KindConnection, Provider: provider, Err: err, Message: "connection failed"}
	var ne net.Error
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		e.Kind, e.Message = providers.KindCancelled, "request cancelled"
	case errors.Is(ctx.Err(), context.DeadlineExceeded),
		errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		e.Kind, e.Message = providers.KindTimeout, "timed out"
	case errors.Is(err, context.Canceled):
		e.Kind, e.Message = providers.KindCancelled, "request cancelled"
	}
	return e
}

// readCapped reads at most limit bytes; truncated reports that there was more.
func readCapped(r io.Reader, limit int64) (b []byte, truncated bool, err error) {
	b, err = io.ReadAll(io.LimitReader(r, limit+1))
	if int64(len(b)) > limit {
		return b[:limit], true, err
	}
	return b, false, err
}

// drainClose discards a bounded remainder of body and closes it, so that the
// keep-alive connection is reused when the rest was small.
func drainClose(body io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, body, maxDrain)
	_ = body.Close()
}
