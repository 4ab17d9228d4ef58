package gateway

import (
	"encoding/json"
	"io"

	"github.com/gofiber/fiber/v2"

	"github.com/llmgw/gateway/app/apierr"
	"github.com/llmgw/gateway/app/providers/openai"
	"github.com/llmgw/gateway/app/schema"
)

// responsesProtocol answers in the OpenAI Responses API format (Codex, newer
// OpenAI SDKs), mapped onto any chat model. The gateway stores no responses, so
// previous_response_id is refused: clients send the whole conversation.
type responsesProtocol struct{ req *openai.ResponsesRequest }

func (responsesProtocol) WriteError(c *fiber.Ctx, e *apierr.Error) error { return apierr.Write(c, e) }

func (p responsesProtocol) WriteResponse(c *fiber.Ctx, resp *schema.ChatResponse) error {
	return c.JSON(openai.FromChatResponse(resp, resp.Model).EchoRequest(p.req))
}

func (p responsesProtocol) NewStream(model string, _ int) StreamEncoder {
	enc := openai.NewResponsesStreamEncoder(model)
	enc.Request = p.req
	return &responsesStream{enc: enc}
}

type responsesStream struct {
	enc *openai.ResponsesStreamEncoder
}

func (s *responsesStream) Chunk(w io.Writer, ch *schema.ChatChunk) error {
	return s.enc.WriteChunk(w, ch)
}

func (s *responsesStream) Finish(w io.Writer, _ string, _ int64, u *schema.Usage, _ json.RawMessage) error {
	return s.enc.Finish(w, u)
}

func (s *responsesStream) Error(w io.Writer, e *apierr.Error) error {
	return s.enc.ErrorEvent(w, e.Status, e.Message)
}

// Responses serves POST /v1/responses.
func (g *Gateway) Responses(c *fiber.Ctx) error {
	rc, err := g.begin(c, "responses")
	if err != nil {
		return apierr.Write(c, apierr.From(err))
	}
	rr, err := openai.DecodeResponsesRequest(c.Body())
	if err != nil {
		return apierr.Write(c, apierr.From(g.reject(rc, nil, decodeError(err))))
	}
	req, err := rr.ToChat()
	if err != nil {
		rc.model = rr.Model
		return apierr.Write(c, apierr.From(g.reject(rc, nil, decodeError(err))))
	}
	if rc.sessionID == "" {
		rc.sessionID = truncate(firstNonEmpty(rawString(req.Extra["prompt_cache_key"]), req.User), 255)
	}
	if err := g.runChat(c, rc, responsesProtocol{req: rr}, req); err != nil {
		return apierr.Write(c, apierr.From(err))
	}
	return nil
}
