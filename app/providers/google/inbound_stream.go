package google

import (
	"errors"
	"io"
	"sort"

	"github.com/llmgw/gateway/app/schema"
)

// StreamEncoder writes neutral chunks as the event stream of
// streamGenerateContent?alt=sse: one "data: {GenerateContentResponse}\n\n"
// event per chunk that carries text or thoughts, and a last event, written by
// Finish, with every candidate's finishReason, its function calls and the
// usageMetadata.
//
// Function calls are held back until Finish: OpenAI streams their arguments
// in fragments, while a Gemini functionCall part is whole.
//
// The zero value is ready to use. A StreamEncoder serves one stream and is not
// safe for concurrent use.
type StreamEncoder struct {
	// ModelVersion, when set, is written as modelVersion instead of the
	// chunks' model (e.g. the alias the client asked for).
	ModelVersion string

	responseID string
	model      string
	cands      map[int]*encCandidate
	usage      *schema.Usage
	done       bool
}

type encCandidate struct {
	calls  []*encCall // by tool_calls index
	finish string     // OpenAI finish_reason, once seen
}

type encCall struct {
	id, name string
	args     []byte
}

var errEncoderDone = errors.New("google: stream already finished")

// WriteChunk writes the event for one chunk, if it carries anything to show
// now. A usage-only chunk (choices: []) is kept for Finish.
func (e *StreamEncoder) WriteChunk(w io.Writer, ch *schema.ChatChunk) error {
	if e.done {
		return errEncoderDone
	}
	if ch == nil {
		return nil
	}
	if e.responseID == "" {
		e.responseID = ch.ID
	}
	if e.model == "" {
		e.model = ch.Model
	}
	if ch.Usage != nil {
		e.usage = ch.Usage
	}
	var cands []Candidate
	for _, c := range ch.Choices {
		st := e.candidate(c.Index)
		d := c.Delta
		var reasoning, text string
		if d.Reasoning != nil {
			reasoning = *d.Reasoning
		}
		if d.Content != nil {
			text = *d.Content
		}
		if d.Refusal != nil {
			text += *d.Refusal
		}
		for _, tc := range d.ToolCalls {
			i := len(st.calls) // a call without an index is a new one
			if tc.Index != nil {
				i = *tc.Index
			}
			if i < 0 || i > len(st.calls) {
				// A gap in the indexes: take it as the next call rather than
				// allocating for an arbitrary index.
				i = len(st.calls)
			}
			if i == len(st.calls) {
				st.calls = append(st.calls, &encCall{})
			}
			call := st.calls[i]
			if tc.ID != "" {
				call.id = tc.ID
			}
			call.name += tc.Function.Name
			call.args = append(call.args, tc.Function.Arguments...)
		}
		if c.FinishReason != nil && *c.FinishReason != "" {
			st.finish = *c.FinishReason
		}
		if parts := answerParts(reasoning, text); len(parts) > 0 {
			cands = append(cands, Candidate{Index: c.Index, Content: &Content{Role: "model", Parts: parts}})
		}
	}
	if len(cands) == 0 {
		return nil
	}
	return e.write(w, &GenerateResponse{Candidates: cands})
}

func (e *StreamEncoder) candidate(i int) *encCandidate {
	if e.cands == nil {
		e.cands = map[int]*encCandidate{}
	}
	c := e.cands[i]
	if c == nil {
		c = &encCandidate{}
		e.cands[i] = c
	}
	return c
}

// Finish writes the last event: the held function calls, every candidate's
// finishReason (STOP for one the chunks never finished) and usageMetadata
// from usage, or else from the last usage chunk seen. A stream that produced
// no candidate at all still ends with one, empty and STOP, so that a client
// always sees a finishReason.
func (e *StreamEncoder) Finish(w io.Writer, usage *schema.Usage) error {
	if e.done {
		return errEncoderDone
	}
	e.done = true
	if usage == nil {
		usage = e.usage
	}
	if len(e.cands) == 0 {
		e.candidate(0)
	}
	idx := make([]int, 0, len(e.cands))
	for i := range e.cands {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	final := &GenerateResponse{UsageMetadata: usageMetadataFrom(usage)}
	for _, i := range idx {
		st := e.cands[i]
		var parts []Part
		for _, c := range st.calls {
			parts = append(parts, functionCallPart(c.id, c.name, string(c.args)))
		}
		cand := Candidate{Index: i, FinishReason: geminiFinishReason(st.finish)}
		if len(parts) > 0 {
			cand.Content = &Content{Role: "model", Parts: parts}
		}
		final.Candidates = append(final.Candidates, cand)
	}
	return e.write(w, final)
}

// WriteError ends the stream with an error, for a failure after the first
// event was sent (before it, answer with an HTTP status and ErrorBody). The
// error is written twice: as a data event, which Google's JavaScript SDK
// reads as an error, and as a bare JSON line, which is how the Go SDK
// recognises one (an SSE parser ignores that line).
func (e *StreamEncoder) WriteError(w io.Writer, status int, message string) error {
	if e.done {
		return errEncoderDone
	}
	e.done = true
	body := ErrorBody(status, message)
	buf := make([]byte, 0, 2*len(body)+12)
	buf = append(buf, "data: "...)
	buf = append(buf, body...)
	buf = append(buf, "\n\n"...)
	buf = append(buf, body...)
	buf = append(buf, "\n\n"...)
	_, err := w.Write(buf)
	return err
}

func (e *StreamEncoder) write(w io.Writer, g *GenerateResponse) error {
	g.ModelVersion = orDefault(e.ModelVersion, e.model)
	g.ResponseID = e.responseID
	b, err := marshalNoEscape(g)
	if err != nil {
		return err
	}
	buf := make([]byte, 0, len(b)+8)
	buf = append(buf, "data: "...)
	buf = append(buf, b...)
	buf = append(buf, "\n\n"...)
	_, err = w.Write(buf)
	return err
}
