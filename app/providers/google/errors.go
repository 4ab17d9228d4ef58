package google

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/llmgw/gateway/app/providers/httpx"

	"github.com/llmgw/gateway/app/providers"
)

const (
	// maxErrorBody caps how much of an error response is read: the message is
	// all we want, and a misbehaving upstream must not make us buffer megabytes.
	maxErrorBody = 1 << 20
)

// errorFields is what a Google API error payload told us:
//
//	{"error":{"code":429,"message":"...","status":"RESOURCE_EXHAUSTED",
//	  "details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"34s"}]}}
type errorFields struct {
	Message    string
	Status     string // canonical code name, e.g. INVALID_ARGUMENT
	NumCode    int    // the HTTP status the payload claims
	Reason     string // google.rpc.ErrorInfo reason, e.g. API_KEY_INVALID
	RetryDelay time.Duration
}

type rawStatus struct {
	Code    json.RawMessage   `json:"code"`
	Message json.RawMessage   `json:"message"`
	Status  json.RawMessage   `json:"status"`
	Details []json.RawMessage `json:"details"`
}

type rawDetail struct {
	Type       string `json:"@type"`
	Reason     string `json:"reason"`
	RetryDelay string `json:"retryDelay"`
}

// parseErrorBody extracts the error from a Gemini error payload, in its object
// form or the one-element array form streamGenerateContent answers without
// alt=sse. ok is false when the body carries no recognisable error.
func parseErrorBody(body []byte) (f errorFields, ok bool) {
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] == '[' {
		var list []json.RawMessage
		if json.Unmarshal(body, &list) != nil || len(list) == 0 {
			return f, false
		}
		body = bytes.TrimSpace(list[0])
	}
	if len(body) == 0 || body[0] != '{' {
		return f, false
	}
	var top struct {
		Error   json.RawMessage `json:"error"`
		Message json.RawMessage `json:"message"`
	}
	if json.Unmarshal(body, &top) != nil {
		return f, false
	}
	switch {
	case !isNull(top.Error):
		if s, isStr := rawString(top.Error); isStr {
			return errorFields{Message: s}, true // {"error":"text"} from a proxy
		}
		var st rawStatus
		if json.Unmarshal(top.Error, &st) != nil {
			return errorFields{Message: compactText(top.Error)}, true
		}
		return fieldsOf(&st), true
	case !isNull(top.Message):
		// A bare google.rpc.Status, as some proxies relay it.
		var st rawStatus
		if json.Unmarshal(body, &st) != nil {
			return f, false
		}
		return fieldsOf(&st), true
	}
	return f, false
}

func fieldsOf(st *rawStatus) errorFields {
	var f errorFields
	if s, isStr := rawString(st.Message); isStr {
		f.Message = s
	} else if !isNull(st.Message) {
		f.Message = compactText(st.Message)
	}
	f.Status, _ = rawString(st.Status)
	var n json.Number
	if c := bytes.TrimSpace(st.Code); len(c) > 0 && json.Unmarshal(c, &n) == nil {
		if i, err := n.Int64(); err == nil && i > 0 && i < 1000 {
			f.NumCode = int(i)
		}
	}
	for _, raw := range st.Details {
		var d rawDetail
		if json.Unmarshal(raw, &d) != nil {
			continue
		}
		switch {
		case strings.HasSuffix(d.Type, "google.rpc.ErrorInfo") && f.Reason == "":
			f.Reason = d.Reason
		case strings.HasSuffix(d.Type, "google.rpc.RetryInfo"):
			if dur, err := time.ParseDuration(d.RetryDelay); err == nil && dur > 0 {
				f.RetryDelay = dur
			}
		}
	}
	return f
}

// statusError maps an HTTP error response (status >= 400) to a KindStatus
// error. Code carries Gemini's status name in lower case (invalid_argument,
// resource_exhausted, ...), which is what the client sees for a 4xx.
func statusError(provider string, status int, body []byte) *providers.Error {
	e := &providers.Error{Kind: providers.KindStatus, Provider: provider, Status: status}
	f, ok := parseErrorBody(body)
	if !ok {
		e.Message = truncateText(body)
		return e
	}
	applyFields(e, f)
	return e
}

// payloadError maps an error object that arrived inside a successful
// response (a stream event, or a 200 body). Its status is the payload's
// code, else the one its status name stands for, else 502: the upstream
// failed without saying how.
func payloadError(provider string, f errorFields) *providers.Error {
	status := http.StatusBadGateway
	if f.NumCode >= 400 && f.NumCode <= 599 {
		status = f.NumCode
	} else if s := httpStatusOf(f.Status); s != 0 {
		status = s
	}
	e := &providers.Error{Kind: providers.KindStatus, Provider: provider, Status: status}
	applyFields(e, f)
	return e
}

func applyFields(e *providers.Error, f errorFields) {
	e.Message = f.Message
	e.Code = strings.ToLower(f.Status)
	e.RetryAfter = f.RetryDelay
	if f.Reason == "API_KEY_INVALID" && e.Status == http.StatusBadRequest {
		// Gemini answers a bad key with 400 INVALID_ARGUMENT. It is the
		// gateway's credential that failed, not the client's request: report
		// it as the 401 every other adapter returns for a rejected key, so that
		// key rotation and the client both see an authentication failure.
		e.Status, e.Code = http.StatusUnauthorized, "invalid_api_key"
	}
}

// httpStatusOf maps a google.rpc.Code name to its HTTP status (the mapping
// of google/rpc/code.proto); 0 for an unknown name.
func httpStatusOf(status string) int {
	switch status {
	case "INVALID_ARGUMENT", "FAILED_PRECONDITION", "OUT_OF_RANGE":
		return 400
	case "UNAUTHENTICATED":
		return 401
	case "PERMISSION_DENIED":
		return 403
	case "NOT_FOUND":
		return 404
	case "ALREADY_EXISTS", "ABORTED":
		return 409
	case "RESOURCE_EXHAUSTED":
		return 429
	case "CANCELLED":
		return 499
	case "INTERNAL", "UNKNOWN", "DATA_LOSS":
		return 500
	case "UNIMPLEMENTED":
		return 501
	case "UNAVAILABLE":
		return 503
	case "DEADLINE_EXCEEDED":
		return 504
	}
	return 0
}

// parseRetryAfter reads a Retry-After header (see httpx.RetryAfter).
func parseRetryAfter(v string) (time.Duration, bool) { return httpx.RetryAfter(v) }

// badResponse is an answer that does not follow the protocol.
func badResponse(provider, msg string, cause error) *providers.Error {
	if cause == nil {
		cause = errors.New(msg)
	}
	return &providers.Error{Kind: providers.KindBadResponse, Provider: provider, Message: msg, Err: cause}
}

// unsupported is a request this upstream cannot honour; it becomes a 400
// unsupported_parameter naming param.
func unsupported(provider, param, msg string) *providers.Error {
	return &providers.Error{Kind: providers.KindUnsupported, Provider: provider, Param: param, Message: msg}
}

// invalidRequest is a request that cannot be expressed in Gemini's format
// because it is malformed (e.g. tool call arguments that are not JSON). No
// upstream would accept it, hence a non-retryable 400 naming the field.
func invalidRequest(provider, param, msg string) *providers.Error {
	return &providers.Error{Kind: providers.KindStatus, Provider: provider, Status: http.StatusBadRequest,
		Param: param, Message: msg}
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
