package anthropic

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// reasoningObject is the gateway's (OpenRouter-style) reasoning parameter.
type reasoningObject struct {
	Effort    *string `json:"effort"`
	MaxTokens *int    `json:"max_tokens"`
	Enabled   *bool   `json:"enabled"`
	Exclude   *bool   `json:"exclude"`
}

// thinkingBudget decides the thinking budget (0: thinking off). Precedence:
// reasoning.max_tokens (clamped to 1024..128000), then reasoning.effort, then
// reasoning_effort, then reasoning.enabled (medium). "none" and
// reasoning.enabled=false turn thinking off.
func (tr *translator) thinkingBudget() (int, error) {
	var r reasoningObject
	if !isNull(tr.req.Reasoning) {
		if json.Unmarshal(tr.req.Reasoning, &r) != nil {
			return 0, tr.unsupported("reasoning", "reasoning must be an object.")
		}
	}
	tr.plan.excludeReasoning = r.Exclude != nil && *r.Exclude
	if r.Enabled != nil && !*r.Enabled {
		return 0, nil
	}
	if r.MaxTokens != nil {
		if *r.MaxTokens <= 0 {
			return 0, nil
		}
		return min(max(*r.MaxTokens, minThinkingBudget), maxThinkingBudget), nil
	}
	effort, param := tr.req.ReasoningEffort, "reasoning_effort"
	if r.Effort != nil {
		effort, param = *r.Effort, "reasoning.effort"
	}
	if effort == "" {
		if r.Enabled != nil && *r.Enabled {
			return effortBudgets["medium"], nil
		}
		return 0, nil
	}
	if effort == "none" {
		return 0, nil
	}
	b, ok := effortBudgets[effort]
	if !ok {
		return 0, tr.unsupported(param, "Unsupported reasoning effort %q (none, minimal, low, medium, high and xhigh are).", effort)
	}
	return b, nil
}

func (tr *translator) tools(thinking bool) ([]Tool, *ToolChoice, error) {
	req := tr.req
	var tools []Tool
	for i, t := range req.Tools {
		if t.Type != "" && t.Type != "function" {
			return nil, nil, tr.unsupported(fmt.Sprintf("tools[%d].type", i), "Tool type %q is not supported by Anthropic models.", t.Type)
		}
		schemaJSON, err := inputSchema(t.Function.Parameters)
		if err != nil {
			return nil, nil, tr.unsupported(fmt.Sprintf("tools[%d].function.parameters", i), "Tool parameters must be a JSON Schema object.")
		}
		// strict is dropped: Anthropic's strict tool use is limited to some
		// models, and the schema is still given to the model.
		tools = append(tools, Tool{Name: t.Function.Name, Description: t.Function.Description, InputSchema: schemaJSON})
	}
	if len(tools) == 0 {
		// Anthropic rejects tool_choice without tools; without tools there
		// is nothing to choose anyway.
		return nil, nil, nil
	}
	var choice *ToolChoice
	if raw := req.ToolChoice; !isNull(raw) {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			switch s {
			case "auto":
				choice = &ToolChoice{Type: "auto"}
			case "required":
				choice = &ToolChoice{Type: "any"}
			case "none":
				choice = &ToolChoice{Type: "none"}
			default:
				return nil, nil, tr.unsupported("tool_choice", "Unsupported tool_choice %q.", s)
			}
		} else {
			var o struct {
				Type     string `json:"type"`
				Function struct {
					Name string `json:"name"`
				} `json:"function"`
			}
			if json.Unmarshal(raw, &o) != nil || o.Type != "function" || o.Function.Name == "" {
				return nil, nil, tr.unsupported("tool_choice", "tool_choice must be auto, none, required or a function.")
			}
			choice = &ToolChoice{Type: "tool", Name: o.Function.Name}
		}
	}
	if thinking && choice != nil && (choice.Type == "any" || choice.Type == "tool") {
		return nil, nil, tr.unsupported("tool_choice", "Anthropic models cannot be forced to use a tool while reasoning; use tool_choice auto or turn reasoning off.")
	}
	if req.ParallelToolCalls != nil && !*req.ParallelToolCalls {
		if choice == nil {
			choice = &ToolChoice{Type: "auto"}
		}
		if choice.Type != "none" {
			t := true
			choice.DisableParallelToolUse = &t
		}
	}
	return tools, choice, nil
}

// inputSchema makes a function's parameters a valid input_schema: Anthropic
// requires an object schema with "type":"object", while OpenAI accepts no
// parameters at all, or an object schema that omits the type.
func inputSchema(params json.RawMessage) (json.RawMessage, error) {
	if isNull(params) {
		return json.RawMessage(`{"type":"object","properties":{}}`), nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(params, &m); err != nil {
		return nil, err
	}
	if _, ok := m["type"]; ok {
		var b bytes.Buffer
		_ = json.Compact(&b, params)
		return b.Bytes(), nil
	}
	m["type"] = json.RawMessage(`"object"`)
	if _, ok := m["properties"]; !ok {
		m["properties"] = json.RawMessage(`{}`)
	}
	return json.Marshal(m)
}

// responseFormat applies response_format. json_object asks for JSON in the
// system prompt (Claude has no JSON mode). json_schema is answered with a
// forced tool whose input schema is the requested one: tool input is the one
// output Anthropic constrains to a schema on every Claude model. It cannot be
// combined with the client's own tools or with reasoning (Anthropic forbids
// forcing a tool while thinking), so those combinations are refused.
func (tr *translator) responseFormat(out *MessagesRequest, system []ContentBlock, thinking bool) ([]ContentBlock, error) {
	raw := tr.req.ResponseFormat
	if isNull(raw) {
		return system, nil
	}
	var rf struct {
		Type       string `json:"type"`
		JSONSchema *struct {
			Name        string          `json:"name"`
			Description string          `json:"description"`
			Schema      json.RawMessage `json:"schema"`
		} `json:"json_schema"`
	}
	if json.Unmarshal(raw, &rf) != nil {
		return nil, tr.unsupported("response_format", "response_format must be an object.")
	}
	switch rf.Type {
	case "", "text":
		return system, nil
	case "json_object":
		return append(system, ContentBlock{Type: "text", Text: jsonObjectInstruction}), nil
	case "json_schema":
	default:
		return nil, tr.unsupported("response_format", "response_format type %q is not supported by Anthropic models.", rf.Type)
	}
	if rf.JSONSchema == nil {
		return nil, tr.unsupported("response_format.json_schema", "response_format json_schema requires a json_schema object.")
	}
	if len(out.Tools) > 0 {
		return nil, tr.unsupported("response_format", "response_format json_schema cannot be combined with tools for Anthropic models.")
	}
	if thinking {
		return nil, tr.unsupported("response_format", "response_format json_schema cannot be combined with reasoning for Anthropic models.")
	}
	schemaJSON := rf.JSONSchema.Schema
	if isNull(schemaJSON) {
		schemaJSON = json.RawMessage(`{"type":"object"}`)
	}
	var root struct {
		Type json.RawMessage `json:"type"`
	}
	if json.Unmarshal(schemaJSON, &root) != nil || !isNull(root.Type) && string(bytes.TrimSpace(root.Type)) != `"object"` {
		return nil, tr.unsupported("response_format.json_schema.schema", "Anthropic models can only be held to a JSON schema whose root is an object.")
	}
	in, err := inputSchema(schemaJSON)
	if err != nil {
		return nil, tr.unsupported("response_format.json_schema.schema", "The schema must be a JSON object.")
	}
	name := jsonToolName(rf.JSONSchema.Name)
	desc := rf.JSONSchema.Description
	if desc == "" {
		desc = "Give the answer as this tool's input, which must match its schema."
	}
	out.Tools = []Tool{{Name: name, Description: desc, InputSchema: in}}
	out.ToolChoice = &ToolChoice{Type: "tool", Name: name}
	tr.plan.jsonTool = name
	return system, nil
}

// jsonToolName keeps a schema name that is a valid tool name.
func jsonToolName(n string) string {
	if n == "" || len(n) > 64 {
		return defaultJSONToolName
	}
	for i := 0; i < len(n); i++ {
		if !isIDChar(n[i]) {
			return defaultJSONToolName
		}
	}
	return n
}
