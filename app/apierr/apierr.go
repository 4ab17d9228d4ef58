// Package apierr is the one place that decides how an error looks on the wire:
// its status, OpenAI type and code. Every handler returns *Error values and the
// server's error handler writes them, so status codes and bodies cannot drift.
package apierr

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// Error is an API error with its HTTP status and OpenAI envelope fields.
type Error struct {
	Status  int
	Type    string
	Code    string // empty: null
	Param   string // empty: null
	Message string
	// Header values to set on the response (e.g. Retry-After).
	Header map[string]string
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

// New builds an error whose type and default code follow the seed's status table.
func New(status int, message string) *Error {
	t, code := typeAndCode(status)
	return &Error{Status: status, Type: t, Code: code, Message: message}
}

// WithCode overrides the code.
func (e *Error) WithCode(code string) *Error { e.Code = code; return e }

// WithParam names the offending request field.
func (e *Error) WithParam(p string) *Error { e.Param = p; return e }

// typeAndCode is the seed's status -> (type, code) table.
func typeAndCode(status int) (string, string) {
	switch status {
	case 400:
		return "invalid_request_error", ""
	case 401:
		return "invalid_request_error", "invalid_api_key"
	case 402:
		return "invalid_request_error", "billing_error"
	case 403:
		return "invalid_request_error", "permission_denied"
	case 404:
		return "invalid_request_error", "not_found"
	case 408:
		return "timeout_error", "timeout"
	case 413:
		return "invalid_request_error", "request_too_large"
	case 415:
		return "invalid_request_error", "unsupported_media_type"
	case 429:
		return "rate_limit_error", "rate_limit_exceeded"
	case 499:
		return "invalid_request_error", "request_cancelled"
	case 504:
		return "timeout_error", "timeout"
	}
	if status >= 500 {
		return "api_error", ""
	}
	return "invalid_request_error", ""
}

// Common constructors.

func BadRequest(msg, param string) *Error { return New(400, msg).WithParam(param) }
func InvalidJSON(msg string) *Error       { return New(400, msg).WithCode("invalid_json") }
func Unauthorized(msg string) *Error      { return New(401, msg) }
func Forbidden(msg string) *Error         { return New(403, msg) }
func ModelNotFound(model string) *Error {
	return New(404, fmt.Sprintf("Model '%s' not found. GET /v1/models lists the available models.", model)).
		WithCode("model_not_found").WithParam("model")
}
func NotFound(msg string) *Error { return New(404, msg) }
func TooLarge(limit int) *Error {
	return New(413, fmt.Sprintf("Request body too large: the limit is %d bytes.", limit))
}
func Internal(msg string) *Error    { return New(500, msg) }
func BadGateway(msg string) *Error  { return New(502, msg) }
func Timeout(msg string) *Error     { return New(504, msg) }
func Cancelled(msg string) *Error   { return New(499, msg) }
func Unavailable(msg string) *Error { return New(503, msg) }

// From converts any error into an *Error (unknown errors become a 500 that does
// not leak internals).
func From(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Internal("Internal server error.")
}

type envelope struct {
	Error body `json:"error"`
}

type body struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

// JSON renders the OpenAI error envelope.
func (e *Error) JSON() []byte {
	b := body{Message: e.Message, Type: e.Type}
	if e.Param != "" {
		b.Param = &e.Param
	}
	if e.Code != "" {
		b.Code = &e.Code
	}
	out, _ := json.Marshal(envelope{Error: b})
	return out
}

// SSE renders the error as a server-sent event, used once a stream has started.
func (e *Error) SSE() []byte {
	return append(append([]byte("event: error\ndata: "), e.JSON()...), '\n', '\n')
}

// StatusText is a fallback message for a status.
func StatusText(status int) string {
	if t := http.StatusText(status); t != "" {
		return t
	}
	return fmt.Sprintf("status %d", status)
}
