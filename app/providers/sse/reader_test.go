package sse

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

type ev struct{ name, data string }

func collect(t *testing.T, r *Reader) ([]ev, error) {
	t.Helper()
	var out []ev
	for i := 0; i < 10000; i++ {
		e, err := r.Next()
		if err != nil {
			return out, err
		}
		out = append(out, ev{e.Name, string(e.Data)})
	}
	t.Fatal("reader did not end")
	return nil, nil
}

func TestReader(t *testing.T) {
	long := strings.Repeat("x", 200<<10)
	tests := []struct {
		name string
		in   string
		want []ev
	}{
		{"basic", "data: a\n\ndata: b\n\n", []ev{{"", "a"}, {"", "b"}}},
		{"no space after colon", "data:a\n\n", []ev{{"", "a"}}},
		{"only the first space is stripped", "data:  a \n\n", []ev{{"", " a "}}},
		{"multi-line data", "data: a\ndata: b\n\n", []ev{{"", "a\nb"}}},
		{"comments are skipped", ": ping\n\n: keep-alive\ndata: a\n\n:\n\n", []ev{{"", "a"}}},
		{"event name", "event: error\ndata: x\n\ndata: y\n\n", []ev{{"error", "x"}, {"", "y"}}},
		{"data-less event is skipped and its name dropped", "event: ping\n\ndata: y\n\n", []ev{{"", "y"}}},
		{"empty data is dispatched", "data:\n\n", []ev{{"", ""}}},
		{"CRLF", "data: a\r\n\r\ndata: b\r\ndata: c\r\n\r\n", []ev{{"", "a"}, {"", "b\nc"}}},
		{"lone CR", "data: a\r\rdata: b\r\r", []ev{{"", "a"}, {"", "b"}}},
		{"CR then LF lines", "data: a\r\rdata: b\n\n", []ev{{"", "a"}, {"", "b"}}},
		{"long line", "data: " + long + "\n\n", []ev{{"", long}}},
		{"no blank line before EOF", "data: a\n", []ev{{"", "a"}}},
		{"truncated last line is dropped", "data: a\n\ndata: {\"x", []ev{{"", "a"}}},
		{"BOM", "\xEF\xBB\xBFdata: a\n\n", []ev{{"", "a"}}},
		{"unknown fields ignored", "retry: 10\nid: 7\nfoo: bar\ndata\n\n", []ev{{"", ""}}},
		{"empty stream", "", nil},
	}
	for _, tc := range tests {
		for _, oneByte := range []bool{false, true} {
			var src io.Reader = strings.NewReader(tc.in)
			if oneByte {
				src = iotest.OneByteReader(src)
			}
			got, err := collect(t, NewReader(src, 0))
			if err != io.EOF {
				t.Errorf("%s: err = %v, want EOF", tc.name, err)
			}
			if len(got) != len(tc.want) {
				t.Errorf("%s (oneByte=%v): got %d events %.80q, want %d", tc.name, oneByte, len(got), got, len(tc.want))
				continue
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("%s (oneByte=%v): event %d = %.80q, want %.80q", tc.name, oneByte, i, got[i], tc.want[i])
				}
			}
		}
	}
}

func TestReaderID(t *testing.T) {
	r := NewReader(strings.NewReader("id: 1\ndata: a\n\ndata: b\n\n"), 0)
	for _, want := range []string{"1", "1"} {
		e, err := r.Next()
		if err != nil || e.ID != want {
			t.Fatalf("got %+v, %v; want id %q", e, err, want)
		}
	}
}

func TestReaderTooLarge(t *testing.T) {
	for _, in := range []string{
		"data: " + strings.Repeat("x", 100) + "\n\n",                                 // one long line
		strings.Repeat("data: "+strings.Repeat("x", 30)+"\n", 5) + "\n",              // many lines
		strings.Repeat("y", 5000),                                                    // no newline at all
		strings.Repeat(":"+strings.Repeat("z", 30)+"\n", 5) + "data: " + "\n\n" + "", // comments are fine
	} {
		_, err := collect(t, NewReader(strings.NewReader(in), 64))
		isComment := strings.HasPrefix(in, ":")
		if isComment && err != io.EOF || !isComment && !errors.Is(err, ErrTooLarge) {
			t.Errorf("%.20q: err = %v", in, err)
		}
	}
}

func TestReaderError(t *testing.T) {
	boom := errors.New("boom")
	r := NewReader(io.MultiReader(strings.NewReader("data: a\n\ndata: b"), iotest.ErrReader(boom)), 0)
	if e, err := r.Next(); err != nil || string(e.Data) != "a" {
		t.Fatalf("first event: %q, %v", e.Data, err)
	}
	if _, err := r.Next(); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
}

func FuzzReader(f *testing.F) {
	f.Add([]byte("data: a\r\n\r\n: c\ndata:b\rdata: c\n\nevent: e\n"), 0)
	f.Add([]byte("\xEF\xBB\xBFdata: [DONE]\n\n"), 8)
	f.Fuzz(func(t *testing.T, in []byte, max int) {
		r := NewReader(strings.NewReader(string(in)), max%4096)
		for i := 0; i <= len(in)+1; i++ {
			e, err := r.Next()
			if err != nil {
				return
			}
			if len(e.Data) > len(in) {
				t.Fatalf("data longer than input")
			}
		}
		t.Fatalf("more events than input bytes")
	})
}
