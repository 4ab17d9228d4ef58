// Package odock speaks Odock's unified chat API, POST /v1/llm/chat, as
// described in the Odock "LLM Gateway API" document
// (shared/seeds/odock-gateway-api.md), and translates it to and from the
// gateway's neutral OpenAI Chat Completions types (package schema).
//
// The document gives one request example (provider, model, messages with
// role/content, temperature, max_tokens, stream) and otherwise lists the
// request and response fields in prose. It specifies no response example,
// no stream format and no error body. Those field names, the stream and the
// error shape are this package's choices, following the example's snake_case
// and the Anthropic-style vocabulary the document uses ("stop reason",
// "content blocks", "input/output tokens", "top-k", "stop sequences"):
//
// Request (POST /v1/llm/chat):
//
//	provider           string, optional; lower-cased. Aliases: gemini, google → google-ai-studio
//	model              string, required
//	messages           [{role, content, name?, tool_calls?, tool_call_id?}], required
//	temperature        number 0..2        max_tokens  integer ≥ 1
//	top_p              number 0..1        top_k       integer ≥ 1
//	stop_sequences     [string] (a lone string is accepted)
//	presence_penalty, frequency_penalty   number -2..2
//	seed               integer            metadata    object (forwarded as given)
//	response_format    "text" | "json" | {type: text|json_object|json_schema, json_schema?|schema?}
//	tools              [{type?: "function", name, description?, parameters?|input_schema?, strict?}]
//	                   or OpenAI's [{type: "function", function: {...}}]
//	tool_choice        "auto"|"none"|"required"|"any" or {type: tool|function, name}
//	stream             boolean
//
// Content is a string or an array of blocks: text {text}, image_url
// {image_url: {url, detail?}} or image {url} / {source: {type: base64,
// media_type, data} | {type: url, url}}, tool_use {id, name, input}
// (assistant), tool_result {tool_use_id, content, is_error?} (user or tool),
// thinking {thinking, signature?} (assistant). Unknown fields are rejected
// with a message naming them; the document's server-side request fields (raw
// provider payload, upstream base URL, API key, timeout, model override) are
// never accepted from a client.
//
// Response:
//
//	{"provider", "model", "content", "stop_reason", "content_blocks",
//	 "tool_calls", "input_tokens", "output_tokens", "provider_usage",
//	 "provider_request_id"}
//
// stop_reason is end_turn | max_tokens | tool_use | content_filter | refusal
// (other upstream values pass through). content_blocks are thinking, text
// and tool_use blocks (input: the arguments object); tool_calls are {id,
// type: "function", name, arguments} with arguments the JSON text the model
// produced. Either can be replayed in an assistant message.
// provider_usage is the gateway's full usage object (tokens and cost);
// provider_request_id is the upstream response id.
//
// Stream (stream: true): server-sent events, one JSON object per event whose
// "type" repeats the event name:
//
//	event: start   {"type":"start","provider","model","provider_request_id"}
//	event: delta   {"type":"delta","content"?,"thinking"?,"tool_calls"?:[{index,id?,name?,arguments}]}
//	event: done    {"type":"done","response":{...the full non-streaming response...}}
//	event: error   {"type":"error","error":{"code","message","status"}}
//
// done or error is always the last event; there is no [DONE] sentinel.
//
// Errors: {"error":{"code","message","status"}}, with the HTTP status of the
// document's table (402 budget_exceeded, 503 dependency_unavailable, ...).
package odock
