package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"slices"

	"github.com/llmgw/gateway/app/apierr"
	"github.com/llmgw/gateway/app/guardrails"
	"github.com/llmgw/gateway/app/schema"
	"github.com/llmgw/gateway/models"
)

// guard runs the organization's guardrails (seed "Guardrails") on a chat
// request before anything else sees it: the cache key, the payload kept for
// data retention and the upstream all get the redacted request. Every
// violation becomes a security event; a blocking one refuses the request.
func (g *Gateway) guard(rc *reqCtx, req *schema.ChatRequest) error {
	eng := rc.id.Org.GuardrailsEngine()
	if !eng.Active() {
		return nil
	}
	res := eng.Check(req)
	return g.afterCheck(rc, res, func() any { return req })
}

// guardEmbeddings checks embedding inputs that are text (token-id arrays are
// not text and pass), rewriting them when a rule redacts.
func (g *Gateway) guardEmbeddings(rc *reqCtx, req *schema.EmbeddingRequest) error {
	eng := rc.id.Org.GuardrailsEngine()
	if !eng.Active() {
		return nil
	}
	raw, res := checkTexts(eng, req.Input, 0)
	req.Input = raw
	return g.afterCheck(rc, res, func() any { return req })
}

// checkTexts checks a JSON string or array of strings (anything else is not
// text and passes) and returns it with redactions applied; first numbers the
// texts for the violations' MessageIndex.
func checkTexts(eng *guardrails.Engine, raw json.RawMessage, first int) (json.RawMessage, guardrails.Result) {
	var texts []string
	single := false
	var one string
	if json.Unmarshal(raw, &one) == nil {
		texts, single = []string{one}, true
	} else if json.Unmarshal(raw, &texts) != nil {
		return raw, guardrails.Result{}
	}
	var all guardrails.Result
	changed := false
	for i, s := range texts {
		out, r := eng.CheckText(s)
		for _, v := range r.Violations {
			v.MessageIndex = first + i
			all.Violations = append(all.Violations, v)
		}
		if r.Blocked != nil && all.Blocked == nil {
			b := *r.Blocked
			all.Blocked = &b
		}
		if out != s {
			texts[i], changed = out, true
		}
	}
	if !changed || all.Blocked != nil {
		return raw, all
	}
	if single {
		raw, _ = json.Marshal(texts[0])
	} else {
		raw, _ = json.Marshal(texts)
	}
	return raw, all
}

// afterCheck records a check's violations and turns a block into the error
// the client gets.
func (g *Gateway) afterCheck(rc *reqCtx, res guardrails.Result, redacted func() any) error {
	if len(res.Violations) == 0 {
		return nil
	}
	g.SecEvents.RecordViolations(models.SecurityEvent{OrganizationID: rc.id.Key.OrganizationID, ProjectID: rc.id.Key.ProjectID,
		APIKeyID: rc.id.Key.ID, RequestID: rc.requestID, Model: rc.model, Endpoint: rc.endpoint}, res.Violations)
	if g.Metrics != nil {
		for _, v := range res.Violations {
			g.Metrics.GuardrailViolation(v.Category, v.Action)
		}
	}
	if b := res.Blocked; b != nil {
		return apierr.BadRequest(fmt.Sprintf("Request blocked by guardrail rule '%s' (%s).", b.Rule, b.Category), "messages").WithCode("content_policy_violation")
	}
	if rc.retainBody != nil && res.Action() == "redacted" {
		rc.retainBody, _ = json.Marshal(redacted()) // never keep what was redacted
	}
	return nil
}

// relayTextFields are the text fields of relayed JSON bodies (completions'
// prompt, embeddings' and rerank's input and query, score's text_1/text_2).
var relayTextFields = []string{"prompt", "input", "query", "text_1", "text_2"}

// guardRelayed runs the organization's guardrails on a relayed body before it
// leaves: chat messages as on /v1/chat/completions, the text fields of other
// JSON bodies, and a multipart form's prompt (image edits, transcriptions).
// Redactions are written back into the body; unknown fields are kept.
func (g *Gateway) guardRelayed(rc *reqCtx, ctype string, body []byte) ([]byte, error) {
	eng := rc.id.Org.GuardrailsEngine()
	if !eng.Active() || len(body) == 0 {
		return body, nil
	}
	if isMultipart(ctype) {
		return g.guardForm(rc, eng, ctype, body)
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) != nil {
		return body, nil // not JSON: the upstream will refuse it
	}
	if _, ok := obj["messages"]; ok {
		req, err := schema.DecodeChatRequest(body)
		if err != nil {
			return nil, err
		}
		if err := g.guard(rc, req); err != nil {
			return nil, err
		}
		return req.MarshalJSON()
	}
	var all guardrails.Result
	changed := false
	for _, f := range relayTextFields {
		raw, ok := obj[f]
		if !ok {
			continue
		}
		out, res := checkTexts(eng, raw, len(all.Violations))
		all.Violations = append(all.Violations, res.Violations...)
		if res.Blocked != nil && all.Blocked == nil {
			all.Blocked = res.Blocked
		}
		if string(out) != string(raw) {
			obj[f], changed = out, true
		}
	}
	if err := g.afterCheck(rc, all, func() any { return obj }); err != nil {
		return nil, err
	}
	if !changed {
		return body, nil
	}
	return json.Marshal(obj)
}

// guardForm checks a multipart form's text fields (files pass) and rewrites
// the form, with the same boundary, when a rule redacts.
func (g *Gateway) guardForm(rc *reqCtx, eng *guardrails.Engine, ctype string, body []byte) ([]byte, error) {
	_, params, err := mime.ParseMediaType(ctype)
	if err != nil || params["boundary"] == "" {
		return body, nil
	}
	r := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	var out bytes.Buffer
	w := multipart.NewWriter(&out)
	if err := w.SetBoundary(params["boundary"]); err != nil {
		return body, nil
	}
	var all guardrails.Result
	changed := false
	for {
		part, err := r.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return body, nil // malformed: the upstream will refuse it
		}
		data, err := io.ReadAll(part)
		if err != nil {
			return body, nil
		}
		if part.FileName() == "" && slices.Contains([]string{"prompt", "input", "query"}, part.FormName()) {
			text, res := eng.CheckText(string(data))
			all.Violations = append(all.Violations, res.Violations...)
			if res.Blocked != nil && all.Blocked == nil {
				all.Blocked = res.Blocked
			}
			if text != string(data) {
				data, changed = []byte(text), true
			}
		}
		pw, err := w.CreatePart(part.Header)
		if err != nil {
			return body, nil
		}
		_, _ = pw.Write(data)
	}
	if err := g.afterCheck(rc, all, func() any { return map[string]string{"form": "redacted"} }); err != nil {
		return nil, err
	}
	if !changed {
		return body, nil
	}
	_ = w.Close()
	return out.Bytes(), nil
}
