// Package google translates between the gateway's neutral (OpenAI) format and
// the Gemini API of Google AI Studio (generativelanguage.googleapis.com).
//
// It has two halves that share the wire types of this file:
//
//   - Provider, the upstream adapter "google-ai-studio": neutral request ->
//     generateContent / streamGenerateContent / batchEmbedContents -> neutral
//     response.
//   - The inbound converters (DecodeGenerateRequest, ToChat, FromChatResponse,
//     StreamEncoder, ErrorBody) behind the gateway's native Gemini endpoints, so
//     that Google's own SDKs can talk to the gateway.
//
// Field names follow the Gemini REST API (proto3 JSON, camelCase), checked
// against the official google.golang.org/genai SDK.
package google

import "encoding/json"

// ProviderID is the provider id this adapter is registered under.
const ProviderID = "google-ai-studio"

// GenerateRequest is the body of models.generateContent and
// models.streamGenerateContent.
type GenerateRequest struct {
	Contents          []Content         `json:"contents"`
	SystemInstruction *Content          `json:"systemInstruction,omitempty"`
	Tools             []Tool            `json:"tools,omitempty"`
	ToolConfig        *ToolConfig       `json:"toolConfig,omitempty"`
	GenerationConfig  *GenerationConfig `json:"generationConfig,omitempty"`
	// The fields below are never sent by the adapter; they are decoded from
	// inbound requests so that ToChat can refuse or knowingly ignore them.
	SafetySettings json.RawMessage `json:"safetySettings,omitempty"`
	CachedContent  string          `json:"cachedContent,omitempty"`
}

// Content is one turn of the conversation (or the system instruction).
type Content struct {
	// Role is "user" or "model"; Gemini treats an empty role as "user".
	Role  string `json:"role,omitempty"`
	Parts []Part `json:"parts,omitempty"`
}

// Part is one piece of a turn. Exactly one of the data fields is set.
type Part struct {
	Text    string `json:"text,omitempty"`
	Thought bool   `json:"thought,omitempty"`
	// ThoughtSignature is opaque base64 that Gemini attaches to parts of a
	// thinking model's answer and wants back with the history.
	ThoughtSignature string            `json:"thoughtSignature,omitempty"`
	InlineData       *Blob             `json:"inlineData,omitempty"`
	FileData         *FileData         `json:"fileData,omitempty"`
	FunctionCall     *FunctionCall     `json:"functionCall,omitempty"`
	FunctionResponse *FunctionResponse `json:"functionResponse,omitempty"`
	// Server-side tool parts: only decoded, so that they can be refused.
	ExecutableCode      json.RawMessage `json:"executableCode,omitempty"`
	CodeExecutionResult json.RawMessage `json:"codeExecutionResult,omitempty"`
}

// Blob is inline media, base64 encoded.
type Blob struct {
	MimeType string `json:"mimeType,omitempty"`
	Data     string `json:"data,omitempty"`
}

// FileData references media by URI (Files API, or a public URL).
type FileData struct {
	MimeType string `json:"mimeType,omitempty"`
	FileURI  string `json:"fileUri,omitempty"`
}

// FunctionCall is a call predicted by the model. Args is a JSON object.
type FunctionCall struct {
	ID   string          `json:"id,omitempty"`
	Name string          `json:"name,omitempty"`
	Args json.RawMessage `json:"args,omitempty"`
}

// FunctionResponse is the result of a call, sent back in a user turn.
// Response is a JSON object.
type FunctionResponse struct {
	ID       string          `json:"id,omitempty"`
	Name     string          `json:"name,omitempty"`
	Response json.RawMessage `json:"response,omitempty"`
}

// Tool is one entry of the tools list. Only function declarations are
// translated; the server-side tools are decoded so that they can be refused.
type Tool struct {
	FunctionDeclarations  []FunctionDeclaration `json:"functionDeclarations,omitempty"`
	GoogleSearch          json.RawMessage       `json:"googleSearch,omitempty"`
	GoogleSearchRetrieval json.RawMessage       `json:"googleSearchRetrieval,omitempty"`
	CodeExecution         json.RawMessage       `json:"codeExecution,omitempty"`
	URLContext            json.RawMessage       `json:"urlContext,omitempty"`
	GoogleMaps            json.RawMessage       `json:"googleMaps,omitempty"`
	FileSearch            json.RawMessage       `json:"fileSearch,omitempty"`
	ComputerUse           json.RawMessage       `json:"computerUse,omitempty"`
	Retrieval             json.RawMessage       `json:"retrieval,omitempty"`
	EnterpriseWebSearch   json.RawMessage       `json:"enterpriseWebSearch,omitempty"`
	MCPServers            json.RawMessage       `json:"mcpServers,omitempty"`
}

// FunctionDeclaration declares a callable function. Parameters is Gemini's
// OpenAPI-subset Schema; ParametersJSONSchema (inbound only) is full JSON Schema.
type FunctionDeclaration struct {
	Name                 string          `json:"name"`
	Description          string          `json:"description,omitempty"`
	Parameters           json.RawMessage `json:"parameters,omitempty"`
	ParametersJSONSchema json.RawMessage `json:"parametersJsonSchema,omitempty"`
}

// ToolConfig is shared by all tools of a request.
type ToolConfig struct {
	FunctionCallingConfig *FunctionCallingConfig `json:"functionCallingConfig,omitempty"`
}

// FunctionCallingConfig mode is AUTO, ANY, NONE or VALIDATED.
type FunctionCallingConfig struct {
	Mode                 string   `json:"mode,omitempty"`
	AllowedFunctionNames []string `json:"allowedFunctionNames,omitempty"`
}

// GenerationConfig holds the sampling and output options.
type GenerationConfig struct {
	Temperature        *float64        `json:"temperature,omitempty"`
	TopP               *float64        `json:"topP,omitempty"`
	TopK               *float64        `json:"topK,omitempty"` // int32 upstream; the Go SDK sends a float
	CandidateCount     *int            `json:"candidateCount,omitempty"`
	MaxOutputTokens    *int            `json:"maxOutputTokens,omitempty"`
	StopSequences      []string        `json:"stopSequences,omitempty"`
	PresencePenalty    *float64        `json:"presencePenalty,omitempty"`
	FrequencyPenalty   *float64        `json:"frequencyPenalty,omitempty"`
	Seed               *int64          `json:"seed,omitempty"`
	ResponseMimeType   string          `json:"responseMimeType,omitempty"`
	ResponseSchema     json.RawMessage `json:"responseSchema,omitempty"`
	ResponseJSONSchema json.RawMessage `json:"responseJsonSchema,omitempty"`
	ThinkingConfig     *ThinkingConfig `json:"thinkingConfig,omitempty"`
	// Inbound only: decoded so that ToChat can refuse what it cannot honour.
	ResponseModalities []string        `json:"responseModalities,omitempty"`
	ResponseLogprobs   *bool           `json:"responseLogprobs,omitempty"`
	Logprobs           *int            `json:"logprobs,omitempty"`
	SpeechConfig       json.RawMessage `json:"speechConfig,omitempty"`
	ImageConfig        json.RawMessage `json:"imageConfig,omitempty"`
}

// ThinkingConfig controls the thinking of 2.5+ models. ThinkingBudget 0
// disables thinking, -1 lets the model decide; ThinkingLevel is Gemini 3's
// alternative (MINIMAL, LOW, MEDIUM, HIGH).
type ThinkingConfig struct {
	IncludeThoughts bool   `json:"includeThoughts,omitempty"`
	ThinkingBudget  *int   `json:"thinkingBudget,omitempty"`
	ThinkingLevel   string `json:"thinkingLevel,omitempty"`
}

// GenerateResponse is one generateContent answer, or one event of a stream.
type GenerateResponse struct {
	Candidates     []Candidate     `json:"candidates,omitempty"`
	PromptFeedback *PromptFeedback `json:"promptFeedback,omitempty"`
	UsageMetadata  *UsageMetadata  `json:"usageMetadata,omitempty"`
	ModelVersion   string          `json:"modelVersion,omitempty"`
	ResponseID     string          `json:"responseId,omitempty"`
}

// Candidate is one generated answer.
type Candidate struct {
	Content      *Content `json:"content,omitempty"`
	FinishReason string   `json:"finishReason,omitempty"`
	// Index is omitted for 0, as Gemini (proto3 JSON) does.
	Index int `json:"index,omitempty"`
}

// PromptFeedback reports a prompt blocked before any candidate was generated.
type PromptFeedback struct {
	BlockReason string `json:"blockReason,omitempty"`
}

// UsageMetadata is Gemini's token accounting. PromptTokenCount includes the
// cached tokens; TotalTokenCount = prompt + candidates + thoughts + tool use.
type UsageMetadata struct {
	PromptTokenCount        int `json:"promptTokenCount,omitempty"`
	CandidatesTokenCount    int `json:"candidatesTokenCount,omitempty"`
	CachedContentTokenCount int `json:"cachedContentTokenCount,omitempty"`
	ThoughtsTokenCount      int `json:"thoughtsTokenCount,omitempty"`
	ToolUsePromptTokenCount int `json:"toolUsePromptTokenCount,omitempty"`
	TotalTokenCount         int `json:"totalTokenCount,omitempty"`
}

// batchEmbedRequest is the body of models.batchEmbedContents.
type batchEmbedRequest struct {
	Requests []embedContentRequest `json:"requests"`
}

type embedContentRequest struct {
	Model                string  `json:"model"`
	Content              Content `json:"content"`
	OutputDimensionality *int    `json:"outputDimensionality,omitempty"`
}

// batchEmbedResponse keeps the values as raw numbers so that float output is
// passed on digit for digit.
type batchEmbedResponse struct {
	Embeddings []struct {
		Values []json.Number `json:"values"`
	} `json:"embeddings"`
}
