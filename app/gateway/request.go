package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/llmgw/gateway/app/apierr"
	"github.com/llmgw/gateway/app/ids"
	"github.com/llmgw/gateway/app/keys"
	"github.com/llmgw/gateway/app/routing"
	"github.com/llmgw/gateway/app/spend"
	"github.com/llmgw/gateway/app/tracing"
)

// reqCtx is what the pipeline knows about one client request.
type reqCtx struct {
	start     time.Time
	requestID string
	endpoint  string
	id        *keys.Identity
	source    string
	userAgent string
	sessionID string
	metadata  string // JSON object of X-LLMGateway-* headers
	model     string // as requested
	hold      *spend.Reservation
	// promptTokens is the tokenizer's count of the prompt, when it was needed
	// (spend estimate, count_tokens); 0 otherwise.
	promptTokens int
	bodyLen      int    // request body size, a cheap prompt-size estimate
	strategy     string // the request's "routing" field
	streaming    bool
	noFallback   bool                // X-No-Fallback: true
	selection    string              // why the first candidate was chosen
	jurisdiction string              // the request's jurisdiction policy (model tier)
	path         string              // the route, for span names
	autoModel    string              // the model "auto" chose
	cands        []routing.Candidate // the routed candidates, best first
	retainBody   []byte              // the request body, kept when the org retains payloads
	traceParent  context.Context
}

// begin starts a request: assigns its id, authenticates the key and collects the
// attribution headers. Unauthenticated requests are not logged (no project).
func (g *Gateway) begin(c *fiber.Ctx, endpoint string) (*reqCtx, error) {
	rc := &reqCtx{start: time.Now(), endpoint: endpoint, bodyLen: len(c.Body())}
	// Fiber's header strings alias fasthttp's reused buffers: whatever outlives
	// the handler (log rows, the stream pump) must be copied.
	rc.requestID = strings.Clone(sanitizeID(c.Get("X-Request-Id")))
	if rc.requestID == "" {
		rc.requestID = ids.New("req")
	}
	c.Set("X-Request-Id", rc.requestID)

	id, err := g.Keys.Authenticate(c.UserContext(), bearerToken(c))
	if err != nil {
		return nil, authError(err)
	}
	if err := id.Rules.CheckIP(g.clientIP(c)); err != nil {
		return nil, apierr.Forbidden(err.Error())
	}
	if err := g.rateLimit(c, id); err != nil {
		return nil, err
	}
	rc.id = id
	if id.Org.RetainAll() {
		rc.retainBody = bytes.Clone(c.Body()) // fiber reuses the body buffer once the handler returns
	}
	rc.source = strings.Clone(truncate(c.Get("X-Source"), 255))
	rc.noFallback = strings.EqualFold(c.Get("X-No-Fallback"), "true")
	if tracing.Enabled() {
		rc.path = strings.Clone(c.Path())
		rc.traceParent = tracing.Extract(context.Background(), func(k string) string { return c.Get(k) })
	}
	rc.userAgent = strings.Clone(truncate(c.Get(fiber.HeaderUserAgent), 512))
	rc.sessionID = strings.Clone(truncate(firstNonEmpty(c.Get("X-Session-Id"), c.Get("X-Session-Affinity")), 255))
	rc.metadata = metadataHeaders(c)
	return rc, nil
}

// bearerToken reads the key from Authorization: Bearer, x-api-key (what
// Anthropic clients send) or x-goog-api-key (Google's GenAI SDKs); on the
// Gemini routes also from ?key=, as Google's API allows.
func bearerToken(c *fiber.Ctx) string {
	if h := c.Get(fiber.HeaderAuthorization); h != "" {
		if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
			return strings.TrimSpace(h[7:])
		}
		return ""
	}
	if k := c.Get("X-Api-Key"); k != "" {
		return strings.TrimSpace(k)
	}
	if k := c.Get("X-Goog-Api-Key"); k != "" {
		return strings.TrimSpace(k)
	}
	if strings.HasPrefix(c.Path(), "/v1beta/") {
		return strings.TrimSpace(c.Query("key"))
	}
	return ""
}

func authError(err error) *apierr.Error {
	switch {
	case errors.Is(err, keys.ErrInvalidKey):
		return apierr.Unauthorized("Unauthorized: invalid API key.")
	case errors.Is(err, keys.ErrInactiveKey):
		return apierr.Unauthorized("Unauthorized: API key is disabled.")
	case errors.Is(err, keys.ErrExpiredKey):
		return apierr.Unauthorized("Unauthorized: API key has expired.")
	case errors.Is(err, keys.ErrProjectOff):
		return apierr.Unauthorized("Unauthorized: the API key's project is not active.")
	}
	// The key store itself failed: not the client's fault.
	return apierr.Unavailable("Authentication is temporarily unavailable.")
}

// metadataHeaders collects X-LLMGateway-* headers (the seed's custom metadata)
// as a JSON object keyed by the lower-cased suffix. Bounded: 32 keys, 256 bytes each.
func metadataHeaders(c *fiber.Ctx) string {
	const prefix = "x-llmgateway-"
	var m map[string]string
	c.Request().Header.VisitAll(func(k, v []byte) {
		name := strings.ToLower(string(k))
		if !strings.HasPrefix(name, prefix) || len(name) == len(prefix) {
			return
		}
		if m == nil {
			m = map[string]string{}
		}
		if len(m) < 32 {
			m[name[len(prefix):]] = truncate(string(v), 256)
		}
	})
	if m == nil {
		return ""
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// sanitizeID keeps a client-supplied request id only if it is short and plain.
func sanitizeID(s string) string {
	if len(s) == 0 || len(s) > 128 {
		return ""
	}
	for _, r := range s {
		if !(r == '-' || r == '_' || r == '.' || r == ':' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')) {
			return ""
		}
	}
	return s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}
