package respcache

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/llmgw/gateway/app/schema"
)

// entryVersion is the version of the stored entry format. An entry of another
// version reads as a miss.
const entryVersion = 1

// Entry is what the cache stores: the complete non-streaming response and when
// it was stored. The response is stored as the caller gave it (usage
// included); what a hit reports is the caller's decision.
type Entry struct {
	Response *schema.ChatResponse
	StoredAt time.Time
}

// Age is how long ago the entry was stored.
func (e *Entry) Age(now time.Time) time.Duration { return now.Sub(e.StoredAt) }

type wireEntry struct {
	V        int                  `json:"v"`
	StoredAt int64                `json:"stored_at_ms"`
	Response *schema.ChatResponse `json:"response"`
}

// EncodeEntry serialises an entry (JSON).
func EncodeEntry(e Entry) ([]byte, error) {
	if e.Response == nil {
		return nil, errors.New("respcache: nil response")
	}
	return json.Marshal(wireEntry{V: entryVersion, StoredAt: e.StoredAt.UnixMilli(), Response: e.Response})
}

// DecodeEntry parses what EncodeEntry wrote. Each call returns a new response
// the caller may modify.
func DecodeEntry(b []byte) (Entry, error) {
	var w wireEntry
	if err := json.Unmarshal(b, &w); err != nil {
		return Entry{}, fmt.Errorf("respcache: corrupt entry: %w", err)
	}
	if w.V != entryVersion {
		return Entry{}, fmt.Errorf("respcache: entry version %d, want %d", w.V, entryVersion)
	}
	if w.Response == nil {
		return Entry{}, errors.New("respcache: entry without a response")
	}
	return Entry{Response: w.Response, StoredAt: time.UnixMilli(w.StoredAt)}, nil
}

// Storable reports whether resp may be kept: it has at least one choice, every
// choice finished (a finish_reason, and not "error"), and at least one choice
// produced something (content, refusal or a tool call). An empty or broken
// answer — often a transient upstream glitch — is never cached, as it could
// otherwise be served for the whole TTL. "length" and "content_filter"
// answers are kept: they are what the same request gets again.
func Storable(resp *schema.ChatResponse) bool {
	if resp == nil || len(resp.Choices) == 0 {
		return false
	}
	produced := false
	for i := range resp.Choices {
		c := &resp.Choices[i]
		if c.FinishReason == "" || c.FinishReason == "error" {
			return false
		}
		m := &c.Message
		if m.Content.String() != "" || len(m.ToolCalls) > 0 || (m.Refusal != nil && *m.Refusal != "") {
			produced = true
		}
	}
	return produced
}
