package anthropic

import (
	"encoding/json"

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
	if budget > 0 && inToolLoop(turns) && !lastAssistantThinks(turns) {
		// With thinking on, Anthropic requires the assistant turn that made
		// the pending tool calls to start with the thinking block it returned,
		// signature included. Clients that send back reasoning_details give
		// it; for those that do not (they only kept the reasoning text, or
		// nothing), rather than fail every second step of an agent loop, this
		// step runs without thinking.
		budget = 0
	}
	if n := len(turns); budget == 0 && n > 0 && turns[n-1].Role == "assistant" {
		// Without thinking, Anthropic refuses thinking blocks in a final
		// (prefilled) assistant turn; in earlier turns they are accepted.
		turns[n-1].Content.Blocks = withoutThinking(turns[n-1].Content.Blocks)
		if len(turns[n-1].Content.Blocks) == 0 {
			turns = turns[:n-1]
		}
		out.Messages = turns
	}
	if budget > 0 {
		// Anthropic counts thinking in max_tokens and requires max_tokens >
		// budget_tokens. A limit the client set is taken as the limit of the
		// visible answer, so the budget is added on top when it does not fit.
		// The default limit is the model's (typically its maximum output),
		// which must not be exceeded: the budget shrinks to half of it.
		if out.MaxTokens <= budget && req.MaxCompletionTokens == nil && req.MaxTokens == nil {
			budget = max(out.MaxTokens/2, minThinkingBudget)
		}
		if out.MaxTokens <= budget {
			out.MaxTokens += budget
		}
		out.Thinking = &Thinking{Type: "enabled", BudgetTokens: budget}
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
