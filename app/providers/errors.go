package providers

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/llmgw/gateway/app/apierr"
)

// Kind classifies an upstream failure; it decides the client status and, later,
// whether another provider is tried.
type Kind int

const (
	// KindStatus: the upstream answered with an HTTP error status.
	KindStatus Kind = iota + 1
	// KindTimeout: no answer (or no complete answer) within the deadline.
	KindTimeout
	// KindConnection: could not connect, or the connection broke.
	KindConnection
	// KindBadResponse: the upstream answered something that is not its protocol.
	KindBadResponse
	// KindUnsupported: the request asks for something this provider cannot do.
	KindUnsupported
	// KindCancelled: the caller's context was cancelled (client went away).
	KindCancelled
)

// Error is a failed upstream call.
type Error struct {
	Kind     Kind
	Provider string
	Status   int    // upstream HTTP status for KindStatus
	Message  string // upstream's message when it gave one
	Type     string // upstream's error type, if any
	Code     string // upstream's error code, if any
	Param    string // upstream's param, if any
	// RetryAfter is the upstream's Retry-After (429/503), passed on to the client.
	RetryAfter time.Duration
	Err        error // underlying cause
}

func (e *Error) Error() string {
	if e.Kind == KindStatus {
		return fmt.Sprintf("%s: upstream status %d: %s", e.Provider, e.Status, e.Message)
	}
	if e.Err != nil {
		return fmt.Sprintf("%s: %s", e.Provider, e.Err.Error())
	}
	return fmt.Sprintf("%s: %s", e.Provider, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// ErrUnsupported is returned by adapters for an operation they do not offer.
var ErrUnsupported = errors.New("operation not supported by this provider")

// Retryable reports whether another provider (or key) may succeed where this
// attempt failed: 5xx, 429, timeouts, connection failures and garbage replies.
func (e *Error) Retryable() bool {
	switch e.Kind {
	case KindTimeout, KindConnection, KindBadResponse:
		return true
	case KindStatus:
		return e.Status == 429 || e.Status >= 500
	}
	return false
}

// API maps the failure to what the client sees: upstream 4xx passed through with
// its status and message; 5xx, refused connections and garbage become 502; a
// timeout 504.
func (e *Error) API() *apierr.Error {
	switch e.Kind {
	case KindStatus:
		if e.Status == 401 {
			// The gateway's provider key was refused: the client's request and
			// key are fine, so this is the gateway's failure, not a 401.
			return apierr.BadGateway(fmt.Sprintf("Upstream provider %s rejected the gateway's API key.", e.Provider))
		}
		if e.Status >= 400 && e.Status < 500 {
			msg := e.Message
			if msg == "" {
				msg = apierr.StatusText(e.Status)
			}
			ae := apierr.New(e.Status, msg)
			if e.Type != "" {
				ae.Type = e.Type
			}
			if e.Code != "" {
				ae.Code = e.Code
			}
			ae.Param = e.Param
			if e.RetryAfter > 0 {
				ae.Header = map[string]string{"Retry-After": strconv.Itoa(int((e.RetryAfter + time.Second - 1) / time.Second))}
			}
			return ae
		}
		return apierr.BadGateway(fmt.Sprintf("Upstream provider %s failed with status %d: %s", e.Provider, e.Status, orDefault(e.Message, apierr.StatusText(e.Status))))
	case KindTimeout:
		return apierr.Timeout(fmt.Sprintf("Upstream provider %s timed out.", e.Provider))
	case KindConnection:
		return apierr.BadGateway(fmt.Sprintf("Could not reach upstream provider %s.", e.Provider))
	case KindBadResponse:
		return apierr.BadGateway(fmt.Sprintf("Upstream provider %s returned an invalid response.", e.Provider))
	case KindUnsupported:
		return apierr.BadRequest(e.Message, e.Param).WithCode("unsupported_parameter")
	case KindCancelled:
		return apierr.Cancelled("Request cancelled by the client.")
	}
	return apierr.BadGateway(e.Error())
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// AsAPI converts any error from an adapter into the client-facing error.
func AsAPI(err error) *apierr.Error {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.API()
	}
	var ae *apierr.Error
	if errors.As(err, &ae) {
		return ae
	}
	if errors.Is(err, ErrUnsupported) {
		return apierr.BadRequest(err.Error(), "model").WithCode("unsupported_operation")
	}
	return apierr.BadGateway("Upstream call failed.")
}
