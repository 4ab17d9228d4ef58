package anthropic

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/llmgw/gateway/app/schema"
)

// Thinking budgets for the OpenAI effort levels. Anthropic's minimum budget
// is 1024, so "minimal" and "low" share it.
var effortBudgets = map[string]int{
	"minimal": 1024,
	"low":     1024,
	"medium":  4096,
	"high":    16384,
	"xhigh":   32768,
}

const (
	minThinkingBudget = 1024
	// maxThinkingBudget is the gateway's documented clamp for reasoning.max_tokens.
	maxThinkingBudget = 128000
	// minThinkingTopP: with thinking on, Anthropic only accepts top_p in [0.95, 1].
	minThinkingTopP = 0.95

	// jsonObjectInstruction is appended to the system prompt for
	// response_format json_object: Claude has no JSON mode, so it is asked.
	jsonObjectInstruction = "Respond with a single valid JSON object and nothing else."
	// defaultJSONToolName names the forced tool of response_format json_schema
	// when the schema has no usable name.
	defaultJSONToolName = "json_response"
)

// plan is what the response translation must know about the request.
type plan struct {
	// jsonTool is the forced tool that carries a json_schema answer: its
	// input becomes the message content, and its tool_use stop a plain stop.
	jsonTool string
	// excludeReasoning drops thinking from the answer (reasoning.exclude).
	excludeReasoning bool
}

// translateRequest turns a neutral request into an Anthropic one. Errors are
// *providers.Error of KindUnsupported naming the OpenAI parameter at fault.
// The caller's request is only read.
func translateRequest(provider string, req *schema.ChatRequest, model string, defaultMax int) (*MessagesRequest, *plan, error) {
	tr := translator{provider: provider, req: req, plan: &plan{}}
	out, err := tr.run(model, defaultMax)
	if err != nil {
		return nil, nil, err
	}
	return out, tr.plan, nil
}

type translator struct {
	provider string
	req      *schema.ChatRequest
	plan     *plan
}

func (tr *translator) unsupported(param, format string, args ...any) error {
	return unsupported(tr.provider, param, format, args...)
}

func (tr *translator) run(model string, defaultMax int) (*MessagesRequest, error) {
	req := tr.req
	if err := tr.refuse(); err != nil {
		return nil, err
	}
	out := &MessagesRequest{Model: model}

	system, turns, err := tr.messages()
	if err != nil {
		return nil, err
	}
	out.Messages = turns

	// max_tokens: the request's, else the per-model default. OpenAI's
	// max_completion_tokens wins over the deprecated max_tokens, as at OpenAI.
	switch {
	case req.MaxCompletionTokens != nil:
		out.MaxTokens = *req.MaxCompletionTokens
	case req.MaxTokens != nil:
		out.MaxTokens = *req.MaxTokens
	default:
		out.MaxTokens = defaultMax
	}
	if out.MaxTokens <= 0 {
		param := "max_tokens"
		if req.MaxCompletionTokens != nil {
			param = "max_completion_tokens"
		}
		return nil, tr.unsupported(param, "%s must be at least 1.", param)
	}

	if req.Temperature != nil {
		// OpenAI's range is 0..2, Anthropic's 0..1: values above 1 are
		// clamped rather than rescaled, so that the common 0..1 settings keep
		// their meaning.
		t := min(*req.Temperature, 1)
		out.Temperature = &t
	}
	if req.TopP != nil && *req.TopP != 1 {
		// top_p 1 is the identity; dropping it avoids "temperature and top_p
		// cannot both be specified", which recent Claude models answer to
		// clients that send both by default.
		v := *req.TopP
		out.TopP = &v
	}
	if raw, ok := req.Extra["top_k"]; ok && !isNull(raw) {
		// top_k is not OpenAI's, but Anthropic has it: forward it when a
		// client (or the Anthropic endpoint's translation) sets it.
		var k int
		if json.Unmarshal(raw, &k) != nil || k < 1 {
			return nil, tr.unsupported("top_k", "top_k must be a positive integer.")
		}
		out.TopK = &k
	}
	if out.StopSequences, err = tr.stop(); err != nil {
		return nil, err
	}
	if req.User != "" {
		out.Metadata = &Metadata{UserID: req.User}
	}

	budget, err := tr.thinkingBudget()
	if err != nil {
		return nil, err
	}
	if budget > 0 {
		out.Thinking = &Thinking{Type: "enabled", BudgetTokens: budget}
		// Anthropic counts thinking in max_tokens and requires max_tokens >
		// budget_tokens. The client's limit is taken as the limit of the
		// visible answer, so the budget is added on top when it does not fit.
		if out.MaxTokens <= budget {
			out.MaxTokens += budget
		}
		// Anthropic rejects temperature and top_k with thinking and only
		// accepts top_p >= 0.95: sampling settings are dropped rather than
		// failing a request whose main point is the reasoning.
		out.Temperature, out.TopK = nil, nil
		if out.TopP != nil && *out.TopP < minThinkingTopP {
			out.TopP = nil
		}
	}

	if out.Tools, out.ToolChoice, err = tr.tools(budget > 0); err != nil {
		return nil, err
	}
	if system, err = tr.responseFormat(out, system, budget > 0); err != nil {
		return nil, err
	}
	out.System = systemContent(system)
	return out, nil
}

// refuse rejects parameters that change the answer and that Anthropic cannot
// honour. Parameters that only affect determinism or bookkeeping (seed,
// service_tier, store, metadata, prediction, stream_options) are dropped.
func (tr *translator) refuse() error {
	req := tr.req
	switch {
	case req.N != nil && *req.N > 1:
		return tr.unsupported("n", "Anthropic models return one choice per request; n must be 1.")
	case req.Logprobs != nil && *req.Logprobs:
		return tr.unsupported("logprobs", "Anthropic models do not return log probabilities.")
	case req.TopLogprobs != nil && *req.TopLogprobs > 0:
		return tr.unsupported("top_logprobs", "Anthropic models do not return log probabilities.")
	case nonEmptyObject(req.LogitBias):
		return tr.unsupported("logit_bias", "Anthropic models do not support logit_bias.")
	case req.PresencePenalty != nil && *req.PresencePenalty != 0:
		return tr.unsupported("presence_penalty", "Anthropic models do not support presence_penalty.")
	case req.FrequencyPenalty != nil && *req.FrequencyPenalty != 0:
		return tr.unsupported("frequency_penalty", "Anthropic models do not support frequency_penalty.")
	}
	for _, k := range []string{"audio", "web_search_options", "functions", "function_call"} {
		if raw, ok := req.Extra[k]; ok && !isNull(raw) {
			return tr.unsupported(k, "%s is not supported by Anthropic models.", k)
		}
	}
	if raw, ok := req.Extra["modalities"]; ok && !isNull(raw) {
		var m []string
		if json.Unmarshal(raw, &m) != nil {
			return tr.unsupported("modalities", "modalities must be an array of strings.")
		}
		for _, v := range m {
			if v != "text" {
				return tr.unsupported("modalities", "Anthropic models only produce text; modality %q is not supported.", v)
			}
		}
	}
	return nil
}

func nonEmptyObject(raw json.RawMessage) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) == nil {
		return len(m) > 0
	}
	return !isNull(raw)
}

// messages splits the conversation into the system prompt and alternating
// user/assistant turns.
//
//   - system and developer messages, wherever they are, are hoisted in order
//     into the top-level system prompt (Anthropic has no system turns);
//   - tool messages become tool_result blocks of a user turn;
//   - consecutive messages of the same Anthropic role are merged into one
//     turn, since Anthropic requires alternation; within a user turn the
//     tool_result blocks are moved first, as Anthropic requires;
//   - message names are dropped (Anthropic has no per-message name), and so
//     is an assistant message's earlier reasoning: without the signature
//     Anthropic issued for it, it cannot be sent back as a thinking block.
func (tr *translator) messages() (system []ContentBlock, turns []Message, err error) {
	for i, m := range tr.req.Messages {
		var role string
		var blocks []ContentBlock
		switch m.Role {
		case "system", "developer":
			b, err := tr.systemBlocks(i, m.Content)
			if err != nil {
				return nil, nil, err
			}
			system = append(system, b...)
			continue
		case "user":
			role = "user"
			blocks, err = tr.userBlocks(fmt.Sprintf("messages[%d].content", i), m.Content, false)
		case "assistant":
			role = "assistant"
			blocks, err = tr.assistantBlocks(i, &m)
		case "tool":
			role = "user"
			var b ContentBlock
			b, err = tr.toolResult(i, &m)
			blocks = []ContentBlock{b}
		default:
			return nil, nil, tr.unsupported(fmt.Sprintf("messages[%d].role", i), "Message role %q is not supported by Anthropic models.", m.Role)
		}
		if err != nil {
			return nil, nil, err
		}
		if len(blocks) == 0 {
			continue // Anthropic rejects empty turns; an empty message says nothing
		}
		if n := len(turns); n > 0 && turns[n-1].Role == role {
			turns[n-1].Content.Blocks = append(turns[n-1].Content.Blocks, blocks...)
		} else {
			turns = append(turns, Message{Role: role, Content: BlocksOf(blocks...)})
		}
	}
	for i := range turns {
		if turns[i].Role == "user" {
			toolResultsFirst(turns[i].Content.Blocks)
		}
	}
	return system, turns, nil
}

// toolResultsFirst stably moves tool_result blocks to the front.
func toolResultsFirst(b []ContentBlock) {
	out := make([]ContentBlock, 0, len(b))
	for _, x := range b {
		if x.Type == "tool_result" {
			out = append(out, x)
		}
	}
	for _, x := range b {
		if x.Type != "tool_result" {
			out = append(out, x)
		}
	}
	copy(b, out)
}

func (tr *translator) systemBlocks(i int, c schema.Content) ([]ContentBlock, error) {
	if c.Text != nil {
		if *c.Text == "" {
			return nil, nil
		}
		return []ContentBlock{{Type: "text", Text: *c.Text}}, nil
	}
	var out []ContentBlock
	for j, p := range c.Parts {
		if p.Type != "text" {
			return nil, tr.unsupported(fmt.Sprintf("messages[%d].content[%d]", i, j), "System messages may only contain text for Anthropic models.")
		}
		if p.Text != "" {
			out = append(out, ContentBlock{Type: "text", Text: p.Text, CacheControl: p.CacheControl})
		}
	}
	return out, nil
}

// systemContent is a string unless a block carries cache_control.
func systemContent(blocks []ContentBlock) *Content {
	if len(blocks) == 0 {
		return nil
	}
	texts := make([]string, 0, len(blocks))
	for _, b := range blocks {
		if len(b.CacheControl) > 0 {
			c := BlocksOf(blocks...)
			return &c
		}
		texts = append(texts, b.Text)
	}
	c := TextOf(strings.Join(texts, "\n\n"))
	return &c
}

// userBlocks translates user (or tool result) content. Empty text is dropped:
// Anthropic rejects empty text blocks.
func (tr *translator) userBlocks(param string, c schema.Content, inToolResult bool) ([]ContentBlock, error) {
	if c.Text != nil {
		if *c.Text == "" {
			return nil, nil
		}
		return []ContentBlock{{Type: "text", Text: *c.Text}}, nil
	}
	var out []ContentBlock
	for j, p := range c.Parts {
		pp := fmt.Sprintf("%s[%d]", param, j)
		switch p.Type {
		case "text":
			if p.Text != "" {
				out = append(out, ContentBlock{Type: "text", Text: p.Text, CacheControl: p.CacheControl})
			}
		case "image_url":
			if p.ImageURL == nil {
				return nil, tr.unsupported(pp, "image_url part without an image_url object.")
			}
			src, err := tr.imageSource(pp, p.ImageURL.URL)
			if err != nil {
				return nil, err
			}
			out = append(out, ContentBlock{Type: "image", Source: src, CacheControl: p.CacheControl})
		case "file":
			if inToolResult {
				return nil, tr.unsupported(pp, "Files are not supported in tool results for Anthropic models.")
			}
			b, err := tr.fileBlock(pp, p)
			if err != nil {
				return nil, err
			}
			out = append(out, b)
		case "input_audio":
			return nil, tr.unsupported(pp, "Anthropic models do not accept audio input.")
		default:
			return nil, tr.unsupported(pp, "Content part type %q is not supported by Anthropic models.", p.Type)
		}
	}
	return out, nil
}

// anthropicImageTypes are the media types Anthropic accepts for images.
var anthropicImageTypes = map[string]bool{"image/jpeg": true, "image/png": true, "image/gif": true, "image/webp": true}

// imageSource maps an image_url: data URIs become base64 sources, http(s)
// URLs url sources (Anthropic fetches them itself).
func (tr *translator) imageSource(param, url string) (*Source, error) {
	if strings.HasPrefix(url, "https://") || strings.HasPrefix(url, "http://") {
		return &Source{Type: "url", URL: url}, nil
	}
	mt, data, ok := parseDataURI(url)
	if !ok {
		return nil, tr.unsupported(param, "Images must be https URLs or base64 data URIs.")
	}
	if mt == "image/jpg" {
		mt = "image/jpeg"
	}
	if !anthropicImageTypes[mt] {
		return nil, tr.unsupported(param, "Image type %q is not supported by Anthropic models (jpeg, png, gif and webp are).", mt)
	}
	return &Source{Type: "base64", MediaType: mt, Data: data}, nil
}

// parseDataURI splits "data:<type>;base64,<data>". Only base64 URIs are
// accepted: that is what every client sends for binary data.
func parseDataURI(s string) (mediaType, data string, ok bool) {
	rest, found := strings.CutPrefix(s, "data:")
	if !found {
		return "", "", false
	}
	meta, data, found := strings.Cut(rest, ",")
	if !found {
		return "", "", false
	}
	params := strings.Split(meta, ";")
	if len(params) < 2 || !strings.EqualFold(params[len(params)-1], "base64") {
		return "", "", false
	}
	return strings.ToLower(strings.TrimSpace(params[0])), data, true
}

// fileBlock maps an OpenAI file part to a document block: a PDF as base64, a
// plain-text file as a text source. Uploaded file ids mean nothing to
// Anthropic and other types have no document equivalent.
func (tr *translator) fileBlock(param string, p schema.ContentPart) (ContentBlock, error) {
	var f struct {
		FileData string `json:"file_data"`
		FileID   string `json:"file_id"`
		Filename string `json:"filename"`
	}
	if json.Unmarshal(p.File, &f) != nil {
		return ContentBlock{}, tr.unsupported(param, "Invalid file part.")
	}
	if f.FileData == "" {
		return ContentBlock{}, tr.unsupported(param, "File ids are not supported by Anthropic models; send the file as file_data.")
	}
	mt, data, ok := parseDataURI(f.FileData)
	if !ok && strings.HasSuffix(strings.ToLower(f.Filename), ".pdf") {
		mt, data, ok = "application/pdf", f.FileData, true // bare base64, named as a PDF
	}
	if !ok {
		return ContentBlock{}, tr.unsupported(param, "file_data must be a base64 data URI.")
	}
	switch mt {
	case "application/pdf":
		return ContentBlock{Type: "document", Source: &Source{Type: "base64", MediaType: mt, Data: data}, CacheControl: p.CacheControl}, nil
	case "text/plain":
		text, err := base64.StdEncoding.DecodeString(data)
		if err != nil || !utf8.Valid(text) {
			return ContentBlock{}, tr.unsupported(param, "file_data is not valid base64 UTF-8 text.")
		}
		return ContentBlock{Type: "document", Source: &Source{Type: "text", MediaType: mt, Data: string(text)}, CacheControl: p.CacheControl}, nil
	}
	return ContentBlock{}, tr.unsupported(param, "File type %q is not supported by Anthropic models (PDF and plain text are).", mt)
}

func (tr *translator) assistantBlocks(i int, m *schema.Message) ([]ContentBlock, error) {
	var out []ContentBlock
	if m.Content.Text != nil {
		if *m.Content.Text != "" {
			out = append(out, ContentBlock{Type: "text", Text: *m.Content.Text})
		}
	} else {
		for j, p := range m.Content.Parts {
			switch p.Type {
			case "text", "refusal":
				if p.Text != "" {
					out = append(out, ContentBlock{Type: "text", Text: p.Text, CacheControl: p.CacheControl})
				}
			default:
				return nil, tr.unsupported(fmt.Sprintf("messages[%d].content[%d]", i, j), "Assistant messages may only contain text for Anthropic models.")
			}
		}
	}
	for _, tc := range m.ToolCalls {
		param := fmt.Sprintf("messages[%d].tool_calls", i)
		if tc.Type != "" && tc.Type != "function" {
			return nil, tr.unsupported(param, "Tool call type %q is not supported by Anthropic models.", tc.Type)
		}
		input, ok := argumentsObject(tc.Function.Arguments)
		if !ok {
			return nil, tr.unsupported(param, "The arguments of tool call %q are not a JSON object.", tc.ID)
		}
		out = append(out, ContentBlock{Type: "tool_use", ID: toolID(tc.ID), Name: tc.Function.Name, Input: input})
	}
	return out, nil
}

// argumentsObject parses tool call arguments into tool_use input, which must
// be a JSON object. Empty arguments (sent by some clients for parameterless
// calls) are the empty object.
func argumentsObject(args string) (json.RawMessage, bool) {
	a := bytes.TrimSpace([]byte(args))
	if len(a) == 0 {
		return json.RawMessage("{}"), true
	}
	if a[0] != '{' || !json.Valid(a) {
		return nil, false
	}
	var b bytes.Buffer
	_ = json.Compact(&b, a)
	return b.Bytes(), true
}

// toolID makes a tool call id acceptable to Anthropic (^[a-zA-Z0-9_-]+$).
// Ids minted by other providers may carry other characters; the mapping is
// deterministic, so a call and its result still match.
func toolID(id string) string {
	ok := true
	for i := 0; i < len(id); i++ {
		if !isIDChar(id[i]) {
			ok = false
			break
		}
	}
	if ok {
		return id
	}
	b := []byte(id)
	for i := range b {
		if !isIDChar(b[i]) {
			b[i] = '_'
		}
	}
	return string(b)
}

func isIDChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

func (tr *translator) toolResult(i int, m *schema.Message) (ContentBlock, error) {
	b := ContentBlock{Type: "tool_result", ToolUseID: toolID(m.ToolCallID)}
	if m.Content.Text != nil {
		if *m.Content.Text != "" {
			c := TextOf(*m.Content.Text)
			b.Content = &c
		}
		return b, nil
	}
	blocks, err := tr.userBlocks(fmt.Sprintf("messages[%d].content", i), m.Content, true)
	if err != nil {
		return b, err
	}
	if len(blocks) > 0 {
		c := BlocksOf(blocks...)
		b.Content = &c
	}
	return b, nil
}

func (tr *translator) stop() ([]string, error) {
	raw := tr.req.Stop
	if isNull(raw) {
		return nil, nil
	}
	var list []string
	var one string
	if json.Unmarshal(raw, &one) == nil {
		list = []string{one}
	} else if json.Unmarshal(raw, &list) != nil {
		return nil, tr.unsupported("stop", "stop must be a string or an array of strings.")
	}
	var out []string
	for _, s := range list {
		if s != "" {
			out = append(out, s)
		}
	}
	return out, nil
}

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
