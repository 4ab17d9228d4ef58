package schema

// Usage is the OpenAI usage object extended with the gateway's cost breakdown.
// Cost fields are nil when the price of the model is unknown (never a silent 0).
type Usage struct {
	PromptTokens            int                      `json:"prompt_tokens"`
	CompletionTokens        int                      `json:"completion_tokens"`
	TotalTokens             int                      `json:"total_tokens"`
	Cost                    *float64                 `json:"cost"`
	CostDetails             *CostDetails             `json:"cost_details,omitempty"`
	PromptTokensDetails     *PromptTokensDetails     `json:"prompt_tokens_details,omitempty"`
	CompletionTokensDetails *CompletionTokensDetails `json:"completion_tokens_details,omitempty"`
}

// PromptTokensDetails breaks the prompt tokens down. For OpenAI and Gemini the
// cached tokens are part of prompt_tokens; the gateway reports Anthropic usage
// the same way (cache reads and writes folded into prompt_tokens).
type PromptTokensDetails struct {
	CachedTokens     int `json:"cached_tokens"`
	CacheWriteTokens int `json:"cache_write_tokens"`
	AudioTokens      int `json:"audio_tokens"`
	VideoTokens      int `json:"video_tokens"`
}

// CompletionTokensDetails breaks the completion tokens down.
type CompletionTokensDetails struct {
	ReasoningTokens int `json:"reasoning_tokens"`
	ImageTokens     int `json:"image_tokens"`
	AudioTokens     int `json:"audio_tokens"`
}

// CostDetails is the seed's cost breakdown, in USD.
type CostDetails struct {
	UpstreamInferenceCost            *float64 `json:"upstream_inference_cost"`
	UpstreamInferencePromptCost      *float64 `json:"upstream_inference_prompt_cost"`
	UpstreamInferenceCompletionsCost *float64 `json:"upstream_inference_completions_cost"`
	TotalCost                        *float64 `json:"total_cost"`
	InputCost                        *float64 `json:"input_cost"`
	OutputCost                       *float64 `json:"output_cost"`
	CachedInputCost                  *float64 `json:"cached_input_cost"`
	CacheWriteCost                   *float64 `json:"cache_write_cost"`
	RequestCost                      *float64 `json:"request_cost"`
	WebSearchCost                    *float64 `json:"web_search_cost"`
	ImageInputCost                   *float64 `json:"image_input_cost"`
	ImageOutputCost                  *float64 `json:"image_output_cost"`
	DataStorageCost                  *float64 `json:"data_storage_cost"`
}
