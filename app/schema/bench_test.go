package schema

import (
	"encoding/json"
	"strings"
	"testing"
)

// body100KB is the shape of the load benchmark's scenario (d): a system
// message and a 100 KB user prompt.
func body100KB() []byte {
	prompt := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 100<<10/45)
	b, _ := json.Marshal(map[string]any{
		"model": "gpt-4o-mini", "max_tokens": 64, "temperature": 0.2,
		"messages": []map[string]any{{"role": "system", "content": "You are terse."}, {"role": "user", "content": prompt}},
	})
	return b
}

// BenchmarkDecodeEncode100KB: what the hot path does with a request body
// bound for an OpenAI-compatible upstream: decode, change the model, encode.
func BenchmarkDecodeEncode100KB(b *testing.B) {
	body := body100KB()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		r, err := DecodeChatRequest(body)
		if err != nil {
			b.Fatal(err)
		}
		r.Model = "gpt-4o-mini-2024-07-18"
		if _, err := r.MarshalJSON(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeEncode100KBEncodingJSON is the same through encoding/json's
// validation and decoding alone, for scale.
func BenchmarkDecodeEncode100KBEncodingJSON(b *testing.B) {
	body := body100KB()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var v struct {
			Model    string
			Messages []struct{ Role, Content string }
		}
		if err := json.Unmarshal(body, &v); err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(v); err != nil {
			b.Fatal(err)
		}
	}
}
