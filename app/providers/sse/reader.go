// Package sse reads a text/event-stream body (the Server-Sent Events format of
// the HTML standard) event by event. It is deliberately small: upstream LLM APIs
// only need data, event and id fields, but they do use the whole line syntax
// (CRLF, comments as keep-alives, multi-line data, very long lines).
package sse

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// DefaultMaxEventBytes bounds one event's data. Lines have no length limit of
// their own (a single chunk of a base64 image or a long tool argument can be
// hundreds of KiB), but an upstream that never sends a newline must not be able
// to exhaust memory.
const DefaultMaxEventBytes = 32 << 20

// ErrTooLarge is returned when a line or an event's data exceeds the limit.
var ErrTooLarge = errors.New("sse: event exceeds size limit")

// Event is one dispatched event.
type Event struct {
	// Name is the value of the event's "event:" field, "" when it had none
	// (the standard's default type "message").
	Name string
	// Data is the event's data lines joined with "\n". It aliases the reader's
	// buffer and is valid only until the next call to Next.
	Data []byte
	// ID is the last event ID seen so far (it persists across events, as the
	// standard says).
	ID string
}

// Reader splits a stream into events. It is not safe for concurrent use.
type Reader struct {
	br      *bufio.Reader
	max     int
	line    []byte // accumulates a line longer than the bufio buffer
	data    []byte
	hasData bool // a data field was seen: "data:" alone makes an empty, yet dispatched, event
	name    string
	id      string
	started bool

	// The unprocessed tail of the current line (see the lone-CR rule in Next).
	// It aliases the bufio buffer, which is not refilled before it is consumed.
	rest           []byte
	restTerminated bool
	eof            bool
	pending        bool
}

// NewReader reads events from r. maxEventBytes <= 0 means DefaultMaxEventBytes.
func NewReader(r io.Reader, maxEventBytes int) *Reader {
	if maxEventBytes <= 0 {
		maxEventBytes = DefaultMaxEventBytes
	}
	return &Reader{br: bufio.NewReaderSize(r, 4<<10), max: maxEventBytes} // longer lines accumulate in line
}

// Next returns the next event that carries data; comment-only and data-less
// events are skipped, as the standard says. It returns io.EOF when the stream
// ends. A last event whose lines were complete but that lacks the closing blank
// line is still returned (servers commonly omit it before closing); a final line
// without its line terminator is treated as truncated and dropped. Any other
// error is the underlying reader's, or ErrTooLarge.
func (r *Reader) Next() (Event, error) {
	r.data = r.data[:0]
	r.hasData = false
	r.name = ""
	for {
		if !r.pending {
			line, terminated, err := r.readLine()
			if err != nil && err != io.EOF {
				return Event{}, err
			}
			if !r.started && len(line) > 0 {
				r.started = true
				line = bytes.TrimPrefix(line, []byte("\xEF\xBB\xBF"))
			}
			r.rest, r.restTerminated, r.eof, r.pending = line, terminated, err == io.EOF, true
		}
		// A lone CR also ends a line. JSON payloads cannot contain a raw CR, so
		// splitting on it never breaks a data value. The rest of the line is
		// kept for the next call when an event completes in the middle of it.
		for {
			i := bytes.IndexByte(r.rest, '\r')
			if i < 0 {
				break
			}
			seg := r.rest[:i]
			r.rest = r.rest[i+1:]
			if ev, ok, err := r.field(seg); err != nil || ok {
				return ev, err
			}
		}
		r.pending = false
		if r.restTerminated {
			if ev, ok, err := r.field(r.rest); err != nil || ok {
				return ev, err
			}
		}
		if r.eof {
			if r.hasData {
				return r.dispatch(), nil
			}
			return Event{}, io.EOF
		}
	}
}

// readLine returns the next line without its terminator. terminated is false
// for a final line cut off by the end of the stream.
func (r *Reader) readLine() (line []byte, terminated bool, err error) {
	r.line = r.line[:0]
	for {
		frag, err := r.br.ReadSlice('\n')
		if err == nil && len(r.line) == 0 {
			// The common case: the whole line is in the buffer, no copy.
			return trimEOL(frag), true, nil
		}
		if len(r.line)+len(frag) > r.max {
			return nil, false, ErrTooLarge
		}
		r.line = append(r.line, frag...)
		switch err {
		case nil:
			return trimEOL(r.line), true, nil
		case bufio.ErrBufferFull:
			continue
		default:
			return r.line, false, err
		}
	}
}

func trimEOL(b []byte) []byte {
	b = b[:len(b)-1] // the '\n'
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b
}

// field processes one line; ok reports that it completed an event.
func (r *Reader) field(line []byte) (ev Event, ok bool, err error) {
	if len(line) == 0 {
		if !r.hasData {
			r.name = "" // the standard resets the type of a data-less event
			return Event{}, false, nil
		}
		return r.dispatch(), true, nil
	}
	if line[0] == ':' {
		return Event{}, false, nil // comment, typically a keep-alive
	}
	name, value := line, []byte(nil)
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		name, value = line[:i], line[i+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
	}
	switch string(name) {
	case "data":
		if r.hasData {
			r.data = append(r.data, '\n')
		}
		if len(r.data)+len(value) > r.max {
			return Event{}, false, ErrTooLarge
		}
		r.data = append(r.data, value...)
		r.hasData = true
	case "event":
		r.name = string(value)
	case "id":
		if bytes.IndexByte(value, 0) < 0 {
			r.id = string(value)
		}
	}
	// "retry" and unknown fields are ignored: reconnection is not ours to do.
	return Event{}, false, nil
}

func (r *Reader) dispatch() Event {
	ev := Event{Name: r.name, Data: r.data, ID: r.id}
	r.hasData = false
	r.name = ""
	return ev
}
