package openai

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/llmgw/gateway/app/providers"
	"github.com/llmgw/gateway/app/providers/providertest"
)

// FuzzSSE feeds arbitrary bytes as a stream body: decoding must never panic
// or loop, and every failure must be a classified *providers.Error.
func FuzzSSE(f *testing.F) {
	for _, name := range []string{"stream_content.sse", "stream_tool_calls.sse"} {
		b, err := readFixture(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add([]byte(providertest.CRLF(string(b))))
	}
	f.Add([]byte(finishBody))
	f.Add([]byte(partialBody + "data: {\"error\":{\"message\":\"x\",\"code\":503}}\n\n"))
	f.Add([]byte("event: error\ndata: boom\r\r: c\n\ndata:[DONE]"))
	f.Fuzz(func(t *testing.T, body []byte) {
		s := newStream(context.Background(), "fuzz", io.NopCloser(bytes.NewReader(body)))
		defer s.Close()
		// Every chunk consumes at least one byte of input.
		for i := 0; i <= len(body)+1; i++ {
			c, err := s.Recv()
			if err == io.EOF {
				return
			}
			if err != nil {
				var pe *providers.Error
				if !errors.As(err, &pe) || pe.Provider != "fuzz" {
					t.Fatalf("unclassified error %v", err)
				}
				if _, again := s.Recv(); again != err {
					t.Fatalf("error not sticky")
				}
				return
			}
			if c == nil {
				t.Fatal("nil chunk without error")
			}
		}
		t.Fatal("more chunks than input bytes")
	})
}
