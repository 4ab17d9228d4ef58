package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/llmgw/gateway/app/providers/httpx"

	"github.com/llmgw/gateway/app/providers"
)

const (
	// maxErrorBody caps how much of an error response is read.
	maxErrorBody = 1 << 20
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

// The shared HTTP plumbing (app/providers/httpx), under the names this package uses.
var (
	transportError = httpx.TransportError
	readCapped     = httpx.ReadCapped
	drainClose     = httpx.DrainClose
	truncateText   = httpx.TruncateText
	compactText    = httpx.CompactText
	rawString      = httpx.RawString
	isNull         = httpx.IsNull
)
