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

// messages splits the conversation into the system prompt and alternating
// user/assistant turns.
//
//   - system and developer messages, wherever they are, are hoisted in order
//     into the top-level system prompt (Anthropic has no system turns);
//   - tool messages become tool_result blocks of a user turn;
//   - consecutive messages of the same Anthropic role are merged into one
//     turn, since Anthropic requires alternation; within a user turn the
//     tool_result blocks are moved first, as Anthropic requires;
//   - an assistant message's reasoning_details of Anthropic's format become
//     its thinking and redacted_thinking blocks, first in the turn, with
//     their signatures as Anthropic issued them (what a tool loop with
//     thinking requires); unsigned ones and the plain reasoning text are
//     dropped: without a signature Anthropic refuses a thinking block;
//   - message names are dropped (Anthropic has no per-message name).
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
		switch turns[i].Role {
		case "user":
			toolResultsFirst(turns[i].Content.Blocks)
		case "assistant":
			thinkingFirst(turns[i].Content.Blocks) // merged assistant messages
		}
	}
	return system, turns, nil
}

// lastAssistantThinks reports whether the last assistant turn starts with a
// thinking or redacted_thinking block.
func lastAssistantThinks(turns []Message) bool {
	for i := len(turns) - 1; i >= 0; i-- {
		if turns[i].Role == "assistant" {
			b := turns[i].Content.Blocks
			return len(b) > 0 && isThinkingBlock(&b[0])
		}
	}
	return false
}

// inToolLoop reports whether the conversation is in the middle of a tool
// loop: the last assistant turn calls tools and the turn after it returns
// their results.
func inToolLoop(turns []Message) bool {
	for i := len(turns) - 1; i >= 0; i-- {
		if turns[i].Role != "assistant" {
			continue
		}
		if i+1 >= len(turns) || !hasBlock(turns[i].Content.Blocks, "tool_use") {
			return false
		}
		return hasBlock(turns[i+1].Content.Blocks, "tool_result")
	}
	return false
}

func hasBlock(blocks []ContentBlock, typ string) bool {
	for _, b := range blocks {
		if b.Type == typ {
			return true
		}
	}
	return false
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
	out := thinkingBlocks(m.ReasoningDetails, true, true)
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
