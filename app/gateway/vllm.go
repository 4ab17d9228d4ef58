package gateway

// The vLLM family, /v1/vllm/*: the client's request is relayed to the
// gateway's vLLM server, the provider with id "vllm", declared as any
// OpenAI-compatible custom provider in GATEWAY_MODELS_FILE:
//
//	providers:
//	  - {id: vllm, baseUrl: "http://gpu-box:8000"}   # apiKey: optional (vllm serve --api-key)
//
// LLM_VLLM_BASE_URL and LLM_VLLM_API_KEY override the URL and the key (a
// comma-separated key pool) as for every provider. The base URL is the
// server's root, without /v1: vLLM serves /tokenize, /pooling, /rerank, ...
// at the root and the OpenAI routes under /v1.
//
// The body's model is vLLM's served model name; a model listed in the
// catalog with a vllm offer ("llama-8b" -> meta-llama/Llama-3.1-8B-Instruct,
// or vllm/meta-llama/...) is renamed to the offer's id and priced at the
// offer's prices; any other name is passed through unpriced (refused when
// billing is on, which serves priced models only). Models, tokenize and
// detokenize are never metered nor limited by spend. One request-log row per
// call (per attempt), endpoint "vllm.<name>", with the tokens the answer's
// usage reports (streams of chat and text completions are asked for it).

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/gofiber/fiber/v2"

	"github.com/llmgw/gateway/app/apierr"
	"github.com/llmgw/gateway/app/catalog"
	"github.com/llmgw/gateway/app/routing"
)

// VLLMProvider is the provider id of the vLLM server.
const VLLMProvider = "vllm"

// vllmEndpoint is one /v1/vllm/<name> route.
type vllmEndpoint struct {
	method string // upstream method
	path   string // upstream path under the base URL
	// metered: the model is resolved for access rules, price and spend
	// limits; false for calls that cost nothing (models, tokenize).
	metered bool
	// generates: the call produces tokens, bounded by max_tokens.
	generates bool
	// streamUsage: a stream is asked for usage (OpenAI's stream_options).
	streamUsage bool
}

var vllmEndpoints = map[string]vllmEndpoint{
	"models":               {method: fiber.MethodGet, path: "/v1/models"},
	"chat.completions":     {method: fiber.MethodPost, path: "/v1/chat/completions", metered: true, generates: true, streamUsage: true},
	"completions":          {method: fiber.MethodPost, path: "/v1/completions", metered: true, generates: true, streamUsage: true},
	"responses":            {method: fiber.MethodPost, path: "/v1/responses", metered: true, generates: true},
	"embeddings":           {method: fiber.MethodPost, path: "/v1/embeddings", metered: true},
	"audio.transcriptions": {method: fiber.MethodPost, path: "/v1/audio/transcriptions", metered: true, generates: true},
	"audio.translations":   {method: fiber.MethodPost, path: "/v1/audio/translations", metered: true, generates: true},
	"tokenize":             {method: fiber.MethodPost, path: "/tokenize"},
	"detokenize":           {method: fiber.MethodPost, path: "/detokenize"},
	"pooling":              {method: fiber.MethodPost, path: "/pooling", metered: true},
	"classify":             {method: fiber.MethodPost, path: "/classify", metered: true},
	"score":                {method: fiber.MethodPost, path: "/score", metered: true},
	"rerank":               {method: fiber.MethodPost, path: "/rerank", metered: true},
}

// VLLM returns the handler of /v1/vllm/<name> ("chat.completions",
// "tokenize", "audio.transcriptions", ...: the keys of vllmEndpoints). It
// panics on an unknown name, which only a wrong route registration can give.
func (g *Gateway) VLLM(name string) fiber.Handler {
	ep, ok := vllmEndpoints[name]
	if !ok {
		panic("gateway: no vLLM endpoint " + name)
	}
	return func(c *fiber.Ctx) error { return g.vllm(c, name, ep) }
}

func (g *Gateway) vllm(c *fiber.Ctx, name string, ep vllmEndpoint) error {
	rc, err := g.begin(c, "vllm."+name)
	if err != nil {
		return err
	}
	var body []byte
	ctype := c.Get(fiber.HeaderContentType)
	if ep.method != fiber.MethodGet {
		// A copy: a stream is still being relayed after the handler returned
		// and fasthttp reuses the request's buffer.
		body = bytes.Clone(c.Body())
		if ctype == "" && len(body) > 0 {
			ctype = fiber.MIMEApplicationJSON
		}
	}
	f, err := readRelayFields(body, ctype)
	if err != nil {
		return g.reject(rc, nil, err)
	}
	rc.model, rc.streaming = f.model, f.stream
	if body, err = g.guardRelayed(rc, ctype, body); err != nil {
		return g.reject(rc, nil, err)
	}
	if f.stream && ep.streamUsage && !isMultipart(ctype) {
		if body, err = ensureStreamUsage(body); err != nil {
			return g.reject(rc, nil, apierr.InvalidJSON("Invalid JSON in request body: "+err.Error()))
		}
	}
	res, cands, err := g.vllmRoute(c, rc, f, ep)
	if err != nil {
		return g.reject(rc, res, err)
	}
	return g.relay(c, rc, &relayCall{method: ep.method, path: ep.path, body: body, ctype: ctype,
		accept: c.Get(fiber.HeaderAccept), model: f.model, stream: f.stream, res: res, cands: cands})
}

// vllmRoute resolves the vLLM upstream and, for metered calls, the model:
// access, IAM rules, price, spend reservation and free-model limits.
func (g *Gateway) vllmRoute(c *fiber.Ctx, rc *reqCtx, f relayFields, ep vllmEndpoint) (*catalog.Resolution, []routing.Candidate, error) {
	if rc.id.Key.Test {
		return nil, nil, apierr.BadRequest("Test keys are answered by the built-in test provider, which has no vLLM endpoints.", "")
	}
	ups := g.Upstreams()
	up, ok := ups.Get(VLLMProvider)
	if !ok {
		return nil, nil, apierr.BadRequest(fmt.Sprintf("The vLLM endpoints are not available: %s. Declare it in GATEWAY_MODELS_FILE (providers: [{id: vllm, baseUrl: \"http://host:8000\"}]).",
			ups.Why(VLLMProvider)), "").WithCode("provider_not_configured")
	}
	id := VLLMProvider
	if f.model != "" {
		id += "/" + f.model
	}
	offer := &catalog.Offer{Provider: VLLMProvider, Model: f.model}
	res := &catalog.Resolution{Requested: f.model, Model: &catalog.Model{ID: id, Name: f.model, OwnedBy: VLLMProvider, Offers: []*catalog.Offer{offer}},
		Offers: []*catalog.Offer{offer}, Pinned: true}
	switch {
	case !ep.metered:
	case f.model != "":
		got, err := g.Catalog.Get().Resolve(id)
		if errors.Is(err, catalog.ErrNotFound) {
			return nil, nil, apierr.ModelNotFound(f.model)
		}
		if err != nil {
			return nil, nil, apierr.BadRequest(err.Error(), "model")
		}
		res = got
		if err := checkAccess(rc.id, f.model, res.Model); err != nil {
			return res, nil, err
		}
	case g.BillingEnabled:
		return nil, nil, apierr.BadRequest("You must provide a model parameter.", "model")
	}
	cands := []routing.Candidate{{Offer: res.Offers[0], Upstream: up}}
	if ep.metered && g.BillingEnabled {
		if cands = pricedOnly(cands); len(cands) == 0 {
			return res, nil, apierr.BadRequest(fmt.Sprintf("Model '%s' is not available: no provider with a known price serves it.", id), "model").WithCode("provider_not_configured")
		}
	}
	if f.model != "" {
		var err error
		if cands, err = allowed(rc.id.Rules, id, res, cands); err != nil {
			return res, nil, err
		}
	}
	if !ep.metered {
		return res, cands, nil
	}
	out := 1 // embeddings, scores: no completion tokens
	if ep.generates {
		out = f.maxOutput // 0: the model's limit
	}
	prompt := rc.bodyLen // a token is at least a byte of a JSON body
	if isMultipart(f.ctype) {
		prompt = 0 // audio: its bytes are not tokens
	}
	if err := g.reserve(rc, res, cands, func(bool) (int, int) { return prompt, out }); err != nil {
		return res, nil, err
	}
	if err := g.freeModelLimit(c, rc, cands); err != nil {
		return res, nil, err
	}
	return res, cands, nil
}
