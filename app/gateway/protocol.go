package gateway

import (
	"encoding/json"
	"io"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/llmgw/gateway/app/apierr"
	"github.com/llmgw/gateway/app/schema"
)

// Protocol is an inbound wire format. The pipeline works on neutral (OpenAI)
// requests and results; a protocol writes them the way its clients expect.
type Protocol interface {
	// WriteError answers a request that failed before any byte was sent.
	WriteError(c *fiber.Ctx, e *apierr.Error) error
	// WriteResponse answers a non-streaming request.
	WriteResponse(c *fiber.Ctx, resp *schema.ChatResponse) error
	// NewStream returns the encoder of one streamed answer.
	NewStream(model string, promptTokens int) StreamEncoder
}

// StreamEncoder writes one streamed answer. Each call writes whole events.
type StreamEncoder interface {
	// Chunk writes a neutral chunk (its usage, if any, already removed).
	Chunk(w io.Writer, ch *schema.ChatChunk) error
	// Finish writes the priced usage and the end of the stream.
	Finish(w io.Writer, id string, created int64, usage *schema.Usage, routing json.RawMessage) error
	// Error ends a stream that broke: never presented as a clean finish.
	Error(w io.Writer, e *apierr.Error) error
}

// OpenAI is the OpenAI Chat Completions protocol.
var OpenAI Protocol = openAIProtocol{}

type openAIProtocol struct{}

func (openAIProtocol) WriteError(c *fiber.Ctx, e *apierr.Error) error { return apierr.Write(c, e) }

func (openAIProtocol) WriteResponse(c *fiber.Ctx, resp *schema.ChatResponse) error {
	return c.JSON(resp)
}

func (openAIProtocol) NewStream(model string, _ int) StreamEncoder {
	return &openAIStream{model: model}
}

type openAIStream struct {
	model     string
	modelJSON []byte // the model as a JSON string
	buf       []byte
}

// Chunk writes the upstream's own bytes with the model rewritten when the
// upstream spoke this format and the chunk is unchanged; else it encodes.
func (s *openAIStream) Chunk(w io.Writer, ch *schema.ChatChunk) error {
	ch.Model = s.model
	if s.modelJSON == nil {
		s.modelJSON, _ = json.Marshal(s.model)
	}
	if b, ok := ch.AppendRaw(append(s.buf[:0], "data: "...), s.modelJSON); ok {
		s.buf = append(b, '\n', '\n')
		_, err := w.Write(s.buf)
		return err
	}
	if ch.Object == "" {
		ch.Object = "chat.completion.chunk"
	}
	b, err := jsonMarshal(ch)
	if err != nil {
		return err
	}
	_, err = w.Write(sseData(b))
	return err
}

func (s *openAIStream) Finish(w io.Writer, id string, created int64, u *schema.Usage, routing json.RawMessage) error {
	ch := &schema.ChatChunk{ID: id, Object: "chat.completion.chunk", Created: created, Model: s.model,
		Choices: []schema.ChunkChoice{}, Usage: u, Metadata: routing}
	b, err := jsonMarshal(ch)
	if err != nil {
		return err
	}
	_, err = w.Write(append(sseData(b), "data: [DONE]\n\n"...))
	return err
}

func (s *openAIStream) Error(w io.Writer, e *apierr.Error) error {
	_, err := w.Write(e.SSE())
	return err
}

func sseData(b []byte) []byte {
	out := make([]byte, 0, len(b)+8)
	out = append(out, "data: "...)
	out = append(out, b...)
	return append(out, '\n', '\n')
}

// ErrorHandler writes errors raised outside a handler (body too large, unknown
// route) in the protocol of the path, so each SDK can parse them.
func ErrorHandler(c *fiber.Ctx, err error) error {
	e := apierr.FromFiber(c, err)
	switch p := c.Path(); {
	case strings.HasPrefix(p, "/v1/messages"):
		return anthropicProtocol{}.WriteError(c, e)
	case strings.HasPrefix(p, "/v1beta/"):
		return geminiProtocol{}.WriteError(c, e)
	}
	return apierr.Write(c, e)
}
