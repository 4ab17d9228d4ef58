package openai

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/llmgw/gateway/app/providers/httpx"

	"github.com/llmgw/gateway/app/providers"
)

const (
	// maxErrorBody caps how much of an error response is read: the message is
	// all we want, and a misbehaving upstream must not make us buffer megabytes.
	maxErrorBody = 1 << 20
)

// errorFields is what an upstream error payload told us.
type errorFields struct {
	Message string
	Type    string
	Code    string // string codes only; a numeric code lands in NumCode
	NumCode int
	Param   string
}

// rawErrorObject accepts both the OpenAI envelope's inner object and the
// top-level shapes of OpenAI-compatible servers (vLLM's {"object":"error",
// "message":...,"code":400}, FastAPI's {"detail":"..."}). Every field is raw
// because compatible servers disagree on types: code is a string, a number or
// null; param and type may be null.
type rawErrorObject struct {
	Error   json.RawMessage `json:"error"`
	Message json.RawMessage `json:"message"`
	Type    json.RawMessage `json:"type"`
	Param   json.RawMessage `json:"param"`
	Code    json.RawMessage `json:"code"`
	Detail  json.RawMessage `json:"detail"`
}

// parseErrorBody extracts the error from a JSON error payload. ok is false when
// the body is not JSON or carries no recognisable error.
func parseErrorBody(body []byte) (f errorFields, ok bool) {
	body = bytes.TrimSpace(body)
	// Gemini's OpenAI-compatible endpoint wraps its error in a one-element array.
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
	var top rawErrorObject
	if json.Unmarshal(body, &top) != nil {
		return f, false
	}
	if !isNull(top.Error) {
		if s, isStr := rawString(top.Error); isStr {
			return errorFields{Message: s}, true // {"error":"text"}
		}
		var inner rawErrorObject
		if json.Unmarshal(top.Error, &inner) != nil {
			return errorFields{Message: compactText(top.Error)}, true
		}
		return fieldsOf(&inner), true
	}
	if !isNull(top.Message) {
		return fieldsOf(&top), true
	}
	if s, isStr := rawString(top.Detail); isStr && s != "" {
		return errorFields{Message: s}, true
	}
	return f, false
}

func fieldsOf(o *rawErrorObject) errorFields {
	f := errorFields{}
	if s, isStr := rawString(o.Message); isStr {
		f.Message = s
	} else if !isNull(o.Message) {
		f.Message = compactText(o.Message)
	}
	f.Type, _ = rawString(o.Type)
	f.Param, _ = rawString(o.Param)
	code := bytes.TrimSpace(o.Code)
	if s, isStr := rawString(code); isStr {
		f.Code = s
		// Some servers put the HTTP status in code as a string ("429").
		if n, err := strconv.Atoi(s); err == nil && n >= 400 && n <= 599 {
			f.NumCode, f.Code = n, ""
		}
	} else if len(code) > 0 && (code[0] == '-' || code[0] >= '0' && code[0] <= '9') {
		// A numeric code is an HTTP status, not an OpenAI error code: it is
		// kept out of Code so the client gets the usual code for that status.
		var n json.Number
		if json.Unmarshal(code, &n) == nil {
			if i, err := n.Int64(); err == nil {
				f.NumCode = int(i)
			}
		}
	}
	return f
}

// statusError maps an HTTP error response (status >= 400) to a KindStatus error.
func statusError(provider string, status int, body []byte) *providers.Error {
	e := &providers.Error{Kind: providers.KindStatus, Provider: provider, Status: status}
	if f, ok := parseErrorBody(body); ok {
		e.Message, e.Type, e.Code, e.Param = f.Message, f.Type, f.Code, f.Param
	} else {
		e.Message = truncateText(body)
	}
	return e
}

// payloadError maps an error object that arrived inside a successful response
// (a stream event, or a 200 body): its status is the payload's numeric code
// when that is an HTTP error status, else 502 since the upstream failed without
// saying how.
func payloadError(provider string, f errorFields) *providers.Error {
	status := http.StatusBadGateway
	if f.NumCode >= 400 && f.NumCode <= 599 {
		status = f.NumCode
	}
	return &providers.Error{
		Kind: providers.KindStatus, Provider: provider, Status: status,
		Message: f.Message, Type: f.Type, Code: f.Code, Param: f.Param,
	}
}

// badResponse is an answer that does not follow the protocol.
func badResponse(provider, msg string, cause error) *providers.Error {
	if cause == nil {
		cause = errors.New(msg)
	}
	return &providers.Error{Kind: providers.KindBadResponse, Provider: provider, Message: msg, Err: cause}
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
