package google

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/llmgw/gateway/app/schema"
)

// ToChat translates a native Gemini request into the neutral format, for the
// model the gateway resolved from the URL. It never mutates r. Stream and
// StreamOptions are left for the caller to set.
//
// What cannot be honoured is refused with a *schema.FieldError naming the
// Gemini field (cachedContent, server-side tools, logprobs, non-text output,
// code execution parts, file URIs that are not images). safetySettings are
// accepted and ignored: they can only be enforced by Gemini itself, and
// clients commonly send them to relax, not tighten, filtering.
func (r *GenerateRequest) ToChat(model string) (*schema.ChatRequest, error) {
	if r.CachedContent != "" {
		return nil, unsupportedField("cachedContent", "cached contents")
	}
	out := &schema.ChatRequest{Model: model}
	if err := r.toMessages(out); err != nil {
		return nil, err
	}
	if err := r.toTools(out); err != nil {
		return nil, err
	}
	if err := r.toGeneration(out); err != nil {
		return nil, err
	}
	return out, nil
}

func unsupportedField(path, what string) error {
	return &schema.FieldError{Param: path, Msg: fmt.Sprintf("Invalid value at '%s': %s are not supported by this gateway.", path, what)}
}

func invalidField(path, msg string) error {
	return &schema.FieldError{Param: path, Msg: fmt.Sprintf("Invalid value at '%s': %s", path, msg)}
}

// pendingCall is a functionCall of the latest model turn, waiting for its
// functionResponse.
type pendingCall struct {
	id, name string
	answered bool
}

// toMessages translates systemInstruction and contents. A user turn becomes
// the tool messages of its functionResponse parts, then a user message with
// its other parts. A model turn becomes one assistant message; its thought
// parts are dropped (they are Gemini's private reasoning, which no upstream
// reads back).
func (r *GenerateRequest) toMessages(out *schema.ChatRequest) error {
	if si := r.SystemInstruction; si != nil {
		var texts []string
		for j, p := range si.Parts {
			if p.Text == "" {
				if isEmptyPart(p) {
					continue
				}
				return unsupportedField(fmt.Sprintf("systemInstruction.parts[%d]", j), "non-text system instruction parts")
			}
			texts = append(texts, p.Text)
		}
		if len(texts) > 0 {
			out.Messages = append(out.Messages, schema.Message{Role: "system", Content: schema.TextContent(strings.Join(texts, "\n"))})
		}
	}
	if len(r.Contents) == 0 {
		return invalidField("contents", "contents is not specified")
	}
	var pending []pendingCall
	for i, c := range r.Contents {
		path := fmt.Sprintf("contents[%d]", i)
		switch c.Role {
		case "", "user", "function": // "function" is how v1beta once sent results
			if err := userTurn(c.Parts, path, pending, out); err != nil {
				return err
			}
		case "model":
			msg, calls, err := modelTurn(c.Parts, path, i)
			if err != nil {
				return err
			}
			pending = calls
			if !msg.Content.IsNull() || len(msg.ToolCalls) > 0 {
				out.Messages = append(out.Messages, msg)
			}
		default:
			return invalidField(path+".role", fmt.Sprintf("unknown role %q (expected user or model)", c.Role))
		}
	}
	return nil
}

func isEmptyPart(p Part) bool {
	return p.Text == "" && p.InlineData == nil && p.FileData == nil && p.FunctionCall == nil &&
		p.FunctionResponse == nil && isNull(p.ExecutableCode) && isNull(p.CodeExecutionResult)
}

func userTurn(parts []Part, path string, pending []pendingCall, out *schema.ChatRequest) error {
	var content []schema.ContentPart
	for j, p := range parts {
		pp := fmt.Sprintf("%s.parts[%d]", path, j)
		switch {
		case p.FunctionResponse != nil:
			fr := p.FunctionResponse
			id, ok := matchCall(pending, fr)
			if !ok {
				return invalidField(pp+".functionResponse", fmt.Sprintf("no functionCall of %q in the previous model turn answers to this response", fr.Name))
			}
			out.Messages = append(out.Messages, schema.Message{
				Role: "tool", ToolCallID: id, Content: schema.TextContent(toolResultText(fr.Response)),
			})
		case p.Thought:
			// Thoughts have no place in a user turn; nothing to send.
		case p.Text != "":
			content = append(content, schema.ContentPart{Type: "text", Text: p.Text})
		case p.InlineData != nil:
			cp, err := inlinePart(p.InlineData, pp+".inlineData")
			if err != nil {
				return err
			}
			content = append(content, cp)
		case p.FileData != nil:
			fd := p.FileData
			if !strings.HasPrefix(fd.MimeType, "image/") && fd.MimeType != "" {
				return unsupportedField(pp+".fileData", "file URIs other than images")
			}
			if fd.FileURI == "" {
				return invalidField(pp+".fileData.fileUri", "fileUri is required")
			}
			content = append(content, schema.ContentPart{Type: "image_url", ImageURL: &schema.ImageURL{URL: fd.FileURI}})
		case p.FunctionCall != nil:
			return invalidField(pp+".functionCall", "a functionCall must be in a model turn")
		case !isNull(p.ExecutableCode) || !isNull(p.CodeExecutionResult):
			return unsupportedField(pp, "code execution parts")
		}
	}
	switch {
	case len(content) == 0:
	case len(content) == 1 && content[0].Type == "text":
		// A plain string is what every OpenAI-compatible server accepts.
		out.Messages = append(out.Messages, schema.Message{Role: "user", Content: schema.TextContent(content[0].Text)})
	default:
		out.Messages = append(out.Messages, schema.Message{Role: "user", Content: schema.Content{Parts: content}})
	}
	return nil
}

// matchCall finds the tool_call id a functionResponse answers: by its id when
// the client echoed one, else the first unanswered call of the same name
// (Gemini matches results to calls by name and order).
func matchCall(pending []pendingCall, fr *FunctionResponse) (string, bool) {
	if fr.ID != "" {
		for i := range pending {
			if pending[i].id == fr.ID && !pending[i].answered {
				pending[i].answered = true
				return pending[i].id, true
			}
		}
	}
	for i := range pending {
		if pending[i].name == fr.Name && !pending[i].answered {
			pending[i].answered = true
			return pending[i].id, true
		}
	}
	return "", false
}

// toolResultText renders a functionResponse.response as tool message text,
// undoing the adapter's wrapping: {"content":{"result":"t"}} and
// {"content":"t"} give t, {"content":X} gives X as JSON, and any other
// response object is passed as JSON.
func toolResultText(resp json.RawMessage) string {
	if isNull(resp) {
		return ""
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(resp, &top) == nil && len(top) == 1 {
		if c, ok := top["content"]; ok {
			if s, isStr := rawString(c); isStr {
				return s
			}
			var inner map[string]json.RawMessage
			if json.Unmarshal(c, &inner) == nil && len(inner) == 1 {
				if s, isStr := rawString(inner["result"]); isStr {
					return s
				}
			}
			return string(compactJSON(c))
		}
	}
	return string(compactJSON(resp))
}

// inlinePart turns inline media into the matching OpenAI part: images as a
// data: URI, WAV and MP3 audio as input_audio, anything else (PDF, other
// audio, video) as an inline file for upstreams that take one.
func inlinePart(b *Blob, path string) (schema.ContentPart, error) {
	if b.MimeType == "" {
		return schema.ContentPart{}, invalidField(path+".mimeType", "mimeType is required")
	}
	if b.Data == "" {
		return schema.ContentPart{}, invalidField(path+".data", "data is required")
	}
	mt := strings.ToLower(b.MimeType)
	uri := "data:" + b.MimeType + ";base64," + b.Data
	switch {
	case strings.HasPrefix(mt, "image/"):
		return schema.ContentPart{Type: "image_url", ImageURL: &schema.ImageURL{URL: uri}}, nil
	case strings.HasPrefix(mt, "audio/"):
		format := strings.TrimPrefix(mt, "audio/")
		switch format {
		case "x-wav", "wave":
			format = "wav"
		case "mpeg", "mpeg3", "x-mp3":
			format = "mp3"
		}
		raw, _ := json.Marshal(map[string]string{"data": b.Data, "format": format})
		return schema.ContentPart{Type: "input_audio", InputAudio: raw}, nil
	}
	raw, _ := json.Marshal(map[string]string{"file_data": uri})
	return schema.ContentPart{Type: "file", File: raw}, nil
}

// modelTurn translates a model turn. Calls without an id get
// call_<turn>_<n>, unique in the conversation and stable across requests.
func modelTurn(parts []Part, path string, turn int) (schema.Message, []pendingCall, error) {
	msg := schema.Message{Role: "assistant"}
	var text strings.Builder
	var calls []pendingCall
	for j, p := range parts {
		pp := fmt.Sprintf("%s.parts[%d]", path, j)
		switch {
		case p.FunctionCall != nil:
			fc := p.FunctionCall
			if fc.Name == "" {
				return msg, nil, invalidField(pp+".functionCall.name", "name is required")
			}
			args := bytes.TrimSpace(fc.Args)
			if isNull(args) {
				args = []byte("{}")
			} else if args[0] != '{' {
				return msg, nil, invalidField(pp+".functionCall.args", "args must be an object")
			}
			id := fc.ID
			if id == "" {
				id = fmt.Sprintf("call_%d_%d", turn, len(calls))
			}
			calls = append(calls, pendingCall{id: id, name: fc.Name})
			msg.ToolCalls = append(msg.ToolCalls, schema.ToolCall{
				ID: id, Type: "function",
				Function: schema.ToolCallFunction{Name: fc.Name, Arguments: string(compactJSON(args))},
			})
		case p.Thought:
		case p.Text != "":
			text.WriteString(p.Text)
		case p.FunctionResponse != nil:
			return msg, nil, invalidField(pp+".functionResponse", "a functionResponse must be in a user turn")
		case p.InlineData != nil || p.FileData != nil:
			return msg, nil, unsupportedField(pp, "media parts in model turns")
		case !isNull(p.ExecutableCode) || !isNull(p.CodeExecutionResult):
			return msg, nil, unsupportedField(pp, "code execution parts")
		}
	}
	if text.Len() > 0 {
		msg.Content = schema.TextContent(text.String())
	}
	return msg, calls, nil
}

// toTools translates function declarations and the function calling config.
func (r *GenerateRequest) toTools(out *schema.ChatRequest) error {
	for i, t := range r.Tools {
		path := fmt.Sprintf("tools[%d]", i)
		for _, st := range []struct {
			name string
			v    json.RawMessage
		}{
			{"googleSearch", t.GoogleSearch}, {"googleSearchRetrieval", t.GoogleSearchRetrieval},
			{"codeExecution", t.CodeExecution}, {"urlContext", t.URLContext}, {"googleMaps", t.GoogleMaps},
			{"fileSearch", t.FileSearch}, {"computerUse", t.ComputerUse}, {"retrieval", t.Retrieval},
			{"enterpriseWebSearch", t.EnterpriseWebSearch}, {"mcpServers", t.MCPServers},
		} {
			if !isNull(st.v) {
				return unsupportedField(path+"."+st.name, "server-side tools")
			}
		}
		for j, d := range t.FunctionDeclarations {
			dp := fmt.Sprintf("%s.functionDeclarations[%d]", path, j)
			if d.Name == "" {
				return invalidField(dp+".name", "name is required")
			}
			fn := schema.ToolFunction{Name: d.Name, Description: d.Description}
			switch {
			case !isNull(d.ParametersJSONSchema):
				fn.Parameters = compactJSON(d.ParametersJSONSchema)
			case !isNull(d.Parameters):
				s, err := fromGeminiSchema(d.Parameters)
				if err != nil {
					return invalidField(dp+".parameters", err.Error())
				}
				if fn.Parameters, err = json.Marshal(s); err != nil {
					return invalidField(dp+".parameters", err.Error())
				}
			}
			out.Tools = append(out.Tools, schema.Tool{Type: "function", Function: fn})
		}
	}
	if r.ToolConfig == nil || r.ToolConfig.FunctionCallingConfig == nil || len(out.Tools) == 0 {
		return nil
	}
	fc := r.ToolConfig.FunctionCallingConfig
	path := "toolConfig.functionCallingConfig"
	var choice any
	switch strings.ToUpper(fc.Mode) {
	case "", "MODE_UNSPECIFIED", "AUTO", "VALIDATED":
		// VALIDATED is AUTO with constrained decoding of the calls; the
		// nearest neutral choice is auto.
		choice = "auto"
	case "NONE":
		choice = "none"
	case "ANY":
		choice = "required"
		allowed := map[string]bool{}
		for _, n := range fc.AllowedFunctionNames {
			allowed[n] = true
		}
		var kept []schema.Tool
		for _, t := range out.Tools {
			if allowed[t.Function.Name] {
				kept = append(kept, t)
				delete(allowed, t.Function.Name)
			}
		}
		if len(allowed) > 0 {
			return invalidField(path+".allowedFunctionNames", "names a function that is not declared")
		}
		switch names := fc.AllowedFunctionNames; {
		case len(names) == 1:
			choice = map[string]any{"type": "function", "function": map[string]string{"name": names[0]}}
		case len(names) > 1:
			// OpenAI cannot name several: only those functions are offered.
			out.Tools = kept
		}
	default:
		return invalidField(path+".mode", fmt.Sprintf("unknown mode %q", fc.Mode))
	}
	out.ToolChoice, _ = json.Marshal(choice)
	return nil
}

// toGeneration translates generationConfig. topK, which OpenAI lacks, goes
// into Extra["top_k"] (compatible servers take it; the Gemini adapter reads
// it back). maxOutputTokens becomes max_completion_tokens, which OpenAI's
// reasoning models require.
func (r *GenerateRequest) toGeneration(out *schema.ChatRequest) error {
	gc := r.GenerationConfig
	if gc == nil {
		return nil
	}
	const path = "generationConfig"
	if gc.ResponseLogprobs != nil && *gc.ResponseLogprobs {
		return unsupportedField(path+".responseLogprobs", "log probabilities")
	}
	if gc.Logprobs != nil {
		return unsupportedField(path+".logprobs", "log probabilities")
	}
	for i, m := range gc.ResponseModalities {
		if !strings.EqualFold(m, "TEXT") {
			return unsupportedField(fmt.Sprintf("%s.responseModalities[%d]", path, i), "output modalities other than TEXT")
		}
	}
	out.Temperature, out.TopP, out.N = gc.Temperature, gc.TopP, gc.CandidateCount
	out.MaxCompletionTokens = gc.MaxOutputTokens
	out.Seed, out.PresencePenalty, out.FrequencyPenalty = gc.Seed, gc.PresencePenalty, gc.FrequencyPenalty
	if gc.TopK != nil {
		b, _ := json.Marshal(*gc.TopK)
		out.Extra = map[string]json.RawMessage{"top_k": b}
	}
	if len(gc.StopSequences) > 0 {
		out.Stop, _ = json.Marshal(gc.StopSequences)
	}
	if err := gc.toResponseFormat(out); err != nil {
		return err
	}
	return gc.toReasoning(out)
}

// toResponseFormat: JSON mode is json_object, JSON mode with a schema is
// json_schema (named "response", not strict: Gemini schemas rarely meet
// OpenAI's strict rules).
func (gc *GenerationConfig) toResponseFormat(out *schema.ChatRequest) error {
	const path = "generationConfig"
	var schemaJSON json.RawMessage
	switch {
	case !isNull(gc.ResponseJSONSchema):
		schemaJSON = compactJSON(gc.ResponseJSONSchema)
	case !isNull(gc.ResponseSchema):
		s, err := fromGeminiSchema(gc.ResponseSchema)
		if err != nil {
			return invalidField(path+".responseSchema", err.Error())
		}
		schemaJSON, _ = json.Marshal(s)
	}
	switch mt := strings.ToLower(gc.ResponseMimeType); {
	case schemaJSON != nil:
		if mt != "" && mt != "application/json" {
			return unsupportedField(path+".responseMimeType", fmt.Sprintf("response schemas with %q", gc.ResponseMimeType))
		}
		out.ResponseFormat, _ = json.Marshal(map[string]any{
			"type":        "json_schema",
			"json_schema": map[string]any{"name": "response", "schema": schemaJSON},
		})
	case mt == "application/json":
		out.ResponseFormat = json.RawMessage(`{"type":"json_object"}`)
	case mt == "" || mt == "text/plain":
	default:
		return unsupportedField(path+".responseMimeType", fmt.Sprintf("responses of type %q", gc.ResponseMimeType))
	}
	return nil
}

// toReasoning maps thinkingConfig: thinkingLevel -> reasoning_effort (lower
// case); thinkingBudget N >= 0 -> reasoning.max_tokens N (0 turns thinking
// off), -1 (dynamic) -> the model's default; includeThoughts false (Gemini's
// default) -> reasoning.exclude, so that no thought text comes back unasked.
func (gc *GenerationConfig) toReasoning(out *schema.ChatRequest) error {
	tc := gc.ThinkingConfig
	if tc == nil {
		return nil
	}
	const path = "generationConfig.thinkingConfig"
	switch lvl := strings.ToUpper(tc.ThinkingLevel); lvl {
	case "", "THINKING_LEVEL_UNSPECIFIED":
	case "MINIMAL", "LOW", "MEDIUM", "HIGH":
		out.ReasoningEffort = strings.ToLower(lvl)
	default:
		return invalidField(path+".thinkingLevel", fmt.Sprintf("unknown thinking level %q", tc.ThinkingLevel))
	}
	reasoning := map[string]any{}
	if b := tc.ThinkingBudget; b != nil {
		switch {
		case *b >= 0:
			reasoning["max_tokens"] = *b
		case *b == -1:
			if tc.IncludeThoughts {
				reasoning["enabled"] = true
			}
		default:
			return invalidField(path+".thinkingBudget", "must be -1 (dynamic) or a number of tokens")
		}
	} else if tc.IncludeThoughts && out.ReasoningEffort == "" {
		reasoning["enabled"] = true
	}
	if !tc.IncludeThoughts {
		reasoning["exclude"] = true
	}
	if len(reasoning) > 0 {
		out.Reasoning, _ = json.Marshal(reasoning)
	}
	return nil
}
