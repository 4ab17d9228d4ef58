package odock

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// DefaultCode is the error code for a status when the caller has none, after
// the document's status table (400, 401, 402, 403, 429, 502, 503) and the
// nearest names for the others.
func DefaultCode(status int) string {
	switch status {
	case 400:
		return "invalid_request"
	case 401:
		return "invalid_api_key"
	case 402:
		return "budget_exceeded"
	case 403:
		return "access_denied"
	case 404:
		return "not_found"
	case 408:
		return "request_timeout"
	case 413:
		return "payload_too_large"
	case 429:
		return "rate_limit_exceeded"
	case 499:
		return "request_cancelled"
	case 502:
		return "upstream_error"
	case 503:
		return "dependency_unavailable"
	case 504:
		return "upstream_timeout"
	}
	if status >= 500 {
		return "internal_error"
	}
	return "invalid_request"
}

// gatewayCodes renames the gateway's generic codes (package apierr) whose
// Odock counterpart differs; specific codes (model_not_found, invalid_json,
// ...) pass through.
var gatewayCodes = map[string]string{
	"billing_error":     "budget_exceeded",
	"permission_denied": "access_denied",
}

// ErrorBody renders {"error":{"code","message","status"}}; the response is
// sent with the same HTTP status. An empty code takes DefaultCode(status),
// an empty message the status text.
func ErrorBody(status int, code, message string) []byte {
	b, err := json.Marshal(ErrorResponse{Error: errorDetail(status, code, message)})
	if err != nil { // unreachable: strings and an int
		return []byte(`{"error":{"code":"internal_error","message":"Internal error.","status":500}}`)
	}
	return b
}

func errorDetail(status int, code, message string) ErrorDetail {
	if status < 100 || status > 599 {
		status = 500
	}
	if c, ok := gatewayCodes[code]; ok {
		code = c
	}
	if code == "" {
		code = DefaultCode(status)
	}
	if message == "" {
		message = http.StatusText(status)
		if message == "" {
			message = "status " + strconv.Itoa(status)
		}
	}
	return ErrorDetail{Code: code, Message: message, Status: status}
}
