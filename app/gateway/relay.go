package gateway

// The relay passes a client's request through to an upstream endpoint that
// the neutral (chat) schema does not model — vLLM's tokenize, rerank, audio,
// OpenAI's images — while the gateway still authenticates, limits, meters and
// logs it. The client's body is sent as it came (only its model is renamed
// when the catalog maps it to another upstream id); the upstream's status,
// Content-Type and body come back as they are; usage is read from the
// response (or the stream) when the upstream reports one.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/llmgw/gateway/app/retention"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/llmgw/gateway/app/apierr"
	"github.com/llmgw/gateway/app/catalog"
	"github.com/llmgw/gateway/app/pricing"
	"github.com/llmgw/gateway/app/providers"
	"github.com/llmgw/gateway/app/providers/httpx"
	"github.com/llmgw/gateway/app/routing"
	"github.com/llmgw/gateway/app/schema"
)

const (
	// relayMaxBody caps a buffered (non-streaming) upstream answer, as the
	// OpenAI adapter does: a large float embeddings batch reaches tens of MiB.
	relayMaxBody = 256 << 20
	// relayMaxError caps an upstream error body.
	relayMaxError = 1 << 20
	// relayMaxEvent caps the part of one streamed line kept to look for usage.
	relayMaxEvent = 1 << 20
)

// relayClientOf is the client of relayed calls: the server's upstream client
// (its pool, connect and TLS limits: GATEWAY_UPSTREAM_CONNECT_TIMEOUT applies)
// except that a redirect is answered to the client as the upstream sent it,
// so a POST body is never replayed to another URL.
func relayClientOf(c *http.Client) *http.Client {
	if c == nil {
		c = http.DefaultClient
	}
	rc := *c
	rc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &rc
}

// relayCall is one pass-through request.
type relayCall struct {
	method string // upstream method
	path   string // appended to the upstream base URL, e.g. "/tokenize"
	body   []byte // the client's body (nil: none)
	ctype  string // its Content-Type, multipart boundary included
	accept string // the client's Accept ("" for the default)
	model  string // the model the body names ("" none)
	// stream: the client asked for server-sent events; a 2xx event-stream
	// answer is copied through as it arrives.
	stream bool
	// images: the offer's requestPrice is charged per image returned.
	images bool
	res    *catalog.Resolution
	cands  []routing.Candidate
}

// relay calls the candidates in order (another key of the same provider
// after a 401/403/429, the next candidate after a 5xx, 429 or connection
// failure) and answers with the first success, or with the last upstream
// error as the upstream sent it. When no upstream answered at all the error
// is returned (logged) for the caller to write.
func (g *Gateway) relay(c *fiber.Ctx, rc *reqCtx, call *relayCall) error {
	timeout := g.UpstreamTimeout
	if call.stream {
		timeout = g.UpstreamStreamTimeout
	}
	ctx, cancel := context.WithTimeout(g.base, timeout)
	var atts []*attempt
	var last *relayAnswer // the last upstream error answer
	var prev error
	for p := newPlan(call.cands, g.MaxAttempts); ; {
		cand, key, ok := p.next(prev)
		if !ok {
			break
		}
		a := newAttempt(cand)
		atts = append(atts, a)
		resp, release, err := g.relayOnce(ctx, rc, cand, key, call)
		if err != nil {
			reportKey(cand, key, err)
			a.fail(err)
			prev, last = err, nil
			continue
		}
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			reportKey(cand, key, nil)
			a.succeeded, a.status = true, resp.StatusCode
			if call.stream && strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
				return g.relayStream(c, rc, call, atts, resp, func() { release(); cancel() })
			}
			defer cancel()
			defer release()
			return g.relayBuffered(c, rc, call, atts, resp)
		}
		ans := readAnswer(resp)
		release()
		perr := &providers.Error{Kind: providers.KindStatus, Provider: cand.Offer.Provider, Status: resp.StatusCode,
			Message: upstreamMessage(ans.body), RetryAfter: retryAfterOf(resp)}
		reportKey(cand, key, perr)
		a.fail(perr)
		prev, last = perr, ans
	}
	cancel()
	if last == nil {
		return g.giveUp(rc, call.res, atts, call.stream)
	}
	// The upstream's own error, as it sent it (its status, not the gateway's
	// mapping of it: a vLLM client expects vLLM's answer).
	a := atts[len(atts)-1]
	g.logRequest(rc, call.res, atts, outcome{status: last.status, err: a.err})
	setRelayHeaders(c, a.cand)
	return last.write(c)
}

// relayOnce makes one upstream call and returns its response once the
// headers arrived (within the first-byte limit for streams). release ends the
// call's context and must be called once the body is done with.
func (g *Gateway) relayOnce(ctx context.Context, rc *reqCtx, cand routing.Candidate, key *routing.PoolKey, call *relayCall) (*http.Response, func(), error) {
	t := cand.Target(key)
	body := call.body
	if call.model != "" && cand.Offer.Model != call.model {
		var err error
		if body, err = renameModel(body, call.ctype, cand.Offer.Model); err != nil {
			return nil, func() {}, &providers.Error{Kind: providers.KindStatus, Provider: t.Provider, Status: 400,
				Message: "The request body could not be rewritten: " + err.Error(), Err: err}
		}
	}
	actx, cancel := context.WithCancelCause(ctx)
	release := func() { cancel(nil) }
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(actx, call.method, strings.TrimRight(t.BaseURL, "/")+call.path, rd)
	if err != nil {
		release()
		return nil, func() {}, &providers.Error{Kind: providers.KindConnection, Provider: t.Provider, Message: "invalid upstream URL", Err: err}
	}
	if body != nil && call.ctype != "" {
		req.Header.Set("Content-Type", call.ctype)
	}
	switch {
	case call.accept != "":
		req.Header.Set("Accept", call.accept)
	case call.stream:
		req.Header.Set("Accept", "text/event-stream")
	default:
		req.Header.Set("Accept", "application/json")
	}
	req.Header.Set("X-Request-Id", rc.requestID)
	if t.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+t.APIKey)
	}
	if call.stream && g.UpstreamFirstByte > 0 {
		timer := time.AfterFunc(g.UpstreamFirstByte, func() { cancel(errFirstByte) })
		defer timer.Stop()
	}
	resp, err := g.relayClient.Do(req)
	if err != nil {
		kind := providers.KindConnection
		switch {
		case errors.Is(context.Cause(actx), errFirstByte), errors.Is(ctx.Err(), context.DeadlineExceeded):
			kind = providers.KindTimeout
		case errors.Is(g.base.Err(), context.Canceled):
			kind = providers.KindCancelled
		}
		release()
		return nil, func() {}, &providers.Error{Kind: kind, Provider: t.Provider, Err: err}
	}
	return resp, func() { resp.Body.Close(); release() }, nil
}

// relayAnswer is a buffered upstream answer.
type relayAnswer struct {
	status int
	header http.Header
	body   []byte
}

func readAnswer(resp *http.Response) *relayAnswer {
	b, _, _ := httpx.ReadCapped(resp.Body, relayMaxError)
	return &relayAnswer{status: resp.StatusCode, header: resp.Header, body: b}
}

// write sends the answer with its Content-Type (and Retry-After, which a
// client needs to back off).
func (a *relayAnswer) write(c *fiber.Ctx) error {
	if ct := a.header.Get("Content-Type"); ct != "" {
		c.Set(fiber.HeaderContentType, ct)
	}
	if ra := a.header.Get("Retry-After"); ra != "" {
		c.Set(fiber.HeaderRetryAfter, ra)
	}
	return c.Status(a.status).Send(a.body)
}

// relayBuffered answers a non-streaming success and meters its usage.
func (g *Gateway) relayBuffered(c *fiber.Ctx, rc *reqCtx, call *relayCall, atts []*attempt, resp *http.Response) error {
	a := atts[len(atts)-1]
	b, truncated, err := httpx.ReadCapped(resp.Body, relayMaxBody)
	if err != nil || truncated {
		perr := &providers.Error{Kind: providers.KindConnection, Provider: a.cand.Offer.Provider, Err: err}
		if truncated {
			perr = &providers.Error{Kind: providers.KindBadResponse, Provider: a.cand.Offer.Provider, Message: "response body too large"}
		}
		a.fail(perr)
		a.succeeded = false
		return g.giveUp(rc, call.res, atts, false)
	}
	var usage *schema.Usage
	images := 0
	if strings.Contains(resp.Header.Get("Content-Type"), "json") {
		usage, images = answerUsage(b)
	}
	cost := relayCost(a.cand, usage, call.images, images)
	out := outcome{status: resp.StatusCode, usage: usage, cost: cost}
	if rc.retainBody != nil && usage != nil && cost.Known {
		// Retained, like every other endpoint's answer: stored and priced.
		cost.DataStorage = retention.StorageCost(usage.TotalTokens)
		out.cost, out.payload = cost, b
	}
	g.logRequest(rc, call.res, atts, out)
	setRelayHeaders(c, a.cand)
	return (&relayAnswer{status: resp.StatusCode, header: resp.Header, body: b}).write(c)
}

// relayStream copies an event stream to the client as it arrives, line by
// line (flushed at each event's end), and meters the last usage an event
// reported. It runs after the handler returned.
func (g *Gateway) relayStream(c *fiber.Ctx, rc *reqCtx, call *relayCall, atts []*attempt, resp *http.Response, done func()) error {
	cand := atts[len(atts)-1].cand
	setRelayHeaders(c, cand)
	c.Status(resp.StatusCode)
	c.Set(fiber.HeaderContentType, resp.Header.Get("Content-Type"))
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set(fiber.HeaderConnection, "keep-alive")
	c.Set("X-Accel-Buffering", "no")
	g.inflight.Add(1)
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer g.inflight.Done()
		defer done()
		out := outcome{status: resp.StatusCode, streamed: true}
		var usage *schema.Usage
		r := bufio.NewReaderSize(resp.Body, 64<<10)
		var event []byte // the current line, kept (bounded) to look for usage
		overflow := false
		gone := func() { out.status, out.err = 499, apierr.Cancelled("Client closed the connection.") }
		for {
			line, err := r.ReadSlice('\n')
			if len(line) > 0 {
				if overflow || len(event)+len(line) > relayMaxEvent {
					overflow = true
				} else {
					event = append(event, line...)
				}
				if _, werr := w.Write(line); werr != nil {
					gone()
					break
				}
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				continue // a long line: its start is sent, read on
			}
			if len(event) > 0 && !overflow { // a whole line
				if u := eventUsage(event); u != nil {
					usage = u
				}
				if out.ttft == 0 && bytes.HasPrefix(event, []byte("data:")) {
					out.ttft = time.Since(rc.start)
				}
			}
			if err == nil && len(bytes.TrimSpace(line)) == 0 && w.Flush() != nil { // an event's end
				gone()
				break
			}
			event, overflow = event[:0], false
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				ae := apierr.BadGateway(fmt.Sprintf("Upstream provider %s broke the stream.", cand.Offer.Provider))
				switch {
				case errors.Is(g.base.Err(), context.Canceled):
					ae = apierr.Unavailable("The gateway is shutting down.")
				case errors.Is(err, context.DeadlineExceeded):
					ae = apierr.Timeout(fmt.Sprintf("Upstream provider %s timed out.", cand.Offer.Provider))
				}
				out.status, out.err = ae.Status, ae
				_, _ = w.Write(ae.SSE()) // never presented as a clean end
				break
			}
		}
		_ = w.Flush()
		out.usage = usage
		out.cost = relayCost(cand, usage, call.images, 0)
		g.logRequest(rc, call.res, atts, out)
	})
	return nil
}

// setRelayHeaders names the provider and upstream model that answered.
func setRelayHeaders(c *fiber.Ctx, cand routing.Candidate) {
	c.Set("X-LLMGateway-Used-Provider", cand.Offer.Provider)
	if cand.Offer.Model != "" {
		c.Set("X-LLMGateway-Used-Model", cand.Offer.Provider+"/"+cand.Offer.Model)
	}
}

// relayCost prices a relayed call: tokens at the offer's prices, plus its
// requestPrice (per image returned for the images endpoints).
func relayCost(cand routing.Candidate, u *schema.Usage, perImage bool, images int) pricing.Breakdown {
	b := pricing.Compute(cand.Offer.Price, u)
	if perImage && images > 1 {
		b.Request *= int64(images)
	}
	return b
}

// wireUsage is a usage object in any of the shapes OpenAI-compatible servers
// report: chat/completions/embeddings/score (prompt_tokens, completion_tokens),
// Responses and gpt-image (input_tokens, output_tokens), rerank (total only).
type wireUsage struct {
	PromptTokens     *int `json:"prompt_tokens"`
	CompletionTokens *int `json:"completion_tokens"`
	InputTokens      *int `json:"input_tokens"`
	OutputTokens     *int `json:"output_tokens"`
	TotalTokens      *int `json:"total_tokens"`
	PromptDetails    *struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
	InputDetails *struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"input_tokens_details"`
	CompletionDetails *struct {
		ReasoningTokens int `json:"reasoning_tokens"`
	} `json:"completion_tokens_details"`
	OutputDetails *struct {
		ReasoningTokens int `json:"reasoning_tokens"`
	} `json:"output_tokens_details"`
}

// neutral converts the usage (nil when it reports no tokens).
func (w *wireUsage) neutral() *schema.Usage {
	if w == nil {
		return nil
	}
	n := func(ps ...*int) int {
		for _, p := range ps {
			if p != nil && *p > 0 {
				return *p
			}
		}
		return 0
	}
	u := &schema.Usage{PromptTokens: n(w.PromptTokens, w.InputTokens), CompletionTokens: n(w.CompletionTokens, w.OutputTokens),
		TotalTokens: n(w.TotalTokens)}
	if u.PromptTokens == 0 && u.CompletionTokens == 0 {
		u.PromptTokens = u.TotalTokens // rerank, pooling: only a total, all of it input
	}
	if u.TotalTokens == 0 {
		u.TotalTokens = u.PromptTokens + u.CompletionTokens
	}
	if u.TotalTokens == 0 {
		return nil
	}
	cached := 0
	if w.PromptDetails != nil {
		cached = w.PromptDetails.CachedTokens
	} else if w.InputDetails != nil {
		cached = w.InputDetails.CachedTokens
	}
	if cached > 0 {
		u.PromptTokensDetails = &schema.PromptTokensDetails{CachedTokens: cached}
	}
	reasoning := 0
	if w.CompletionDetails != nil {
		reasoning = w.CompletionDetails.ReasoningTokens
	} else if w.OutputDetails != nil {
		reasoning = w.OutputDetails.ReasoningTokens
	}
	if reasoning > 0 {
		u.CompletionTokensDetails = &schema.CompletionTokensDetails{ReasoningTokens: reasoning}
	}
	return u
}

// usageEnvelope finds the usage of a response body or stream event: at the
// top level, or in a Responses API event's response.
type usageEnvelope struct {
	Usage    *wireUsage `json:"usage"`
	Response *struct {
		Usage *wireUsage `json:"usage"`
	} `json:"response"`
	Data []struct{} `json:"data"` // images (counted, not kept)
}

// answerUsage reads a JSON answer's usage and how many data items (images) it has.
func answerUsage(b []byte) (*schema.Usage, int) {
	var env usageEnvelope
	if json.Unmarshal(b, &env) != nil {
		return nil, 0
	}
	if env.Usage != nil {
		return env.Usage.neutral(), len(env.Data)
	}
	if env.Response != nil {
		return env.Response.Usage.neutral(), len(env.Data)
	}
	return nil, len(env.Data)
}

// eventUsage reads the usage of one "data: {...}" line, if it has one.
func eventUsage(line []byte) *schema.Usage {
	data, ok := bytes.CutPrefix(line, []byte("data:"))
	if !ok || !bytes.Contains(data, []byte(`"usage"`)) {
		return nil
	}
	var env usageEnvelope
	if json.Unmarshal(bytes.TrimSpace(data), &env) != nil {
		return nil
	}
	if env.Usage != nil {
		return env.Usage.neutral()
	}
	if env.Response != nil {
		return env.Response.Usage.neutral()
	}
	return nil
}

// upstreamMessage extracts the message of an upstream error body (OpenAI's
// {"error":{"message"}}, vLLM's {"message"} or {"error":"..."}, FastAPI's
// {"detail"}), for the log.
func upstreamMessage(b []byte) string {
	var e struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
		Detail  json.RawMessage `json:"detail"`
	}
	if json.Unmarshal(b, &e) != nil {
		return truncate(strings.TrimSpace(string(b)), 300)
	}
	var inner struct {
		Message string `json:"message"`
	}
	var s string
	switch {
	case json.Unmarshal(e.Error, &inner) == nil && inner.Message != "":
		return inner.Message
	case json.Unmarshal(e.Error, &s) == nil && s != "":
		return s
	case e.Message != "":
		return e.Message
	case json.Unmarshal(e.Detail, &s) == nil && s != "":
		return s
	case len(e.Detail) > 0:
		return truncate(string(e.Detail), 300)
	}
	return ""
}

// retryAfterOf is the upstream's Retry-After (0 when absent).
func retryAfterOf(resp *http.Response) time.Duration {
	d, _ := httpx.RetryAfter(resp.Header.Get("Retry-After"))
	return d
}

// relayJSON is what the relay reads of a JSON body.
type relayJSON struct {
	Model               json.RawMessage `json:"model"`
	Stream              json.RawMessage `json:"stream"`
	MaxTokens           json.RawMessage `json:"max_tokens"`
	MaxCompletionTokens json.RawMessage `json:"max_completion_tokens"`
	MaxOutputTokens     json.RawMessage `json:"max_output_tokens"`
}

// relayFields reads the model, the stream flag and the output bound of a
// request: from a JSON object, or from a multipart form's fields.
type relayFields struct {
	ctype     string
	model     string
	stream    bool
	maxOutput int
}

func readRelayFields(body []byte, ctype string) (relayFields, error) {
	f := relayFields{ctype: ctype}
	if isMultipart(ctype) {
		m, err := formField(body, ctype, "model")
		if err != nil {
			return f, apierr.BadRequest("The request body is not a valid multipart form: "+err.Error(), "")
		}
		s, _ := formField(body, ctype, "stream")
		f.model, f.stream = m, s == "true"
		return f, nil
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return f, nil
	}
	var j relayJSON
	if err := json.Unmarshal(body, &j); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return f, apierr.BadRequest("The request body must be a JSON object.", "")
		}
		return f, apierr.InvalidJSON("Invalid JSON in request body: " + err.Error())
	}
	if len(j.Model) > 0 && string(j.Model) != "null" {
		if json.Unmarshal(j.Model, &f.model) != nil {
			return f, apierr.BadRequest("'model' must be a string.", "model")
		}
	}
	_ = json.Unmarshal(j.Stream, &f.stream)
	for _, raw := range []json.RawMessage{j.MaxCompletionTokens, j.MaxTokens, j.MaxOutputTokens} {
		var n int
		if json.Unmarshal(raw, &n) == nil && n > 0 {
			f.maxOutput = n
			break
		}
	}
	return f, nil
}

func isMultipart(ctype string) bool {
	mt, _, _ := mime.ParseMediaType(ctype)
	return mt == "multipart/form-data"
}

// formField returns the value of a multipart form's first text field of that
// name ("" when absent), without reading files into memory twice.
func formField(body []byte, ctype, name string) (string, error) {
	_, params, err := mime.ParseMediaType(ctype)
	if err != nil || params["boundary"] == "" {
		return "", errors.New("no multipart boundary")
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		if p.FormName() == name && p.FileName() == "" {
			b, _, err := httpx.ReadCapped(p, 4096)
			return strings.TrimSpace(string(b)), err
		}
	}
}

// renameModel returns the body with its model field set to model: a JSON
// object's "model", or a multipart form's "model" field (the other parts are
// copied unchanged, under the same boundary, so the Content-Type still holds).
func renameModel(body []byte, ctype, model string) ([]byte, error) {
	if !isMultipart(ctype) {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(body, &m); err != nil {
			return nil, err
		}
		m["model"], _ = json.Marshal(model)
		return json.Marshal(m)
	}
	_, params, _ := mime.ParseMediaType(ctype)
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	var out bytes.Buffer
	mw := multipart.NewWriter(&out)
	if err := mw.SetBoundary(params["boundary"]); err != nil {
		return nil, err
	}
	for {
		p, err := mr.NextRawPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		w, err := mw.CreatePart(textproto.MIMEHeader(p.Header))
		if err != nil {
			return nil, err
		}
		if p.FormName() == "model" && p.FileName() == "" {
			_, err = io.WriteString(w, model)
		} else {
			_, err = io.Copy(w, p)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// ensureStreamUsage asks a streaming chat or text completion for its usage
// (stream_options.include_usage), as the gateway's own adapter does, so the
// call can be metered; the client then also receives the final usage chunk.
func ensureStreamUsage(body []byte) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, err
	}
	opts := map[string]json.RawMessage{}
	if raw, ok := m["stream_options"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &opts); err != nil {
			return nil, err
		}
	}
	if string(opts["include_usage"]) == "true" {
		return body, nil
	}
	opts["include_usage"] = json.RawMessage("true")
	m["stream_options"], _ = json.Marshal(opts)
	return json.Marshal(m)
}
