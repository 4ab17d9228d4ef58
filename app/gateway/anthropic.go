package gateway

import (
	"encoding/json"
	"errors"
	"io"

	"github.com/gofiber/fiber/v2"

	"github.com/llmgw/gateway/app/apierr"
	"github.com/llmgw/gateway/app/catalog"
	"github.com/llmgw/gateway/app/providers/anthropic"
	"github.com/llmgw/gateway/app/schema"
	"github.com/llmgw/gateway/app/tokenizer"
)

// anthropicProtocol answers in Anthropic's Messages format, so the Anthropic
// SDKs and Claude Code can use any catalog model through /v1/messages.
type anthropicProtocol struct{ model string } // the model as the client named it

func (anthropicProtocol) WriteError(c *fiber.Ctx, e *apierr.Error) error {
	for k, v := range e.Header {
		c.Set(k, v)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Status(e.Status).Send(anthropic.WriteError(e.Status, e.Message))
}

func (p anthropicProtocol) WriteResponse(c *fiber.Ctx, resp *schema.ChatResponse) error {
	return c.JSON(anthropic.FromChatResponse(resp, p.model))
}

func (p anthropicProtocol) NewStream(_ string, promptTokens int) StreamEncoder {
	enc := anthropic.NewStreamEncoder(p.model)
	enc.InputTokens = promptTokens
	return &anthropicStream{enc: enc}
}

type anthropicStream struct{ enc *anthropic.StreamEncoder }

func (s *anthropicStream) Chunk(w io.Writer, ch *schema.ChatChunk) error {
	return s.enc.WriteChunk(w, ch)
}

func (s *anthropicStream) Finish(w io.Writer, _ string, _ int64, u *schema.Usage, _ json.RawMessage) error {
	return s.enc.Finish(w, u)
}

func (s *anthropicStream) Error(w io.Writer, e *apierr.Error) error {
	return s.enc.ErrorEvent(w, anthropic.ErrorType(e.Status), e.Message)
}

// AnthropicMessages serves POST /v1/messages.
func (g *Gateway) AnthropicMessages(c *fiber.Ctx) error {
	proto := anthropicProtocol{}
	rc, err := g.begin(c, "messages")
	if err != nil {
		return proto.WriteError(c, apierr.From(err))
	}
	mr, err := anthropic.DecodeMessagesRequest(c.Body())
	if err != nil {
		return proto.WriteError(c, apierr.From(g.reject(rc, nil, anthropicBadRequest(err))))
	}
	proto.model = mr.Model
	req, err := mr.ToChat()
	if err != nil {
		rc.model = mr.Model
		return proto.WriteError(c, apierr.From(g.reject(rc, nil, anthropicBadRequest(err))))
	}
	if rc.sessionID == "" {
		rc.sessionID = truncate(mr.SessionID(), 255) // Claude Code's metadata.user_id
	}
	g.fitToModel(req)
	if err := g.runChat(c, rc, proto, req); err != nil {
		return proto.WriteError(c, apierr.From(err))
	}
	return nil
}

// fitToModel adapts what Anthropic clients ask of every model to the catalog
// model actually named. Claude Code sends thinking (enabled with a budget, or
// adaptive with output_config.effort) and max_tokens 32000 whatever the model:
//
//   - a model without the reasoning capability gets no reasoning settings
//     (OpenAI answers 400 to "reasoning" or "reasoning_effort" on gpt-4o-mini);
//   - max_tokens above the model's output limit is lowered to that limit
//     (OpenAI answers 400 to max_completion_tokens 32000 on gpt-4o-mini).
//
// An unknown model is left alone: routing reports it.
func (g *Gateway) fitToModel(req *schema.ChatRequest) {
	if g.Catalog == nil {
		return
	}
	cat := g.Catalog.Get()
	if cat == nil {
		return
	}
	res, err := cat.Resolve(req.Model)
	if err != nil || res.Model == nil {
		return
	}
	if !res.Model.Capabilities.Reasoning {
		req.Reasoning, req.ReasoningEffort = nil, ""
	}
	if limit := maxOutputOf(res); limit > 0 && req.MaxCompletionTokens != nil && *req.MaxCompletionTokens > limit {
		n := limit
		req.MaxCompletionTokens = &n
	}
}

// maxOutputOf is the largest output every offer of the resolution accepts
// (0: unknown).
func maxOutputOf(res *catalog.Resolution) int {
	limit := 0
	for _, o := range res.Offers {
		n := o.MaxOutput
		if n <= 0 {
			n = res.Model.MaxOutput
		}
		if n > 0 && (limit == 0 || n < limit) {
			limit = n
		}
	}
	if len(res.Offers) == 0 {
		limit = res.Model.MaxOutput
	}
	return max(limit, 0)
}

// AnthropicCountTokens serves POST /v1/messages/count_tokens with the gateway's
// tokenizer (the count is exact for OpenAI models and an estimate for others).
func (g *Gateway) AnthropicCountTokens(c *fiber.Ctx) error {
	proto := anthropicProtocol{}
	id, err := g.Keys.Authenticate(c.UserContext(), bearerToken(c))
	if err != nil {
		return proto.WriteError(c, authError(err))
	}
	// The key's IP rules hold here too (no upstream is called, so neither
	// spend nor rate limits apply: Claude Code's /context sends ~20 at once).
	if err := id.Rules.CheckIP(g.clientIP(c)); err != nil {
		return proto.WriteError(c, apierr.Forbidden(err.Error()))
	}
	cr, err := anthropic.DecodeCountTokensRequest(c.Body())
	if err != nil {
		return proto.WriteError(c, anthropicBadRequest(err))
	}
	req, err := cr.ToChat()
	if err != nil {
		return proto.WriteError(c, anthropicBadRequest(err))
	}
	return c.JSON(anthropic.CountTokensResponse{InputTokens: tokenizer.CountMessages(req)})
}

func anthropicBadRequest(err error) *apierr.Error {
	var fe *anthropic.FieldError
	if errors.As(err, &fe) {
		return apierr.BadRequest(err.Error(), fe.Field)
	}
	return apierr.BadRequest(err.Error(), "")
}
