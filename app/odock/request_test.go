package odock

import (
	"errors"
	"strings"
	"testing"
)

// The document's only /v1/llm/chat example (odock-gateway-api.md lines
// 29-38), copied verbatim to testdata/requests/doc_example.json.
func TestDocExample(t *testing.T) {
	r, err := DecodeRequest(readFile(t, "requests/doc_example.json"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Provider != "openai" || r.Model != "my-chat-model" || len(r.Messages) != 1 ||
		r.Messages[0].Role != "user" || *r.Messages[0].Content.Text != "Write a short summary." ||
		*r.Temperature != 0.2 || *r.MaxTokens != 512 || r.Stream {
		t.Fatalf("decoded %+v", r)
	}
	req, err := ToChat(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"model":"openai/my-chat-model","messages":[{"role":"user","content":"Write a short summary."}],"max_completion_tokens":512,"temperature":0.2}`
	if got := mustJSON(t, req); got != want {
		t.Errorf("ToChat:\n got %s\nwant %s", got, want)
	}
}

// The document's curl body (line 19) has no provider, which the document
// allows (line 40): the model goes to the gateway unprefixed, for routing.
func TestDocCurlBody(t *testing.T) {
	r, err := DecodeRequest(readFile(t, "requests/doc_curl_body.json"))
	if err != nil {
		t.Fatal(err)
	}
	req, err := ToChat(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"model":"my-chat-model","messages":[{"role":"user","content":"Hello"}]}`
	if got := mustJSON(t, req); got != want {
		t.Errorf("ToChat:\n got %s\nwant %s", got, want)
	}
}

func TestRequestGolden(t *testing.T) {
	for _, name := range []string{"doc_example", "doc_curl_body", "full", "openai_shapes", "provider_prefixed", "no_provider_nulls"} {
		t.Run(name, func(t *testing.T) {
			r, err := DecodeRequest(readFile(t, "requests/"+name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			req, err := ToChat(r)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "requests/"+name+".chat.golden.json", indentJSON(t, req))
		})
	}
}

func TestGatewayModel(t *testing.T) {
	for _, c := range []struct{ provider, model, want string }{
		{"", "my-chat-model", "my-chat-model"},
		{"", "openai/gpt-4o", "openai/gpt-4o"},
		{"openai", "gpt-4o", "openai/gpt-4o"},
		{"openai", "openai/gpt-4o", "openai/gpt-4o"},
		{"openrouter", "openai/gpt-4o-mini", "openrouter/openai/gpt-4o-mini"},
		{"gemini", "gemini-2.5-pro", "google-ai-studio/gemini-2.5-pro"},
		{"gemini", "gemini/gemini-2.5-pro", "google-ai-studio/gemini-2.5-pro"},
		{"gemini", "google-ai-studio/gemini-2.5-pro", "google-ai-studio/gemini-2.5-pro"},
		{"Anthropic", "claude-sonnet-4-5", "anthropic/claude-sonnet-4-5"},
	} {
		if got := GatewayModel(c.provider, c.model); got != c.want {
			t.Errorf("GatewayModel(%q, %q) = %q, want %q", c.provider, c.model, got, c.want)
		}
	}
}

func TestValidationErrors(t *testing.T) {
	const msg = `"messages":[{"role":"user","content":"Hi"}]`
	for _, c := range []struct{ body, want string }{
		{``, `the request body is empty`},
		{`[]`, `the request body must be a JSON object`},
		{`{"model":`, `the request body is not valid JSON: unexpected end of JSON input`},
		{`{` + msg + `}`, `model: is required`},
		{`{"model":"","messages":[]}`, `model: must not be empty`},
		{`{"model":7,` + msg + `}`, `model: must be a string, got number`},
		{`{"model":"m"}`, `messages: is required`},
		{`{"model":"m","messages":[]}`, `messages: must contain at least one message`},
		{`{"model":"m","messages":{}}`, `messages: must be an array, got object`},
		{`{"model":"m","messages":["hi"]}`, `messages[0]: must be an object, got string`},
		{`{"model":"m","messages":[{"content":"x"}]}`, `messages[0].role: is required`},
		{`{"model":"m","messages":[{"role":"user","content":"a"},{"role":"human","content":"b"}]}`,
			`messages[1].role: must be one of system, developer, user, assistant, tool, got "human"`},
		{`{"model":"m","messages":[{"role":"user"}]}`, `messages[0].content: is required`},
		{`{"model":"m","messages":[{"role":"assistant","content":null}]}`, `messages[0].content: is required unless tool_calls is set`},
		{`{"model":"m","messages":[{"role":"user","content":7}]}`, `messages[0].content: must be a string or an array of content blocks, got number`},
		{`{"model":"m","messages":[{"role":"user","content":[]}]}`, `messages[0].content: must contain at least one content block`},
		{`{"model":"m","messages":[{"role":"user","content":"x","foo":1}]}`,
			`messages[0].foo: unknown field (allowed: role, content, name, tool_calls, tool_call_id)`},
		{`{"model":"m","messages":[{"role":"tool","content":"x"}]}`, `messages[0].tool_call_id: is required in messages with role "tool"`},
		{`{"model":"m","messages":[{"role":"user","content":"x","tool_call_id":"a"}]}`, `messages[0].tool_call_id: is only allowed in messages with role "tool"`},
		{`{"model":"m","messages":[{"role":"user","content":"x","tool_calls":[]}]}`, `messages[0].tool_calls: is only allowed in messages with role "assistant"`},
		{`{"model":"m","messages":[{"role":"user","content":[{"text":"x"}]}]}`, `messages[0].content[0].type: is required`},
		{`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"video"}]}]}`,
			`messages[0].content[1].type: "video" blocks are not allowed in user messages (allowed: text, image_url, image, tool_result)`},
		{`{"model":"m","messages":[{"role":"system","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"}}]}]}`,
			`messages[0].content[0].type: "image_url" blocks are not allowed in system messages (allowed: text)`},
		{`{"model":"m","messages":[{"role":"user","content":[{"type":"text"}]}]}`, `messages[0].content[0].text: is required`},
		{`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"x","cache_control":{}}]}]}`,
			`messages[0].content[0].cache_control: unknown field (allowed: type, text)`},
		{`{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"ftp://x"}}]}]}`,
			`messages[0].content[0].image_url.url: must be an http(s) URL or a data: URI`},
		{`{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x","detail":"max"}}]}]}`,
			`messages[0].content[0].image_url.detail: must be one of auto, low, high, got "max"`},
		{`{"model":"m","messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/bmp","data":"AA"}}]}]}`,
			`messages[0].content[0].source.media_type: must be one of image/jpeg, image/png, image/gif, image/webp, got "image/bmp"`},
		{`{"model":"m","messages":[{"role":"user","content":[{"type":"image","url":"https://x","source":{}}]}]}`,
			`messages[0].content[0]: set either url or source, not both`},
		{`{"model":"m","messages":[{"role":"assistant","content":[{"type":"tool_use","name":"f"}]}]}`,
			`messages[0].content[0].id: is required`},
		{`{"model":"m","messages":[{"role":"assistant","content":[{"type":"tool_use","id":"a","name":"f","input":[1]}]}]}`,
			`messages[0].content[0].input: must be an object, got array`},
		{`{"model":"m","messages":[{"role":"assistant","content":[{"type":"tool_use","id":"a","name":"f"}],"tool_calls":[{"id":"a","name":"g"}]}]}`,
			`messages[0].tool_calls[0].id: tool call id "a" is used twice`},
		{`{"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"a","name":"f","function":{"name":"f"}}]}]}`,
			`messages[0].tool_calls[0].name: set name inside function or at the top level, not both`},
		{`{"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"a","type":"custom","name":"f"}]}]}`,
			`messages[0].tool_calls[0].type: must be "function", got "custom"`},
		{`{"model":"m","messages":[{"role":"user","content":[{"type":"tool_result","content":"x"}]}]}`,
			`messages[0].content[0].tool_use_id: is required`},
		{`{"model":"m","messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"a","content":[{"type":"image_url","image_url":"https://x"}]}]}]}`,
			`messages[0].content[0].content[0].type: "image_url" blocks are not allowed in tool messages (allowed: text)`},
		{`{"model":"m",` + msg + `,"temperature":3}`, `temperature: must be between 0 and 2, got 3`},
		{`{"model":"m",` + msg + `,"temperature":"0.2"}`, `temperature: must be a number, got string`},
		{`{"model":"m",` + msg + `,"max_tokens":0}`, `max_tokens: must be an integer between 1 and 2147483647, got 0`},
		{`{"model":"m",` + msg + `,"max_tokens":1.5}`, `max_tokens: must be an integer, got 1.5`},
		{`{"model":"m",` + msg + `,"top_p":1.1}`, `top_p: must be between 0 and 1, got 1.1`},
		{`{"model":"m",` + msg + `,"top_k":0}`, `top_k: must be an integer between 1 and 2147483647, got 0`},
		{`{"model":"m",` + msg + `,"presence_penalty":-3}`, `presence_penalty: must be between -2 and 2, got -3`},
		{`{"model":"m",` + msg + `,"frequency_penalty":true}`, `frequency_penalty: must be a number, got boolean`},
		{`{"model":"m",` + msg + `,"seed":"1"}`, `seed: must be an integer, got string`},
		{`{"model":"m",` + msg + `,"stop_sequences":[""]}`, `stop_sequences[0]: must not be an empty string`},
		{`{"model":"m",` + msg + `,"stop_sequences":[1]}`, `stop_sequences[0]: must be a string, got number`},
		{`{"model":"m",` + msg + `,"metadata":"x"}`, `metadata: must be an object, got string`},
		{`{"model":"m",` + msg + `,"stream":"yes"}`, `stream: must be a boolean, got string`},
		{`{"model":"m",` + msg + `,"provider":"openai/x"}`, `provider: must be a provider name such as "openai", got "openai/x"`},
		{`{"model":"m",` + msg + `,"response_format":"xml"}`, `response_format: must be one of text, json_object, json_schema, got "xml"`},
		{`{"model":"m",` + msg + `,"response_format":{"type":"json_schema"}}`, `response_format.schema: is required for type json_schema`},
		{`{"model":"m",` + msg + `,"response_format":{"type":"json_schema","json_schema":{"name":"a"},"schema":{}}}`,
			`response_format.schema: set schema inside json_schema or at the top level, not both`},
		{`{"model":"m",` + msg + `,"response_format":{"type":"text","schema":{}}}`,
			`response_format.schema: unknown field (allowed: type)`},
		{`{"model":"m",` + msg + `,"tools":{}}`, `tools: must be an array, got object`},
		{`{"model":"m",` + msg + `,"tools":[{"description":"x"}]}`, `tools[0].name: is required`},
		{`{"model":"m",` + msg + `,"tools":[{"name":"f"},{"name":"f"}]}`, `tools[1].name: tool "f" is defined twice`},
		{`{"model":"m",` + msg + `,"tools":[{"name":"f","parameters":"{}"}]}`, `tools[0].parameters: must be an object, got string`},
		{`{"model":"m",` + msg + `,"tools":[{"name":"f","parameters":{},"input_schema":{}}]}`, `tools[0].input_schema: set parameters or input_schema, not both`},
		{`{"model":"m",` + msg + `,"tools":[{"type":"function","function":{"name":"f","input_schema":{}}}]}`,
			`tools[0].function.input_schema: unknown field (allowed: name, description, parameters, strict)`},
		{`{"model":"m",` + msg + `,"tools":[{"type":"web_search","name":"f"}]}`, `tools[0].type: must be "function", got "web_search"`},
		{`{"model":"m",` + msg + `,"tool_choice":"sometimes"}`, `tool_choice: must be one of auto, none, required, any, tool, got "sometimes"`},
		{`{"model":"m",` + msg + `,"tool_choice":{"type":"tool"}}`, `tool_choice.name: is required`},
		{`{"model":"m",` + msg + `,"tool_choice":{"type":"auto","name":"f"}}`, `tool_choice: type "auto" takes no other field`},
		// Unknown fields: rejected, with hints for near misses and a clear
		// refusal of the document's server-side fields.
		{`{"model":"m",` + msg + `,"stop":["x"]}`, `stop: unknown field; use "stop_sequences"`},
		{`{"model":"m",` + msg + `,"max_completion_tokens":5}`, `max_completion_tokens: unknown field; use "max_tokens"`},
		{`{"model":"m",` + msg + `,"system":"be nice"}`, `system: unknown field; put the system prompt in a message with role "system"`},
		{`{"model":"m",` + msg + `,"base_url":"http://169.254.169.254"}`, `base_url: is set by the gateway and cannot be sent in a request`},
		{`{"model":"m",` + msg + `,"api_key":"sk-x"}`, `api_key: is set by the gateway and cannot be sent in a request`},
		{`{"model":"m",` + msg + `,"zzz":1}`, `zzz: unknown field (allowed: provider, model, messages, temperature, max_tokens, top_p, top_k, stop_sequences, presence_penalty, frequency_penalty, seed, metadata, response_format, tools, tool_choice, stream)`},
	} {
		_, err := DecodeRequest([]byte(c.body))
		if err == nil {
			t.Errorf("%s: no error, want %q", c.body, c.want)
			continue
		}
		var fe *FieldError
		if !errors.As(err, &fe) {
			t.Errorf("%s: error %T is not a *FieldError", c.body, err)
		}
		if err.Error() != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.body, err.Error(), c.want)
		}
		if fe != nil && fe.Field != "" && !strings.HasPrefix(c.want, fe.Field+": ") {
			t.Errorf("%s: Field %q does not lead the message", c.body, fe.Field)
		}
	}
}

// Errors only ToChat can see: the tool_choice must name a declared tool.
func TestToChatErrors(t *testing.T) {
	const msg = `"model":"m","messages":[{"role":"user","content":"Hi"}]`
	for _, c := range []struct{ body, want string }{
		{`{` + msg + `,"tools":[{"name":"f"}],"tool_choice":{"type":"tool","name":"g"}}`, `tool_choice.name: no tool named "g" in tools`},
		{`{` + msg + `,"tool_choice":"required"}`, `tool_choice: "required" needs tools`},
		{`{` + msg + `,"tool_choice":{"type":"function","function":{"name":"f"}}}`, `tool_choice.name: no tool named "f" in tools`},
	} {
		r, err := DecodeRequest([]byte(c.body))
		if err != nil {
			t.Fatalf("%s: %v", c.body, err)
		}
		_, err = ToChat(r)
		if err == nil || err.Error() != c.want {
			t.Errorf("%s:\n got %v\nwant %q", c.body, err, c.want)
		}
	}
	// A Request built in code is checked too.
	for _, c := range []struct {
		r    *Request
		want string
	}{
		{nil, "the request is empty"},
		{&Request{Model: "m"}, "messages: must contain at least one message"},
		{&Request{Model: "m", Messages: []Message{{Role: "bot", Content: TextContent("x")}}}, `messages[0].role: must be one of system, developer, user, assistant, tool, got "bot"`},
		{&Request{Model: "m", Messages: []Message{{Role: "system", Content: Content{Blocks: []ContentBlock{{Type: BlockToolUse}}}}}},
			`messages[0].content[0].type: "tool_use" blocks are not allowed in system messages (allowed: text)`},
		{&Request{Model: "m", Messages: []Message{{Role: "user", Content: TextContent("x")}}, Metadata: []byte(`[1]`)}, "metadata: must be a JSON object"},
		{&Request{Model: "m", Messages: []Message{{Role: "user", Content: TextContent("x")}}, ResponseFormat: &ResponseFormat{Type: "yaml"}},
			`response_format.type: must be one of text, json_object, json_schema, got "yaml"`},
	} {
		_, err := ToChat(c.r)
		if err == nil || err.Error() != c.want {
			t.Errorf("got %v, want %q", err, c.want)
		}
	}
}

// Accepted variants that are easy to get wrong.
func TestDecodeVariants(t *testing.T) {
	const msg = `"model":"m","messages":[{"role":"user","content":"Hi"}]`
	for _, c := range []struct{ body, want string }{
		{`{` + msg + `,"max_tokens":5e2}`, `"max_completion_tokens":500`},
		{`{` + msg + `,"seed":-9007199254740993}`, `"seed":-9007199254740993`},
		{`{` + msg + `,"stop_sequences":[]}`, `{"model":"m","messages":[{"role":"user","content":"Hi"}]}`},
		{`{` + msg + `,"tool_choice":"none"}`, `{"model":"m","messages":[{"role":"user","content":"Hi"}]}`},
		{`{` + msg + `,"response_format":{"type":"json_object"}}`, `"response_format":{"type":"json_object"}`},
		{`{` + msg + `,"top_k":5,"metadata":{"a":"b"}}`, `"metadata":{"a":"b"},"top_k":5}`},
		{`{` + msg + `,"stream":true}`, `"stream":true,"stream_options":{"include_usage":true}`},
		{`{"model":"m","messages":[{"role":"user","content":[{"type":"image","url":"https://x/a.png","detail":"high"}]}]}`,
			`"content":[{"type":"image_url","image_url":{"url":"https://x/a.png","detail":"high"}}]`},
		{`{"model":"m","messages":[{"role":"assistant","content":[{"type":"thinking","thinking":"hm"}]}]}`,
			`"messages":[{"role":"assistant","content":""}]`},
		{`{"model":"m","messages":[{"role":"assistant","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}]}`,
			`"content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]`},
		{`{"model":"m","messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1"}]}]}`,
			`"messages":[{"role":"tool","content":"","tool_call_id":"t1"}]`},
	} {
		r, err := DecodeRequest([]byte(c.body))
		if err != nil {
			t.Fatalf("%s: %v", c.body, err)
		}
		req, err := ToChat(r)
		if err != nil {
			t.Fatalf("%s: %v", c.body, err)
		}
		if got := mustJSON(t, req); !strings.Contains(got, c.want) {
			t.Errorf("%s:\n got %s\nwant it to contain %s", c.body, got, c.want)
		}
	}
}
