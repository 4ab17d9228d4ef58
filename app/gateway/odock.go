package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/gofiber/fiber/v2"

	"github.com/llmgw/gateway/app/apierr"
	"github.com/llmgw/gateway/app/catalog"
	"github.com/llmgw/gateway/app/odock"
	"github.com/llmgw/gateway/app/schema"
)

// odockProtocol answers in Odock's unified format (POST /v1/llm/chat, see
// package odock): its response, its stream events and its error body
// {"error":{"code","message","status"}}.
type odockProtocol struct{}

func (odockProtocol) WriteError(c *fiber.Ctx, e *apierr.Error) error {
	for k, v := range e.Header {
		c.Set(k, v)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Status(e.Status).Send(odock.ErrorBody(e.Status, e.Code, e.Message))
}

func (odockProtocol) WriteResponse(c *fiber.Ctx, resp *schema.ChatResponse) error {
	// resp.Model is the served "provider/model" (servedModelName): FromChat
	// splits the provider off it. The Used-Provider header is not used: a
	// custom provider's id may not be the prefix of a synthesised model id.
	return c.JSON(odock.FromChat(resp, ""))
}

func (odockProtocol) NewStream(model string, _ int) StreamEncoder {
	return odockStream{odock.NewStreamEncoder(model, "")}
}

type odockStream struct{ enc *odock.StreamEncoder }

func (s odockStream) Chunk(w io.Writer, ch *schema.ChatChunk) error { return s.enc.Chunk(w, ch) }

func (s odockStream) Finish(w io.Writer, id string, created int64, u *schema.Usage, _ json.RawMessage) error {
	return s.enc.Finish(w, id, created, u)
}

func (s odockStream) Error(w io.Writer, e *apierr.Error) error {
	return s.enc.Error(w, e.Status, e.Code, e.Message)
}

// OdockChat serves POST /v1/llm/chat, Odock's unified chat endpoint, through
// the same pipeline as /v1/chat/completions (auth, limits, routing,
// fallback, metering, logging). provider pins the request to that provider
// (provider/model); without it the catalog and routing choose.
func (g *Gateway) OdockChat(c *fiber.Ctx) error {
	proto := odockProtocol{}
	rc, err := g.begin(c, "llm.chat")
	if err != nil {
		return proto.WriteError(c, apierr.From(err))
	}
	r, err := odock.DecodeRequest(c.Body())
	var req *schema.ChatRequest
	if err == nil {
		rc.model = odock.GatewayModel(r.Provider, r.Model)
		if err = g.checkOdockProvider(r); err == nil {
			req, err = odock.ToChat(r)
		}
	}
	if err != nil {
		var fe *odock.FieldError
		if errors.As(err, &fe) {
			err = apierr.BadRequest(err.Error(), fe.Field)
		}
		return proto.WriteError(c, apierr.From(g.reject(rc, nil, err)))
	}
	if err := g.runChat(c, rc, proto, req); err != nil {
		return proto.WriteError(c, apierr.From(err))
	}
	return nil
}

// checkOdockProvider answers the document's "provider mismatch" with 400: a
// provider the gateway does not know, or a catalog model that the named
// provider does not serve. Any other model name is left to routing (404
// model_not_found, or a custom provider's pass-through model).
func (g *Gateway) checkOdockProvider(r *odock.Request) error {
	if r.Provider == "" || g.Catalog == nil {
		return nil
	}
	cat := g.Catalog.Get()
	p := odock.GatewayProvider(r.Provider)
	if _, ok := cat.Provider(p); !ok {
		return apierr.BadRequest(fmt.Sprintf("Unknown provider '%s'.", r.Provider), "provider").WithCode("unknown_provider")
	}
	if _, err := cat.Resolve(odock.GatewayModel(r.Provider, r.Model)); errors.Is(err, catalog.ErrNotFound) {
		if _, err := cat.Resolve(r.Model); err == nil {
			return apierr.BadRequest(fmt.Sprintf("Model '%s' is not served by provider '%s'.", r.Model, r.Provider), "provider").WithCode("provider_mismatch")
		}
	}
	return nil
}
