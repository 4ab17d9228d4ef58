package openai

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/llmgw/gateway/app/ids"
	"github.com/llmgw/gateway/app/schema"
)

// FromChatResponse turns a neutral chat completion into a Response object,
// reported under model (the name the client asked for). Only the first
// choice is used (ToChat never asks for more). The output holds, in this
// order: a reasoning item whose summary is message.reasoning (when set), a
// message item with the text as an output_text part and the refusal as a
// refusal part (present unless the answer is only tool calls), then one
// function_call item per tool call.
//
// status is "completed", or "incomplete" with incomplete_details.reason
// "max_output_tokens" for finish_reason "length" and "content_filter" for
// "content_filter". The response id is "resp_" + the completion id; item ids
// are derived from it (msg_, fc_, rs_ with the output index), so they are
// stable and unique per response. Usage maps prompt/completion tokens to
// input/output tokens with their details; the gateway's cost and
// cost_details are kept in usage when the neutral usage has them.
//
// The request's settings (instructions, tools, temperature...) are reported
// with OpenAI's defaults; EchoRequest fills them from the request.
func FromChatResponse(resp *schema.ChatResponse, model string) *ResponsesResponse {
	out := newResponse(responseID(resp.ID), resp.Created, model)
	out.ServiceTier = resp.ServiceTier
	out.Usage = responsesUsage(resp.Usage)
	finish := ""
	var m *schema.Message
	if len(resp.Choices) > 0 {
		finish = resp.Choices[0].FinishReason
		m = &resp.Choices[0].Message
	} else {
		m = &schema.Message{}
	}
	status, details := finishStatus(finish)
	itemStatus := "completed"
	if status == "incomplete" {
		itemStatus = "incomplete"
	}
	b := itemIDs{base: itemBase(out.ID)}
	if m.Reasoning != "" {
		out.Output = append(out.Output, ResponsesOutputItem{ID: b.id("rs", len(out.Output)), Type: "reasoning",
			Summary: []ResponsesSummaryPart{{Type: "summary_text", Text: m.Reasoning}}})
	}
	text := m.Content.String()
	if text != "" || m.Refusal != nil || len(m.ToolCalls) == 0 {
		msg := ResponsesOutputItem{ID: b.id("msg", len(out.Output)), Type: "message", Status: itemStatus, Role: "assistant"}
		if text != "" || m.Refusal == nil {
			msg.Content = append(msg.Content, ResponsesOutputContent{Type: "output_text", Text: text})
		}
		if m.Refusal != nil {
			msg.Content = append(msg.Content, ResponsesOutputContent{Type: "refusal", Refusal: *m.Refusal})
		}
		out.Output = append(out.Output, msg)
	}
	for _, tc := range m.ToolCalls {
		out.Output = append(out.Output, ResponsesOutputItem{ID: b.id("fc", len(out.Output)), Type: "function_call",
			Status: itemStatus, CallID: callID(tc.ID), Name: tc.Function.Name, Arguments: tc.Function.Arguments})
	}
	out.finish(status, details)
	return out
}

// newResponse is a response shell in progress, with OpenAI's defaults for
// the request settings it echoes.
func newResponse(id string, created int64, model string) *ResponsesResponse {
	if created == 0 {
		created = time.Now().Unix()
	}
	return &ResponsesResponse{
		ID: id, Object: "response", CreatedAt: created, Status: "in_progress", Model: model,
		Output: []ResponsesOutputItem{}, ParallelToolCalls: true, Temperature: 1, TopP: 1,
		Text:       json.RawMessage(`{"format":{"type":"text"}}`),
		ToolChoice: json.RawMessage(`"auto"`), Tools: json.RawMessage(`[]`),
		Truncation: "disabled", Metadata: json.RawMessage(`{}`),
	}
}

// finish sets the final status.
func (r *ResponsesResponse) finish(status string, details *IncompleteDetails) {
	r.Status, r.IncompleteDetails = status, details
	if status == "completed" {
		now := max(time.Now().Unix(), r.CreatedAt)
		r.CompletedAt = &now
	}
}

// EchoRequest reports the request's settings in the response, as OpenAI
// does: instructions, max_output_tokens, parallel_tool_calls, reasoning,
// temperature, text, tool_choice, tools, top_p, user and metadata. store is
// always false (the gateway stores nothing). It returns r.
func (r *ResponsesResponse) EchoRequest(req *ResponsesRequest) *ResponsesResponse {
	if req == nil {
		return r
	}
	r.Instructions = req.Instructions
	r.MaxOutputTokens = req.MaxOutputTokens
	if req.ParallelToolCalls != nil {
		r.ParallelToolCalls = *req.ParallelToolCalls
	}
	if req.Reasoning != nil {
		if req.Reasoning.Effort != "" {
			e := req.Reasoning.Effort
			r.Reasoning.Effort = &e
		}
		if req.Reasoning.Summary != "" {
			s := req.Reasoning.Summary
			r.Reasoning.Summary = &s
		}
	}
	if req.Temperature != nil {
		r.Temperature = *req.Temperature
	}
	if req.TopP != nil {
		r.TopP = *req.TopP
	}
	if req.Text != nil {
		t := *req.Text
		if t.Format == nil {
			t.Format = &ResponsesTextFormat{Type: "text"}
		} else if t.Format.Type == "json_schema" && t.Format.Name == "" {
			f := *t.Format
			f.Name = "response" // the name ToChat sends
			t.Format = &f
		}
		r.Text, _ = json.Marshal(t)
	}
	if !isNull(req.ToolChoice) {
		r.ToolChoice = req.ToolChoice
	}
	if len(req.Tools) > 0 {
		r.Tools = echoTools(req.Tools)
	}
	if req.User != "" {
		u := req.User
		r.User = &u
	}
	if !isNull(req.Metadata) {
		r.Metadata = req.Metadata
	}
	return r
}

// finishStatus maps a finish_reason to the response status.
func finishStatus(finish string) (string, *IncompleteDetails) {
	switch finish {
	case "length":
		return "incomplete", &IncompleteDetails{Reason: "max_output_tokens"}
	case "content_filter":
		return "incomplete", &IncompleteDetails{Reason: "content_filter"}
	}
	return "completed", nil
}

// responseID keeps an upstream "resp_" id and prefixes any other, so that
// clients see the id shape they expect while the log can still be matched.
func responseID(id string) string {
	switch {
	case id == "":
		return "resp_" + ids.Random(24)
	case strings.HasPrefix(id, "resp_"):
		return id
	}
	return "resp_" + id
}

// itemBase is the part of a response id that item ids share.
func itemBase(respID string) string { return strings.TrimPrefix(respID, "resp_") }

type itemIDs struct{ base string }

func (b itemIDs) id(prefix string, outputIndex int) string {
	return prefix + "_" + b.base + "_" + strconv.Itoa(outputIndex)
}

// callID gives a function call an id; clients echo it back in the
// function_call_output, so it must never be empty.
func callID(id string) string {
	if id == "" {
		return "call_" + ids.Random(24)
	}
	return id
}

// responsesUsage converts neutral usage (nil stays nil).
func responsesUsage(u *schema.Usage) *ResponsesUsage {
	if u == nil {
		return nil
	}
	out := &ResponsesUsage{InputTokens: u.PromptTokens, OutputTokens: u.CompletionTokens, TotalTokens: u.TotalTokens}
	if out.TotalTokens == 0 {
		out.TotalTokens = u.PromptTokens + u.CompletionTokens
	}
	if d := u.PromptTokensDetails; d != nil {
		out.InputTokensDetails = InputTokensDetails{CachedTokens: d.CachedTokens, CacheWriteTokens: d.CacheWriteTokens}
	}
	if d := u.CompletionTokensDetails; d != nil {
		out.OutputTokensDetails.ReasoningTokens = d.ReasoningTokens
	}
	if u.Cost != nil {
		c := *u.Cost
		out.Cost = &c
		if u.CostDetails != nil {
			out.CostDetails, _ = json.Marshal(u.CostDetails)
		}
	}
	return out
}

// echoTools reports function tools with every field OpenAI reports: a
// missing description and parameters as null, strict as forwarded (false
// when the client did not set it: the gateway does not force strict mode).
func echoTools(tools []ResponsesTool) json.RawMessage {
	type echo struct {
		Type        string          `json:"type"`
		Name        string          `json:"name"`
		Description *string         `json:"description"`
		Parameters  json.RawMessage `json:"parameters"`
		Strict      bool            `json:"strict"`
	}
	out := make([]echo, 0, len(tools))
	for _, t := range tools {
		e := echo{Type: t.Type, Name: t.Name, Parameters: t.Parameters}
		if e.Parameters == nil {
			e.Parameters = json.RawMessage("null")
		}
		if t.Description != "" {
			d := t.Description
			e.Description = &d
		}
		if t.Strict != nil {
			e.Strict = *t.Strict
		}
		out = append(out, e)
	}
	b, _ := json.Marshal(out)
	return b
}
