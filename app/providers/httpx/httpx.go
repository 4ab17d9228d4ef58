// Package httpx holds the HTTP plumbing every upstream adapter shares: how a
// transport failure is classified, how bodies are read and drained, how an
// arbitrary error body becomes a short message. One place, so adapters agree.
package httpx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/llmgw/gateway/app/providers"
)

const (
	// MaxMessageBytes bounds an error message taken from an upstream body.
	MaxMessageBytes = 500
	// MaxDrain bounds what is read off a body we no longer need, to reuse its
	// connection; beyond it, closing is cheaper.
	MaxDrain = 256 << 10
)

// TransportError classifies a failure to send the request or read the answer.
// The caller's context is consulted first: once it is done, whatever error the
// transport produced (often a bare "use of closed connection") is a consequence.
func TransportError(ctx context.Context, provider string, err error) *providers.Error {
	e := &providers.Error{Kind: providers.KindConnection, Provider: provider, Err: err, Message: "connection failed"}
	var ne net.Error
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		e.Kind, e.Message = providers.KindCancelled, "request cancelled"
	case errors.Is(ctx.Err(), context.DeadlineExceeded),
		errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		// Covers http.Client.Timeout and http.Transport.ResponseHeaderTimeout,
		// which surface as net.Errors whose Timeout() is true.
		e.Kind, e.Message = providers.KindTimeout, "timed out"
	case errors.Is(err, context.Canceled):
		e.Kind, e.Message = providers.KindCancelled, "request cancelled"
	}
	return e
}

// ReadCapped reads at most limit bytes; truncated reports that there was more.
func ReadCapped(r io.Reader, limit int64) (b []byte, truncated bool, err error) {
	b, err = io.ReadAll(io.LimitReader(r, limit+1))
	if int64(len(b)) > limit {
		return b[:limit], true, err
	}
	return b, false, err
}

// DrainClose discards a bounded remainder of body and closes it, so that the
// keep-alive connection is reused when the rest was small.
func DrainClose(body io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, body, MaxDrain)
	_ = body.Close()
}

// TruncateText turns an arbitrary body into a short, valid UTF-8 message.
func TruncateText(b []byte) string {
	if len(b) > MaxMessageBytes {
		b = b[:MaxMessageBytes]
		// Do not cut a multi-byte character in half.
		for i := 0; i < utf8.UTFMax && len(b) > 0 && !utf8.Valid(b); i++ {
			b = b[:len(b)-1]
		}
	}
	return strings.ToValidUTF8(strings.TrimSpace(string(b)), "\uFFFD")
}

// CompactText is TruncateText of compacted JSON (or of the raw bytes if not JSON).
func CompactText(raw json.RawMessage) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return TruncateText(raw)
	}
	return TruncateText(b.Bytes())
}

// RawString decodes raw as a JSON string; isStr is false for any other value.
func RawString(raw json.RawMessage) (s string, isStr bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// IsNull reports an absent or null JSON value.
func IsNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

// RetryAfter reads a Retry-After header: delay-seconds or an HTTP date (ok
// false when absent, past or malformed).
func RetryAfter(v string) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0, false
		}
		if n > 86400*365 {
			n = 86400 * 365 // absurd values must not overflow a Duration
		}
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d, true
		}
	}
	return 0, false
}

// drainWait bounds how long StreamBody.Close waits for the end of a finished
// stream's body, so that an HTTP/1.1 connection can be reused without a
// server that keeps the response open stalling the caller.
const drainWait = 100 * time.Millisecond

// StreamBody is an upstream event-stream body with the close rules every
// adapter needs: once the stream reached its clean end (Finish), Close reads
// the rest (bounded in size and time) so the connection is reused; before
// that, Close abandons the body. After Close, Closed reports true, so Recv
// yields no more events that still sit in a read buffer.
type StreamBody struct {
	io.ReadCloser
	finished atomic.Bool
	closed   atomic.Bool
	once     sync.Once
}

// NewStreamBody wraps an upstream response body.
func NewStreamBody(body io.ReadCloser) *StreamBody { return &StreamBody{ReadCloser: body} }

// Finish records that the stream reached its clean end.
func (b *StreamBody) Finish() { b.finished.Store(true) }

// Closed reports whether Close was called.
func (b *StreamBody) Closed() bool { return b.closed.Load() }

// Close implements io.Closer; it is safe to call more than once and from
// another goroutine than the reader's.
func (b *StreamBody) Close() error {
	var err error
	b.closed.Store(true)
	b.once.Do(func() {
		if b.finished.Load() {
			t := time.AfterFunc(drainWait, func() { _ = b.ReadCloser.Close() })
			_, _ = io.CopyN(io.Discard, b.ReadCloser, MaxDrain)
			t.Stop()
		}
		err = b.ReadCloser.Close()
	})
	return err
}
