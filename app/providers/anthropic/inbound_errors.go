package anthropic

import "encoding/json"

// ErrorType is the Anthropic error type for an HTTP status, following
// Anthropic's documented table: 400 invalid_request_error, 401
// authentication_error, 402 billing_error, 403 permission_error, 404
// not_found_error, 413 request_too_large, 429 rate_limit_error, 500 api_error,
// 504 timeout_error, 529 overloaded_error. The gateway's own statuses map to
// the nearest: 503 (no provider available) overloaded_error, 502 and other
// 5xx api_error, any other 4xx (408, 422, 499 ...) invalid_request_error, as
// Anthropic does for unlisted 4xx.
func ErrorType(status int) string {
	switch status {
	case 400:
		return "invalid_request_error"
	case 401:
		return "authentication_error"
	case 402:
		return "billing_error"
	case 403:
		return "permission_error"
	case 404:
		return "not_found_error"
	case 413:
		return "request_too_large"
	case 429:
		return "rate_limit_error"
	case 503, 529:
		return "overloaded_error"
	case 504:
		return "timeout_error"
	}
	if status >= 500 {
		return "api_error"
	}
	return "invalid_request_error"
}

// errorBody is Anthropic's error envelope.
type errorBody struct {
	Type  string      `json:"type"`
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// WriteError renders {"type":"error","error":{"type":...,"message":...}} for
// an HTTP status; the response keeps that status.
func WriteError(status int, message string) []byte {
	b, _ := json.Marshal(errorBody{Type: "error", Error: errorDetail{Type: ErrorType(status), Message: message}})
	return b
}
