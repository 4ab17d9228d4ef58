package google

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/llmgw/gateway/app/schema"
)

// Thinking budgets for reasoning_effort, as Gemini's own OpenAI-compatible
// endpoint maps them.
var effortBudgets = map[string]int{
	"minimal": 1024,
	"low":     1024,
	"medium":  8192,
	"high":    24576,
}

// signatureSentinel is the documented placeholder for a functionCall part
// whose thought signature was lost (the OpenAI format has nowhere to keep it).
// Gemini 3 rejects a replayed function call without a signature; this value
// tells it to skip the check.
const signatureSentinel = "skip_thought_signature_validator"

// requestBuilder translates one neutral request; it carries what the error
// messages and the translation need.
type requestBuilder struct {
	provider string
	model    string
	req      *schema.ChatRequest
}

// buildRequest translates a neutral chat request into a generateContent body.
// The caller's request is only read.
func buildRequest(provider, model string, req *schema.ChatRequest) (*GenerateRequest, error) {
	b := &requestBuilder{provider: provider, model: model, req: req}
	if err := b.refuse(); err != nil {
		return nil, err
	}
	out := &GenerateRequest{}
	if err := b.messages(out); err != nil {
		return nil, err
	}
	if err := b.tools(out); err != nil {
		return nil, err
	}
	gc, err := b.generationConfig()
	if err != nil {
		return nil, err
	}
	out.GenerationConfig = gc
	return out, nil
}

// refuse rejects the parameters Gemini's generateContent cannot honour, so
// that a client never silently gets something other than it asked for.
// `user` is accepted and ignored: it has no effect on the output.
func (b *requestBuilder) refuse() error {
	r := b.req
	if r.Logprobs != nil && *r.Logprobs {
		return unsupported(b.provider, "logprobs", "logprobs is not supported by this provider.")
	}
	if r.TopLogprobs != nil && *r.TopLogprobs > 0 {
		return unsupported(b.provider, "top_logprobs", "top_logprobs is not supported by this provider.")
	}
	if lb := bytes.TrimSpace(r.LogitBias); len(lb) > 0 {
		var m map[string]json.RawMessage
		if json.Unmarshal(lb, &m) != nil || len(m) > 0 {
			return unsupported(b.provider, "logit_bias", "logit_bias is not supported by this provider.")
		}
	}
	for _, k := range []string{"audio", "prediction", "web_search_options"} {
		if v, ok := r.Extra[k]; ok && !isNull(v) {
			return unsupported(b.provider, k, k+" is not supported by this provider.")
		}
	}
	if v, ok := r.Extra["modalities"]; ok && !isNull(v) {
		var mods []string
		if json.Unmarshal(v, &mods) != nil {
			return unsupported(b.provider, "modalities", "modalities must be an array of strings.")
		}
		for _, m := range mods {
			if m != "text" {
				return unsupported(b.provider, "modalities", fmt.Sprintf("The output modality %q is not supported by this provider.", m))
			}
		}
	}
	return nil
}

// messages fills contents and systemInstruction. System and developer
// messages, wherever they appear, are joined into systemInstruction; the
// other turns keep their order, with consecutive turns of one role merged
// (Gemini expects user and model to alternate).
func (b *requestBuilder) messages(out *GenerateRequest) error {
	var system []Part
	// callNames maps a tool_call id to its function name: a Gemini
	// functionResponse is matched to its call by name, which an OpenAI tool
	// message does not carry. Later calls overwrite earlier ones, so a reused
	// id refers to the most recent call.
	callNames := map[string]string{}
	for i, m := range b.req.Messages {
		param := fmt.Sprintf("messages[%d]", i)
		switch m.Role {
		case "system", "developer":
			parts, err := b.userParts(m.Content, param)
			if err != nil {
				return err
			}
			for _, p := range parts {
				if p.Text == "" {
					return unsupported(b.provider, param+".content", "System messages may only contain text.")
				}
			}
			system = append(system, parts...)
		case "user":
			parts, err := b.userParts(m.Content, param)
			if err != nil {
				return err
			}
			appendTurn(out, "user", parts)
		case "assistant":
			parts, err := b.assistantParts(m, param, callNames)
			if err != nil {
				return err
			}
			appendTurn(out, "model", parts)
		case "tool", "function":
			name := m.Name // the legacy "function" role names the function itself
			if m.Role == "tool" {
				var ok bool
				if name, ok = callNames[m.ToolCallID]; !ok {
					return invalidRequest(b.provider, param+".tool_call_id",
						fmt.Sprintf("No earlier assistant tool call has the id %q.", m.ToolCallID))
				}
			}
			appendTurn(out, "user", []Part{{FunctionResponse: &FunctionResponse{
				Name:     name,
				Response: toolResponse(m.Content),
			}}})
		default:
			return invalidRequest(b.provider, param+".role", fmt.Sprintf("Unknown message role %q.", m.Role))
		}
	}
	if len(system) > 0 {
		out.SystemInstruction = &Content{Parts: system}
	}
	if out.Contents == nil {
		out.Contents = []Content{}
	}
	return nil
}

// appendTurn adds parts as a turn of role, merged into the previous turn when
// it has the same role. An empty turn is dropped: Gemini rejects a content
// without parts.
func appendTurn(out *GenerateRequest, role string, parts []Part) {
	if len(parts) == 0 {
		return
	}
	if n := len(out.Contents); n > 0 && out.Contents[n-1].Role == role {
		out.Contents[n-1].Parts = append(out.Contents[n-1].Parts, parts...)
		return
	}
	out.Contents = append(out.Contents, Content{Role: role, Parts: parts})
}

// userParts translates a user (or system) content. Empty text is skipped:
// Gemini rejects a part without data.
func (b *requestBuilder) userParts(c schema.Content, param string) ([]Part, error) {
	if c.Text != nil {
		if *c.Text == "" {
			return nil, nil
		}
		return []Part{{Text: *c.Text}}, nil
	}
	var parts []Part
	for j, p := range c.Parts {
		pp := fmt.Sprintf("%s.content[%d]", param, j)
		switch p.Type {
		case "text":
			if p.Text != "" {
				parts = append(parts, Part{Text: p.Text})
			}
		case "image_url":
			if p.ImageURL == nil || p.ImageURL.URL == "" {
				return nil, invalidRequest(b.provider, pp+".image_url", "image_url.url is required.")
			}
			part, err := b.imagePart(p.ImageURL.URL, pp+".image_url.url")
			if err != nil {
				return nil, err
			}
			parts = append(parts, part)
		case "input_audio":
			var a struct {
				Data   string `json:"data"`
				Format string `json:"format"`
			}
			if json.Unmarshal(p.InputAudio, &a) != nil || a.Data == "" || a.Format == "" {
				return nil, invalidRequest(b.provider, pp+".input_audio", "input_audio needs data and format.")
			}
			parts = append(parts, Part{InlineData: &Blob{MimeType: "audio/" + a.Format, Data: a.Data}})
		case "file":
			var f struct {
				FileData string `json:"file_data"`
				FileID   string `json:"file_id"`
			}
			_ = json.Unmarshal(p.File, &f)
			if f.FileData == "" {
				return nil, unsupported(b.provider, pp+".file", "Only files sent inline as file_data are supported by this provider.")
			}
			mt, data, err := parseDataURI(f.FileData)
			if err != nil {
				return nil, invalidRequest(b.provider, pp+".file.file_data", err.Error())
			}
			parts = append(parts, Part{InlineData: &Blob{MimeType: mt, Data: data}})
		default:
			return nil, unsupported(b.provider, pp+".type", fmt.Sprintf("Content parts of type %q are not supported by this provider.", p.Type))
		}
	}
	return parts, nil
}

// imagePart sends a data: URI inline and any other URL by reference; Gemini
// fetches public URLs itself. The MIME type of a URL is guessed from its
// extension (Gemini requires one), JPEG when there is none.
func (b *requestBuilder) imagePart(u, param string) (Part, error) {
	if strings.HasPrefix(strings.ToLower(u), "data:") {
		mt, data, err := parseDataURI(u)
		if err != nil {
			return Part{}, invalidRequest(b.provider, param, err.Error())
		}
		return Part{InlineData: &Blob{MimeType: mt, Data: data}}, nil
	}
	return Part{FileData: &FileData{MimeType: guessImageType(u), FileURI: u}}, nil
}

var imageTypes = map[string]string{
	".png":  "image/png",
	".jpg":  "image/jpeg",
	".jpeg": "image/jpeg",
	".webp": "image/webp",
	".gif":  "image/gif",
	".heic": "image/heic",
	".heif": "image/heif",
}

func guessImageType(u string) string {
	p := u
	if pu, err := url.Parse(u); err == nil {
		p = pu.Path
	}
	if mt, ok := imageTypes[strings.ToLower(path.Ext(p))]; ok {
		return mt
	}
	return "image/jpeg"
}

// parseDataURI splits data:[<mediatype>][;base64],<data> into the media type
// and base64 data. A percent-encoded payload is re-encoded as base64.
func parseDataURI(u string) (mimeType, data string, err error) {
	rest, ok := cutPrefixFold(u, "data:")
	if !ok {
		return "", "", fmt.Errorf("not a data: URI")
	}
	meta, payload, ok := strings.Cut(rest, ",")
	if !ok {
		return "", "", fmt.Errorf("malformed data: URI (no comma)")
	}
	isBase64 := false
	params := strings.Split(meta, ";")
	mimeType = strings.TrimSpace(params[0])
	for _, p := range params[1:] {
		if strings.EqualFold(strings.TrimSpace(p), "base64") {
			isBase64 = true
		}
	}
	if mimeType == "" {
		mimeType = "text/plain"
	}
	if isBase64 {
		if payload == "" {
			return "", "", fmt.Errorf("empty data: URI")
		}
		return mimeType, payload, nil
	}
	raw, err := url.PathUnescape(payload)
	if err != nil {
		return "", "", fmt.Errorf("malformed data: URI: %v", err)
	}
	return mimeType, base64.StdEncoding.EncodeToString([]byte(raw)), nil
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

// assistantParts translates an assistant message: its text, then its tool
// calls as functionCall parts. Reasoning text is not sent back: Gemini keeps
// its thoughts in signatures, not in replayed text.
func (b *requestBuilder) assistantParts(m schema.Message, param string, callNames map[string]string) ([]Part, error) {
	var parts []Part
	if text := m.Content.String(); text != "" {
		parts = append(parts, Part{Text: text})
	}
	first := true
	for j, tc := range m.ToolCalls {
		pp := fmt.Sprintf("%s.tool_calls[%d].function.arguments", param, j)
		args := bytes.TrimSpace([]byte(tc.Function.Arguments))
		if len(args) == 0 {
			args = []byte("{}")
		}
		if !json.Valid(args) || args[0] != '{' {
			return nil, invalidRequest(b.provider, pp, "Tool call arguments must be a JSON object.")
		}
		part := Part{FunctionCall: &FunctionCall{Name: tc.Function.Name, Args: compactJSON(args)}}
		if first && needsSignatureSentinel(b.model) {
			// Gemini 3 checks the signature of the first call of a step only.
			part.ThoughtSignature = signatureSentinel
		}
		first = false
		parts = append(parts, part)
		if tc.ID != "" {
			callNames[tc.ID] = tc.Function.Name
		}
	}
	return parts, nil
}

// needsSignatureSentinel reports whether model is Gemini 3 or later, which
// rejects a replayed function call without a thought signature. Earlier
// models accept the call as is and are left alone.
func needsSignatureSentinel(model string) bool {
	m := strings.ToLower(model[strings.LastIndex(model, "/")+1:])
	rest, ok := strings.CutPrefix(m, "gemini-")
	if !ok {
		return false
	}
	end := 0
	for end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
		end++
	}
	major, err := strconv.Atoi(rest[:end])
	return err == nil && major >= 3
}

// toolResponse wraps a tool result as Gemini's response object. A JSON object
// or array result is sent structured; anything else is text:
// {"content": <object|array>} or {"content": {"result": "<text>"}}.
func toolResponse(c schema.Content) json.RawMessage {
	text := c.String()
	trimmed := bytes.TrimSpace([]byte(text))
	if len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[') && json.Valid(trimmed) {
		return append(append([]byte(`{"content":`), compactJSON(trimmed)...), '}')
	}
	tb, _ := json.Marshal(text)
	return append(append([]byte(`{"content":{"result":`), tb...), '}', '}')
}

func compactJSON(b []byte) json.RawMessage {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return json.RawMessage(b)
	}
	return buf.Bytes()
}

// tools fills tools and toolConfig.
func (b *requestBuilder) tools(out *GenerateRequest) error {
	r := b.req
	if len(r.Tools) > 0 {
		decls := make([]FunctionDeclaration, 0, len(r.Tools))
		for i, t := range r.Tools {
			param := fmt.Sprintf("tools[%d]", i)
			if t.Type != "function" && t.Type != "" {
				return unsupported(b.provider, param+".type", fmt.Sprintf("Tools of type %q are not supported by this provider.", t.Type))
			}
			d := FunctionDeclaration{Name: t.Function.Name, Description: t.Function.Description}
			params, err := toGeminiSchema(t.Function.Parameters, false)
			if err != nil {
				return invalidRequest(b.provider, param+".function.parameters", "Invalid parameters schema: "+err.Error())
			}
			// A function without parameters has no schema at all: Gemini
			// rejects an OBJECT with empty properties.
			if params != nil && !(params.vals["type"] == "OBJECT" && params.vals["properties"] == nil) {
				d.Parameters, err = json.Marshal(params)
				if err != nil {
					return invalidRequest(b.provider, param+".function.parameters", err.Error())
				}
			}
			decls = append(decls, d)
		}
		out.Tools = []Tool{{FunctionDeclarations: decls}}
	}

	tc := bytes.TrimSpace(r.ToolChoice)
	if len(tc) == 0 || len(r.Tools) == 0 {
		// Without tools a choice has nothing to act on (and "none" is what
		// the model does anyway); Gemini rejects a config for no functions.
		return nil
	}
	cfg := &FunctionCallingConfig{}
	var s string
	if json.Unmarshal(tc, &s) == nil {
		switch s {
		case "auto":
			cfg.Mode = "AUTO"
		case "none":
			cfg.Mode = "NONE"
		case "required":
			cfg.Mode = "ANY"
		default:
			return unsupported(b.provider, "tool_choice", fmt.Sprintf("tool_choice %q is not supported by this provider.", s))
		}
	} else {
		var o struct {
			Type     string `json:"type"`
			Function struct {
				Name string `json:"name"`
			} `json:"function"`
		}
		if json.Unmarshal(tc, &o) != nil || o.Type != "function" || o.Function.Name == "" {
			return unsupported(b.provider, "tool_choice", "tool_choice must be auto, none, required or a function.")
		}
		cfg.Mode = "ANY"
		cfg.AllowedFunctionNames = []string{o.Function.Name}
	}
	out.ToolConfig = &ToolConfig{FunctionCallingConfig: cfg}
	return nil
}

// generationConfig translates the sampling, output format and reasoning
// options; nil when there are none.
func (b *requestBuilder) generationConfig() (*GenerationConfig, error) {
	r := b.req
	gc := &GenerationConfig{
		Temperature:      r.Temperature,
		TopP:             r.TopP,
		CandidateCount:   r.N,
		Seed:             r.Seed,
		PresencePenalty:  r.PresencePenalty,
		FrequencyPenalty: r.FrequencyPenalty,
	}
	if r.MaxCompletionTokens != nil {
		gc.MaxOutputTokens = r.MaxCompletionTokens
	} else {
		gc.MaxOutputTokens = r.MaxTokens
	}
	if v, ok := r.Extra["top_k"]; ok && !isNull(v) {
		// Not an OpenAI parameter, but common among compatible servers, and
		// what ToChat turns Gemini's topK into.
		var k float64
		if json.Unmarshal(v, &k) != nil {
			return nil, invalidRequest(b.provider, "top_k", "top_k must be a number.")
		}
		gc.TopK = &k
	}
	if stop := bytes.TrimSpace(r.Stop); len(stop) > 0 {
		var one string
		if json.Unmarshal(stop, &one) == nil {
			gc.StopSequences = []string{one}
		} else if json.Unmarshal(stop, &gc.StopSequences) != nil {
			return nil, invalidRequest(b.provider, "stop", "stop must be a string or an array of strings.")
		}
	}
	if err := b.responseFormat(gc); err != nil {
		return nil, err
	}
	tc, err := b.thinking()
	if err != nil {
		return nil, err
	}
	gc.ThinkingConfig = tc
	if isZeroConfig(gc) {
		return nil, nil
	}
	return gc, nil
}

func isZeroConfig(gc *GenerationConfig) bool {
	b, _ := json.Marshal(gc)
	return string(b) == "{}"
}

// responseFormat maps json_object to JSON mode and json_schema to JSON mode
// with a converted responseSchema.
func (b *requestBuilder) responseFormat(gc *GenerationConfig) error {
	rf := bytes.TrimSpace(b.req.ResponseFormat)
	if len(rf) == 0 {
		return nil
	}
	var f struct {
		Type       string `json:"type"`
		JSONSchema *struct {
			Schema json.RawMessage `json:"schema"`
		} `json:"json_schema"`
	}
	if json.Unmarshal(rf, &f) != nil {
		return invalidRequest(b.provider, "response_format", "response_format must be an object.")
	}
	switch f.Type {
	case "text":
	case "json_object":
		gc.ResponseMimeType = "application/json"
	case "json_schema":
		gc.ResponseMimeType = "application/json"
		if f.JSONSchema != nil {
			s, err := toGeminiSchema(f.JSONSchema.Schema, true)
			if err != nil {
				return invalidRequest(b.provider, "response_format.json_schema.schema", "Invalid schema: "+err.Error())
			}
			if s != nil {
				if gc.ResponseSchema, err = json.Marshal(s); err != nil {
					return invalidRequest(b.provider, "response_format.json_schema.schema", err.Error())
				}
			}
		}
	default:
		return unsupported(b.provider, "response_format", fmt.Sprintf("response_format type %q is not supported by this provider.", f.Type))
	}
	return nil
}

// thinking maps reasoning_effort and the OpenRouter-style reasoning object
// ({effort, max_tokens, exclude, enabled}) to thinkingConfig. Thoughts are
// requested (includeThoughts) whenever reasoning is asked for, unless
// excluded; "none" or enabled:false turn thinking off (budget 0). Nothing is
// sent without a reasoning parameter: models that cannot think reject any
// thinkingConfig.
func (b *requestBuilder) thinking() (*ThinkingConfig, error) {
	r := b.req
	var ro struct {
		Effort    string `json:"effort"`
		MaxTokens *int   `json:"max_tokens"`
		Exclude   *bool  `json:"exclude"`
		Enabled   *bool  `json:"enabled"`
	}
	if raw := bytes.TrimSpace(r.Reasoning); len(raw) > 0 {
		if raw[0] != '{' || json.Unmarshal(raw, &ro) != nil {
			return nil, invalidRequest(b.provider, "reasoning", "reasoning must be an object.")
		}
	}
	effort, param := r.ReasoningEffort, "reasoning_effort"
	if effort == "" {
		effort, param = ro.Effort, "reasoning.effort"
	}
	var budget *int
	switch {
	case ro.MaxTokens != nil:
		if *ro.MaxTokens < 0 {
			return nil, invalidRequest(b.provider, "reasoning.max_tokens", "reasoning.max_tokens must not be negative.")
		}
		budget = ro.MaxTokens
	case effort == "none" || (ro.Enabled != nil && !*ro.Enabled):
		zero := 0
		return &ThinkingConfig{ThinkingBudget: &zero}, nil
	case effort != "":
		n, ok := effortBudgets[effort]
		if !ok {
			return nil, unsupported(b.provider, param, fmt.Sprintf("%s %q is not supported by this provider.", param, effort))
		}
		budget = &n
	case ro.Enabled == nil:
		// No budget asked for: {"exclude": true} alone is the default.
		if ro.Exclude == nil || *ro.Exclude {
			return nil, nil
		}
	}
	tc := &ThinkingConfig{ThinkingBudget: budget, IncludeThoughts: ro.Exclude == nil || !*ro.Exclude}
	if budget != nil && *budget == 0 {
		tc.IncludeThoughts = false // nothing to include
	}
	return tc, nil
}
