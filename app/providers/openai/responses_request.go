package openai

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/llmgw/gateway/app/schema"
)

// responsesStateless lists the request fields that need responses or prompts
// stored on the server. The gateway stores nothing, so it refuses them rather
// than answering without the context the client expects.
var responsesStateless = map[string]string{
	"conversation": "Conversations are not supported by this gateway: it does not store conversations. Send the whole conversation in 'input' instead.",
	"prompt":       "Stored prompt templates are not supported by this gateway. Send the prompt in 'instructions' and 'input' instead.",
}

// responsesForwarded are the Responses fields that have the same name and
// meaning in Chat Completions: they are forwarded in the neutral request's
// Extra (and reach OpenAI-compatible upstreams as sent).
var responsesForwarded = []string{"prompt_cache_key", "safety_identifier", "service_tier"}

// ToChat translates the request into the neutral (Chat Completions) schema.
// Every error is a *schema.FieldError naming the Responses field. The
// translation:
//
//   - instructions becomes the first message, role system;
//   - input as a string becomes one user message; input items become
//     messages in order: message items keep their role (user, assistant,
//     system, developer); input_text and output_text parts become text,
//     input_image parts image_url parts (detail kept), input_file parts with
//     file_data file parts; a user message whose only part is text becomes a
//     string, and the text parts of system, developer and assistant messages
//     are joined into one string; an assistant refusal part becomes the
//     message's refusal;
//   - function_call items become tool_calls of an assistant message: they are
//     added to the message just before when it is an assistant message (so
//     consecutive calls, and text followed by calls, make one message, as in
//     Chat Completions); function_call_output items become role "tool"
//     messages, their text parts joined; images and files in an output cannot
//     go in a tool message, so they follow in a user message after the run of
//     tool messages;
//   - reasoning items are dropped: their encrypted content is only meaningful
//     to OpenAI, and the neutral schema has no place for it;
//   - tools (function tools only) -> function tools; strict is forwarded
//     only when set (OpenAI's Responses API normalizes a schema to strict
//     mode when strict is absent; upstreams reached through Chat
//     Completions are non-strict by default, and the gateway does not
//     rewrite schemas);
//     tool_choice "auto" | "none" | "required" as is, {type:function,name} ->
//     {type:function,function:{name}}, {type:allowed_tools,mode,tools} -> the
//     tools list restricted to those named and tool_choice = mode (which every
//     upstream understands);
//   - max_output_tokens -> max_completion_tokens; reasoning.effort ->
//     reasoning_effort; text.format json_schema | json_object ->
//     response_format (type text -> nothing); text.verbosity -> Extra
//     "verbosity"; temperature, top_p, parallel_tool_calls, user as is;
//   - stream -> stream with stream_options.include_usage (the final
//     response.completed event carries usage);
//   - prompt_cache_key, safety_identifier and service_tier -> Extra, forwarded.
//
// Refused, because the gateway stores neither responses nor files nor
// prompts and runs no built-in tools: previous_response_id, conversation,
// prompt, background, item_reference items, file_id images and files,
// file_url files, and any tool, tool_choice or item type other than
// function ones (web_search, file_search, computer_use, mcp, custom, ...).
//
// Ignored: store (the response is never stored; it is reported as
// store:false), metadata (echoed back by ResponsesResponse.EchoRequest, not
// forwarded: OpenAI's chat endpoint accepts it only with store), include,
// truncation, reasoning.summary, max_tool_calls, top_logprobs,
// stream_options, and any unknown field.
func (r *ResponsesRequest) ToChat() (*schema.ChatRequest, error) {
	if r.PreviousResponseID != "" {
		return nil, fieldErrorf("previous_response_id", "'previous_response_id' is not supported by this gateway: it does not store responses. Send the whole conversation in 'input' instead (the output items of a response can be sent back as input items).")
	}
	for _, k := range []string{"conversation", "prompt"} {
		if v, ok := r.Extra[k]; ok && !isNull(v) {
			return nil, fieldErrorf(k, "%s", responsesStateless[k])
		}
	}
	if v, ok := r.Extra["background"]; ok && string(v) == "true" {
		return nil, fieldErrorf("background", "Background responses are not supported by this gateway: it does not store responses.")
	}

	out := &schema.ChatRequest{Model: r.Model, Stream: r.Stream, User: r.User}
	if r.Stream {
		out.StreamOptions = &schema.StreamOptions{IncludeUsage: true}
	}
	if r.MaxOutputTokens != nil {
		n := *r.MaxOutputTokens
		out.MaxCompletionTokens = &n
	}
	if r.Temperature != nil {
		v := *r.Temperature
		out.Temperature = &v
	}
	if r.TopP != nil {
		v := *r.TopP
		out.TopP = &v
	}
	if r.ParallelToolCalls != nil {
		v := *r.ParallelToolCalls
		out.ParallelToolCalls = &v
	}
	if r.Reasoning != nil {
		out.ReasoningEffort = r.Reasoning.Effort
	}
	for _, k := range responsesForwarded {
		if v, ok := r.Extra[k]; ok && !isNull(v) {
			setExtra(out, k, v)
		}
	}
	if r.Text != nil {
		if r.Text.Verbosity != "" {
			b, _ := json.Marshal(r.Text.Verbosity)
			setExtra(out, "verbosity", b)
		}
		out.ResponseFormat = responseFormat(r.Text.Format)
	}

	if r.Instructions != nil && *r.Instructions != "" {
		out.Messages = append(out.Messages, schema.Message{Role: "system", Content: schema.TextContent(*r.Instructions)})
	}
	system := len(out.Messages)
	msgs, err := r.Input.chatMessages()
	if err != nil {
		return nil, err
	}
	out.Messages = append(out.Messages, msgs...)
	if len(out.Messages) == system {
		return nil, fieldErrorf("input", "'input' must contain at least one message.")
	}

	if out.Tools, err = chatToolsOf(r.Tools); err != nil {
		return nil, err
	}
	if out.ToolChoice, out.Tools, err = chatToolChoice(r.ToolChoice, out.Tools); err != nil {
		return nil, err
	}
	return out, nil
}

func setExtra(r *schema.ChatRequest, k string, v json.RawMessage) {
	if r.Extra == nil {
		r.Extra = map[string]json.RawMessage{}
	}
	r.Extra[k] = v
}

// responseFormat maps text.format to response_format (nil: plain text).
func responseFormat(f *ResponsesTextFormat) json.RawMessage {
	if f == nil {
		return nil
	}
	switch f.Type {
	case "json_object":
		return json.RawMessage(`{"type":"json_object"}`)
	case "json_schema":
		name := f.Name
		if name == "" {
			name = "response"
		}
		b, _ := json.Marshal(map[string]any{"type": "json_schema", "json_schema": struct {
			Name        string          `json:"name"`
			Description string          `json:"description,omitempty"`
			Schema      json.RawMessage `json:"schema"`
			Strict      *bool           `json:"strict,omitempty"`
		}{name, f.Description, f.Schema, f.Strict}})
		return b
	}
	return nil
}

// chatMessages translates the input (without instructions).
func (in *ResponsesInput) chatMessages() ([]schema.Message, error) {
	if in.Text != nil {
		return []schema.Message{{Role: "user", Content: schema.TextContent(*in.Text)}}, nil
	}
	var out []schema.Message
	// pending holds the images and files of a run of function_call_output
	// items: they follow the run in one user message.
	var pending []schema.ContentPart
	flush := func() {
		if len(pending) > 0 {
			out = append(out, schema.Message{Role: "user", Content: schema.Content{Parts: pending}})
			pending = nil
		}
	}
	for i := range in.Items {
		it := &in.Items[i]
		path := fmt.Sprintf("input[%d]", i)
		switch it.Type {
		case "message":
			flush()
			m, err := chatMessageOf(path, it)
			if err != nil {
				return nil, err
			}
			out = append(out, m)
		case "function_call":
			flush()
			args := it.Arguments
			if strings.TrimSpace(args) == "" {
				args = "{}"
			}
			tc := schema.ToolCall{ID: it.CallID, Type: "function", Function: schema.ToolCallFunction{Name: it.Name, Arguments: args}}
			if n := len(out); n > 0 && out[n-1].Role == "assistant" {
				out[n-1].ToolCalls = append(out[n-1].ToolCalls, tc)
				if out[n-1].Content.Text != nil && *out[n-1].Content.Text == "" {
					out[n-1].Content = schema.Content{} // content null beside tool calls
				}
			} else {
				out = append(out, schema.Message{Role: "assistant", ToolCalls: []schema.ToolCall{tc}})
			}
		case "function_call_output":
			m, extra, err := toolMessageOf(path, it)
			if err != nil {
				return nil, err
			}
			out = append(out, m)
			pending = append(pending, extra...)
		case "reasoning":
			// Dropped: see ToChat.
		case "item_reference":
			return nil, fieldErrorf(path+".type", "Item references are not supported by this gateway: it does not store items. Send the item itself instead.")
		default:
			return nil, fieldErrorf(path+".type", "Input items of type '%s' are not supported by this gateway: only message, function_call, function_call_output and reasoning items are.", it.Type)
		}
	}
	flush()
	return out, nil
}

func chatMessageOf(path string, it *ResponsesItem) (schema.Message, error) {
	m := schema.Message{Role: it.Role}
	if it.Content.Text != nil {
		m.Content = schema.TextContent(*it.Content.Text)
		return m, nil
	}
	var parts []schema.ContentPart
	var refusal []string
	for j := range it.Content.Parts {
		pp := fmt.Sprintf("%s.content[%d]", path, j)
		p := &it.Content.Parts[j]
		if p.Type == "refusal" {
			if it.Role != "assistant" {
				return m, fieldErrorf(pp+".type", "Content parts of type 'refusal' are only valid in assistant messages.")
			}
			refusal = append(refusal, p.Text)
			continue
		}
		cp, err := chatPartOf(pp, p)
		if err != nil {
			return m, err
		}
		if cp.Type != "text" && it.Role != "user" {
			return m, fieldErrorf(pp+".type", "Content parts of type '%s' are only supported in user messages by this gateway.", p.Type)
		}
		parts = append(parts, cp)
	}
	if len(refusal) > 0 {
		s := strings.Join(refusal, "")
		m.Refusal = &s
	}
	switch {
	case it.Role == "user" && len(parts) == 1 && parts[0].Type == "text":
		m.Content = schema.TextContent(parts[0].Text)
	case it.Role == "user" && len(parts) > 0:
		m.Content = schema.Content{Parts: parts}
	case it.Role == "user":
		m.Content = schema.TextContent("")
	default:
		texts := make([]string, len(parts))
		for i, p := range parts {
			texts[i] = p.Text
		}
		sep := "\n\n"
		if it.Role == "assistant" {
			sep = "" // the text parts of one answer are contiguous
		}
		if len(texts) > 0 || m.Refusal == nil {
			m.Content = schema.TextContent(strings.Join(texts, sep))
		}
	}
	return m, nil
}

// chatPartOf translates a content part of a message or a function call output.
func chatPartOf(path string, p *ResponsesContentPart) (schema.ContentPart, error) {
	switch p.Type {
	case "input_text", "output_text", "text":
		return schema.ContentPart{Type: "text", Text: p.Text}, nil
	case "input_image":
		if p.ImageURL == "" {
			return schema.ContentPart{}, fieldErrorf(path+".file_id", "Images given by file_id are not supported by this gateway: it does not store files. Send the image as a URL or a data URL in 'image_url' instead.")
		}
		return schema.ContentPart{Type: "image_url", ImageURL: &schema.ImageURL{URL: p.ImageURL, Detail: p.Detail}}, nil
	case "input_file":
		if p.FileData == "" {
			param := path + ".file_id"
			if p.FileURL != "" {
				param = path + ".file_url"
			}
			return schema.ContentPart{}, fieldErrorf(param, "Files given by file_id or file_url are not supported by this gateway. Send the file's content in 'file_data' instead.")
		}
		f, _ := json.Marshal(struct {
			Filename string `json:"filename,omitempty"`
			FileData string `json:"file_data"`
		}{p.Filename, p.FileData})
		return schema.ContentPart{Type: "file", File: f}, nil
	}
	return schema.ContentPart{}, fieldErrorf(path+".type", "Content parts of type '%s' are not supported by this gateway.", p.Type)
}

// toolMessageOf translates a function_call_output; its images and files are
// returned apart.
func toolMessageOf(path string, it *ResponsesItem) (schema.Message, []schema.ContentPart, error) {
	m := schema.Message{Role: "tool", ToolCallID: it.CallID}
	if it.Output.Text != nil {
		m.Content = schema.TextContent(*it.Output.Text)
		return m, nil, nil
	}
	var texts []string
	var media []schema.ContentPart
	for j := range it.Output.Parts {
		cp, err := chatPartOf(fmt.Sprintf("%s.output[%d]", path, j), &it.Output.Parts[j])
		if err != nil {
			return m, nil, err
		}
		if cp.Type == "text" {
			texts = append(texts, cp.Text)
		} else {
			media = append(media, cp)
		}
	}
	if len(texts) == 0 && len(media) > 0 {
		texts = []string{"(the tool returned the content that follows in the next message)"}
	}
	m.Content = schema.TextContent(strings.Join(texts, "\n"))
	return m, media, nil
}

// chatToolsOf translates function tools; any other tool is one that OpenAI
// runs on its side, which the gateway cannot.
func chatToolsOf(tools []ResponsesTool) ([]schema.Tool, error) {
	var out []schema.Tool
	for i, t := range tools {
		if t.Type != "function" {
			return nil, fieldErrorf(fmt.Sprintf("tools[%d].type", i), "Tools of type '%s' are not supported by this gateway: only function tools are.", t.Type)
		}
		out = append(out, schema.Tool{Type: "function", Function: schema.ToolFunction{
			Name: t.Name, Description: t.Description, Parameters: t.Parameters, Strict: t.Strict,
		}})
	}
	return out, nil
}

// chatToolChoice maps tool_choice; allowed_tools restricts the tools.
func chatToolChoice(raw json.RawMessage, tools []schema.Tool) (json.RawMessage, []schema.Tool, error) {
	if isNull(raw) {
		return nil, tools, nil
	}
	if firstByte(raw) == '"' {
		return raw, tools, nil // checked by DecodeResponsesRequest
	}
	var tc struct {
		Type  string `json:"type"`
		Name  string `json:"name"`
		Mode  string `json:"mode"`
		Tools []struct {
			Type string `json:"type"`
			Name string `json:"name"`
		} `json:"tools"`
	}
	if err := json.Unmarshal(raw, &tc); err != nil {
		return nil, nil, fieldErrorf("tool_choice", "Invalid 'tool_choice': %s", err.Error())
	}
	switch tc.Type {
	case "function":
		if tc.Name == "" {
			return nil, nil, missing("tool_choice.name")
		}
		b, _ := json.Marshal(map[string]any{"type": "function", "function": map[string]string{"name": tc.Name}})
		return b, tools, nil
	case "allowed_tools":
		if tc.Mode != "auto" && tc.Mode != "required" {
			return nil, nil, invalidValue("tool_choice.mode", tc.Mode, []string{"auto", "required"})
		}
		allowed := map[string]bool{}
		for i, t := range tc.Tools {
			if t.Type != "function" {
				return nil, nil, fieldErrorf(fmt.Sprintf("tool_choice.tools[%d].type", i), "Tools of type '%s' are not supported by this gateway: only function tools are.", t.Type)
			}
			allowed[t.Name] = true
		}
		var kept []schema.Tool
		for _, t := range tools {
			if allowed[t.Function.Name] {
				kept = append(kept, t)
			}
		}
		if len(kept) == 0 {
			// Nothing may be called: the model answers in text.
			return json.RawMessage(`"none"`), tools, nil
		}
		b, _ := json.Marshal(tc.Mode)
		return b, kept, nil
	}
	return nil, nil, fieldErrorf("tool_choice.type", "tool_choice of type '%s' is not supported by this gateway: only 'function' and 'allowed_tools' are.", tc.Type)
}
