package gateway

import (
	"encoding/json"
	"errors"
	"io"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/llmgw/gateway/app/apierr"
	"github.com/llmgw/gateway/app/providers/google"
	"github.com/llmgw/gateway/app/schema"
)

// geminiProtocol answers in the Gemini API's format, so Google's GenAI SDKs can
// use any catalog model through /v1beta/models/{model}:generateContent.
type geminiProtocol struct{ model string }

func (geminiProtocol) WriteError(c *fiber.Ctx, e *apierr.Error) error {
	for k, v := range e.Header {
		c.Set(k, v)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Status(e.Status).Send(google.ErrorBody(e.Status, e.Message))
}

func (p geminiProtocol) WriteResponse(c *fiber.Ctx, resp *schema.ChatResponse) error {
	out := google.FromChatResponse(resp)
	return c.JSON(out)
}

func (p geminiProtocol) NewStream(model string, _ int) StreamEncoder {
	return &geminiStream{enc: &google.StreamEncoder{ModelVersion: model}}
}

type geminiStream struct{ enc *google.StreamEncoder }

func (s *geminiStream) Chunk(w io.Writer, ch *schema.ChatChunk) error { return s.enc.WriteChunk(w, ch) }

func (s *geminiStream) Finish(w io.Writer, _ string, _ int64, u *schema.Usage, _ json.RawMessage) error {
	return s.enc.Finish(w, u)
}

func (s *geminiStream) Error(w io.Writer, e *apierr.Error) error {
	return s.enc.WriteError(w, e.Status, e.Message)
}

// GeminiGenerate serves POST /v1beta/models/{model}:generateContent and
// :streamGenerateContent (streamed as server-sent events, as ?alt=sse asks; the
// official SDKs always ask for it). The model may contain slashes
// (openai/gpt-4o), so the route is a wildcard split at its last colon.
func (g *Gateway) GeminiGenerate(c *fiber.Ctx) error {
	proto := geminiProtocol{}
	path := c.Params("*")
	i := strings.LastIndexByte(path, ':')
	if i <= 0 {
		return proto.WriteError(c, apierr.NotFound("Use /v1beta/models/{model}:generateContent or :streamGenerateContent."))
	}
	model, method := strings.Clone(path[:i]), path[i+1:]
	if method != "generateContent" && method != "streamGenerateContent" {
		return proto.WriteError(c, apierr.NotFound("Method '"+method+"' is not supported: use generateContent or streamGenerateContent."))
	}
	rc, err := g.begin(c, "gemini."+method)
	if err != nil {
		return proto.WriteError(c, apierr.From(err))
	}
	gr, err := google.DecodeGenerateRequest(c.Body())
	if err == nil {
		var req *schema.ChatRequest
		if req, err = gr.ToChat(strings.TrimPrefix(model, "models/")); err == nil {
			req.Stream = method == "streamGenerateContent"
			if req.Stream {
				req.StreamOptions = &schema.StreamOptions{IncludeUsage: true}
			}
			proto.model = req.Model
			if err := g.runChat(c, rc, proto, req); err != nil {
				return proto.WriteError(c, apierr.From(err))
			}
			return nil
		}
	}
	rc.model = model
	return proto.WriteError(c, apierr.From(g.reject(rc, nil, geminiBadRequest(err))))
}

func geminiBadRequest(err error) *apierr.Error {
	var fe *schema.FieldError
	if errors.As(err, &fe) {
		return apierr.BadRequest(fe.Msg, fe.Param)
	}
	return decodeError(err)
}
