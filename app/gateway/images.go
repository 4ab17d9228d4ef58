package gateway

// The OpenAI Images API: POST /v1/images/generations (JSON), /v1/images/edits
// (multipart, or JSON as gpt-image models accept) and /v1/images/variations
// (multipart). The model is routed like a chat model (catalog resolution,
// access, IAM rules, spend limits, fallback between providers) among the
// offers of OpenAI-compatible providers, and the client's body is relayed to
// the chosen provider with only its model renamed to the provider's id; the
// provider's answer (b64_json or url images, or a gpt-image stream) comes
// back as it is.
//
// The catalog has no image capability (yet): an image model is one whose id
// or upstream id is of an OpenAI image family (dall-e-*, gpt-image-*), or a
// models-file model declared with "capabilities: []" (no text capability),
// e.g. a FLUX model of an OpenAI-compatible provider. Metering: the usage
// gpt-image models report (input/output tokens at the offer's prices), plus
// the offer's requestPrice once per image returned.

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/llmgw/gateway/app/apierr"
	"github.com/llmgw/gateway/app/catalog"
	"github.com/llmgw/gateway/app/routing"
)

// ImageGenerations serves POST /v1/images/generations.
func (g *Gateway) ImageGenerations(c *fiber.Ctx) error { return g.images(c, "generations") }

// ImageEdits serves POST /v1/images/edits.
func (g *Gateway) ImageEdits(c *fiber.Ctx) error { return g.images(c, "edits") }

// ImageVariations serves POST /v1/images/variations.
func (g *Gateway) ImageVariations(c *fiber.Ctx) error { return g.images(c, "variations") }

func (g *Gateway) images(c *fiber.Ctx, op string) error {
	rc, err := g.begin(c, "images."+op)
	if err != nil {
		return err
	}
	body := bytes.Clone(c.Body()) // a stream outlives the handler's buffers
	ctype := c.Get(fiber.HeaderContentType)
	if ctype == "" {
		ctype = fiber.MIMEApplicationJSON
	}
	if op == "variations" && !isMultipart(ctype) {
		return g.reject(rc, nil, apierr.BadRequest("Image variations take a multipart/form-data body.", ""))
	}
	f, err := readRelayFields(body, ctype)
	if err != nil {
		return g.reject(rc, nil, err)
	}
	rc.model, rc.streaming = f.model, f.stream
	if f.model == "" {
		return g.reject(rc, nil, apierr.BadRequest("You must provide a model parameter.", "model"))
	}
	if rc.id.Key.Test {
		return g.reject(rc, nil, apierr.BadRequest("Test keys are answered by the built-in test provider, which has no image models.", ""))
	}
	if body, err = g.guardRelayed(rc, ctype, body); err != nil {
		return g.reject(rc, nil, err)
	}
	prompt := rc.bodyLen
	if isMultipart(ctype) {
		prompt = 0 // image bytes are not text tokens; gpt-image reports its own usage
	}
	res, cands, err := g.route(rc, f.model, false, func(bool) (int, int) { return prompt, 0 })
	if err != nil {
		return g.reject(rc, res, err)
	}
	if !imageModel(res) {
		return g.reject(rc, res, apierr.BadRequest(fmt.Sprintf("Model '%s' is not an image model.", f.model), "model").WithCode("invalid_model"))
	}
	if cands = openAICompatible(cands); len(cands) == 0 {
		return g.reject(rc, res, apierr.BadRequest(fmt.Sprintf("Model '%s' has no configured OpenAI-compatible provider: only those serve the Images API.", f.model), "model").WithCode("provider_not_configured"))
	}
	if err := g.freeModelLimit(c, rc, cands); err != nil {
		return g.reject(rc, res, err)
	}
	return g.relay(c, rc, &relayCall{method: fiber.MethodPost, path: "/v1/images/" + op, body: body, ctype: ctype,
		accept: c.Get(fiber.HeaderAccept), model: f.model, stream: f.stream, images: true, res: res, cands: cands})
}

// imageModel tells an image model (see the file comment).
func imageModel(res *catalog.Resolution) bool {
	if res == nil || res.Model == nil {
		return false
	}
	if res.Model.Capabilities == (catalog.Capabilities{}) {
		return true
	}
	names := []string{res.Model.ID}
	for _, o := range res.Offers {
		names = append(names, o.Model)
	}
	for _, n := range names {
		base := n[strings.LastIndexByte(n, '/')+1:]
		if strings.HasPrefix(base, "dall-e") || strings.HasPrefix(base, "gpt-image") {
			return true
		}
	}
	return false
}

// openAICompatible keeps the candidates whose provider speaks OpenAI's wire
// format at its base URL (Azure's deployment URLs and the other kinds do not
// serve /v1/images).
func openAICompatible(in []routing.Candidate) []routing.Candidate {
	out := in[:0:0]
	for _, c := range in {
		if c.Upstream.Info.Kind == "openai" {
			out = append(out, c)
		}
	}
	return out
}
