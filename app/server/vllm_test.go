package server_test

// The relayed endpoints: the vLLM family (/v1/vllm/*) and the OpenAI Images
// API (/v1/images/*).

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime/multipart"
	"reflect"
	"strings"
	"testing"

	"github.com/llmgw/gateway/app/fakeupstream"
)

// vllmProvider declares the fake's vLLM server; vllmModels prices one of its
// models and maps two catalog names onto vLLM's served names.
const (
	vllmProvider = `  - {id: vllm, baseUrl: "FAKE` + fakeupstream.VLLMPrefix + `"}
`
	vllmModels = `
  - id: fake-llama
    providers:
      - {provider: vllm, model: fake-llama, inputPrice: 1.00, outputPrice: 2.00}
  - id: llama-small
    providers:
      - {provider: vllm, model: fake-llama, inputPrice: 1.00, outputPrice: 2.00}
  - id: whisper
    capabilities: []
    providers:
      - {provider: vllm, model: openai/whisper-large-v3, requestPrice: 0.001}
`
)

func startVLLM(t *testing.T, dialect string) *harness {
	t.Helper()
	h := startGateway(t, dialect, map[string]string{"LLM_VLLM_API_KEY": "sk-vllm-upstream"})
	writeCatalogWith(t, h, vllmProvider, vllmModels)
	return h
}

// multipartBody builds a form: fields, then files (name -> content).
func multipartBody(t *testing.T, fields map[string]string, files map[string][]byte) (string, string) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for k, v := range fields {
		if err := w.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range files {
		fw, err := w.CreateFormFile(k, k+".bin")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = fw.Write(v)
	}
	_ = w.Close()
	return b.String(), w.FormDataContentType()
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func jsonMap(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestVLLMEndpoints: every endpoint reaches the fake vLLM server at its
// path with the body intact and the upstream's key (never the gateway key),
// answers what the server answered, and writes one log row with the tokens
// the answer reported.
func TestVLLMEndpoints(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		h := startVLLM(t, dialect)
		audio := bytes.Repeat([]byte{0x52, 0x49, 0x46, 0x46, 0}, 2000)
		audioForm, audioType := multipartBody(t, map[string]string{"model": "openai/whisper-large-v3", "language": "en"}, map[string][]byte{"file": audio})

		cases := []struct {
			name, method, path, body, ctype string
			upPath                          string
			want                            string // in the answer
			prompt, completion              int    // tokens logged (-1: any > 0)
			priced                          bool
		}{
			{"models", "GET", "/v1/vllm/models", "", "", "/vllm/v1/models", `"id":"fake-llama"`, 0, 0, false},
			{"models", "POST", "/v1/vllm/models", "", "", "/vllm/v1/models", `"max_model_len":4096`, 0, 0, false},
			{"chat.completions", "POST", "/v1/vllm/chat/completions",
				`{"model":"fake-llama","messages":[{"role":"user","content":"hello vllm"}],"top_k":5,"repetition_penalty":1.1,"chat_template_kwargs":{"enable_thinking":false}}`,
				"", "/vllm/v1/chat/completions", `"Hello! You said: hello vllm"`, 12, 5, true},
			{"completions", "POST", "/v1/vllm/completions", `{"model":"fake-llama","prompt":"once upon a time","max_tokens":4,"min_p":0.1}`,
				"", "/vllm/v1/completions", `"stop_reason":null`, 4, 4, true},
			{"responses", "POST", "/v1/vllm/responses", `{"model":"fake-llama","input":"say something nice"}`,
				"", "/vllm/v1/responses", `"output_text"`, 3, 2, true},
			{"embeddings", "POST", "/v1/vllm/embeddings", `{"model":"fake-llama","input":["a b c","d e"]}`,
				"", "/vllm/v1/embeddings", `"object":"embedding"`, 5, 0, true},
			{"tokenize", "POST", "/v1/vllm/tokenize", `{"model":"fake-llama","prompt":"count these four words","add_special_tokens":true}`,
				"", "/vllm/tokenize", `"tokens":[1005,1005,1004,1005]`, 0, 0, false},
			{"detokenize", "POST", "/v1/vllm/detokenize", `{"model":"fake-llama","tokens":[1,2,3]}`,
				"", "/vllm/detokenize", `"prompt":"tok1 tok2 tok3"`, 0, 0, false},
			{"pooling", "POST", "/v1/vllm/pooling", `{"model":"fake-llama","input":"pool me please"}`,
				"", "/vllm/pooling", `"object":"pooling"`, 3, 0, true},
			{"classify", "POST", "/v1/vllm/classify", `{"model":"unlisted-classifier","input":["good movie","bad movie"]}`,
				"", "/vllm/classify", `"label":"positive"`, 4, 0, false},
			{"score", "POST", "/v1/vllm/score", `{"model":"fake-llama","text_1":"what is vllm","text_2":["a serving engine","a fruit"]}`,
				"", "/vllm/score", `"object":"score"`, 8, 0, true},
			{"rerank", "POST", "/v1/vllm/rerank", `{"model":"fake-llama","query":"fast inference","documents":["vllm is fast inference","bananas"],"top_n":1}`,
				"", "/vllm/rerank", `"relevance_score"`, 7, 0, true},
			{"audio.transcriptions", "POST", "/v1/vllm/audio/transcriptions", audioForm, audioType,
				"/vllm/v1/audio/transcriptions", `"Transcribed 10000 bytes of file.bin."`, 0, 0, true},
			{"audio.translations", "POST", "/v1/vllm/audio/translations", audioForm, audioType,
				"/vllm/v1/audio/translations", `"Translated 10000 bytes of file.bin."`, 0, 0, true},
		}
		for _, c := range cases {
			t.Run(c.name+"_"+c.method, func(t *testing.T) {
				var headers []string
				if c.ctype != "" {
					headers = []string{"Content-Type", c.ctype}
				}
				r := h.send(c.method, c.path, c.body, headers...)
				if r.status != 200 || !strings.Contains(string(r.body), c.want) {
					t.Fatalf("%d %s", r.status, r.body)
				}
				up := h.fake.Last()
				if up.Path != c.upPath || up.Header.Get("Authorization") != "Bearer sk-vllm-upstream" || up.Header.Get("X-Request-Id") != r.requestID {
					t.Fatalf("upstream %s %v", up.Path, up.Header)
				}
				switch {
				case c.ctype != "": // multipart: every field and the file intact
					file, _ := up.Body["file"].(map[string]any)
					if up.Body["model"] != "openai/whisper-large-v3" || up.Body["language"] != "en" || file["sha256"] != sha(audio) {
						t.Fatalf("upstream form: %v", up.Body)
					}
				case c.body != "":
					if !reflect.DeepEqual(up.Body, jsonMap(t, c.body)) {
						t.Fatalf("upstream body %v, sent %s", up.Body, c.body)
					}
				}
				if r.header.Get("X-LLMGateway-Used-Provider") != "vllm" {
					t.Fatalf("headers %v", r.header)
				}
				rows := h.logs(r.requestID)
				if len(rows) != 1 {
					t.Fatalf("%d log rows", len(rows))
				}
				row := rows[0]
				if row.Endpoint != "vllm."+c.name || row.Status != 200 || row.UsedProvider != "vllm" || row.RequestedProvider != "vllm" ||
					row.PromptTokens != c.prompt || row.CompletionTokens != c.completion || (row.TotalCost != nil) != c.priced {
					t.Fatalf("log row %+v", row)
				}
				if c.priced && c.prompt > 0 && (row.TotalCost == nil || *row.TotalCost != int64(c.prompt*1000+c.completion*2000)) {
					t.Fatalf("cost %v for %d+%d tokens", row.TotalCost, c.prompt, c.completion)
				}
			})
		}
	})
}

func TestVLLMStreaming(t *testing.T) {
	h := startVLLM(t, "sqlite")
	for _, c := range []struct{ path, body, want string }{
		{"/v1/vllm/chat/completions", `{"model":"fake-llama","stream":true,"messages":[{"role":"user","content":"stream it"}]}`, `"content":" it"`},
		{"/v1/vllm/completions", `{"model":"fake-llama","stream":true,"prompt":"go on","stream_options":{"continuous_usage_stats":false}}`, `"text":" words"`},
	} {
		r := h.send("POST", c.path, c.body)
		if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/event-stream") ||
			!strings.Contains(string(r.body), c.want) || !strings.HasSuffix(string(r.body), "data: [DONE]\n\n") {
			t.Fatalf("%s: %d %v %s", c.path, r.status, r.header, r.body)
		}
		up := h.fake.Last().Body
		opts, _ := up["stream_options"].(map[string]any)
		if opts["include_usage"] != true || up["stream"] != true {
			t.Fatalf("%s: upstream %v", c.path, up)
		}
		rows := h.logs(r.requestID)
		if len(rows) != 1 || !rows[0].Streamed || rows[0].PromptTokens == 0 || rows[0].CompletionTokens == 0 || rows[0].TotalCost == nil ||
			rows[0].TTFTMs == nil {
			t.Fatalf("%s: rows %+v", c.path, rows)
		}
	}
}

func TestVLLMAuthErrorsAndRenames(t *testing.T) {
	h := startVLLM(t, "sqlite")
	n := len(h.fake.Requests())
	for _, auth := range []string{"", "Bearer sk-wrong"} {
		resp := h.post("/v1/vllm/tokenize", `{"prompt":"x"}`, "Authorization", auth)
		if e := readEnvelope(t, resp.Body); resp.StatusCode != 401 || str(e.Error.Code) != "invalid_api_key" {
			t.Fatalf("auth %q: %d %+v", auth, resp.StatusCode, e)
		}
	}
	r := h.send("GET", "/v1/vllm/models", "", "Authorization", "Bearer nope")
	if r.status != 401 || len(h.fake.Requests()) != n {
		t.Fatalf("models without a key: %d, upstream calls %d", r.status, len(h.fake.Requests())-n)
	}

	// The upstream's error comes back as it sent it, and is logged.
	r = h.send("POST", "/v1/vllm/tokenize", `{"model":"fake-llama","prompt":"#status 400"}`)
	if r.status != 400 || string(r.body) != `{"object":"error","message":"fake vllm error 400","type":"BadRequestError","param":null,"code":400}` {
		t.Fatalf("upstream error: %d %s", r.status, r.body)
	}
	if rows := h.logs(r.requestID); len(rows) != 1 || rows[0].Status != 400 || rows[0].ErrorMessage != "fake vllm error 400" {
		t.Fatalf("error rows %+v", rows)
	}
	r = h.send("POST", "/v1/vllm/rerank", `{"model":"fake-llama","query":"#status 503","documents":["a"]}`)
	if r.status != 503 || !strings.Contains(string(r.body), "fake vllm error 503") {
		t.Fatalf("upstream 503: %d %s", r.status, r.body)
	}
	// Gateway-side validation.
	for _, c := range []struct {
		path, body string
		status     int
		code       string
	}{
		{"/v1/vllm/score", `{"model":`, 400, "invalid_json"},
		{"/v1/vllm/score", `[1]`, 400, "<null>"},
		{"/v1/vllm/score", `{"model":7}`, 400, "<null>"},
		{"/v1/vllm/rerank", `{"model":"nobody/else","query":"q","documents":["a"]}`, 200, ""}, // unlisted: passed through unpriced
	} {
		resp := h.post(c.path, c.body)
		if resp.StatusCode != c.status {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("%s %s: %d %s", c.path, c.body, resp.StatusCode, b)
		}
		if c.status != 200 {
			if e := readEnvelope(t, resp.Body); str(e.Error.Code) != c.code {
				t.Fatalf("%s: %+v", c.body, e)
			}
		}
	}

	// A catalog name is renamed to the vLLM served name: JSON and multipart.
	if r := h.send("POST", "/v1/vllm/chat/completions", `{"model":"llama-small","messages":[{"role":"user","content":"hi"}]}`); r.status != 200 ||
		h.fake.Last().Body["model"] != "fake-llama" || h.fake.Last().Body["messages"] == nil {
		t.Fatalf("rename: %d %s %v", r.status, r.body, h.fake.Last().Body)
	}
	form, ctype := multipartBody(t, map[string]string{"model": "whisper", "response_format": "text"}, map[string][]byte{"file": []byte("RIFF....")})
	r = h.send("POST", "/v1/vllm/audio/transcriptions", form, "Content-Type", ctype)
	file, _ := h.fake.Last().Body["file"].(map[string]any)
	if r.status != 200 || string(r.body) != "Transcribed 8 bytes of file.bin." || h.fake.Last().Body["model"] != "openai/whisper-large-v3" ||
		file["sha256"] != sha([]byte("RIFF....")) || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
		t.Fatalf("multipart rename: %d %s %v", r.status, r.body, h.fake.Last().Body)
	}
	if rows := h.logs(r.requestID); len(rows) != 1 || rows[0].TotalCost == nil || *rows[0].TotalCost != 1_000_000 { // requestPrice $0.001
		t.Fatalf("audio rows %+v", rows)
	}
}

func TestVLLMNotConfigured(t *testing.T) {
	h := startGateway(t, "sqlite", nil)
	resp := h.post("/v1/vllm/tokenize", `{"prompt":"x"}`)
	if e := readEnvelope(t, resp.Body); resp.StatusCode != 400 || str(e.Error.Code) != "provider_not_configured" || !strings.Contains(e.Error.Message, "vllm") {
		t.Fatalf("%d %+v", resp.StatusCode, e)
	}
}

// imageModels: dall-e models priced per image (requestPrice, declared with
// no text capability), gpt-image-1 per token (recognised by its family name).
const imageModels = `
  - id: dall-e-3
    capabilities: []
    providers:
      - {provider: openai, model: dall-e-3, requestPrice: 0.04}
  - id: dall-e-2
    capabilities: []
    providers:
      - {provider: openai, model: dall-e-2, requestPrice: 0.02}
  - id: gpt-image-1
    providers:
      - {provider: openai, model: gpt-image-1, inputPrice: 5.00, outputPrice: 40.00}
`

func TestImagesGenerations(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		h := startGateway(t, dialect, nil)
		writeModels(t, h, imageModels)

		body := `{"model":"dall-e-3","prompt":"a red fox in the snow","n":2,"size":"1024x1024","quality":"standard","response_format":"url"}`
		r := h.send("POST", "/v1/images/generations", body)
		m := r.json(t)
		data, _ := m["data"].([]any)
		if r.status != 200 || len(data) != 2 || !strings.HasPrefix(data[0].(map[string]any)["url"].(string), h.fake.URL) {
			t.Fatalf("generations: %d %s", r.status, r.body)
		}
		up := h.fake.Last()
		if up.Path != "/v1/images/generations" || !reflect.DeepEqual(up.Body, jsonMap(t, body)) || up.Header.Get("Authorization") != "Bearer sk-upstream-test" {
			t.Fatalf("upstream %s %v", up.Path, up.Body)
		}
		rows := h.logs(r.requestID)
		if len(rows) != 1 || rows[0].Endpoint != "images.generations" || rows[0].Status != 200 || rows[0].UsedProvider != "openai" ||
			rows[0].UsedModel != "dall-e-3" || rows[0].TotalCost == nil || *rows[0].TotalCost != 80_000_000 { // 2 × $0.04
			t.Fatalf("rows %+v", rows)
		}

		// gpt-image-1: b64_json images, token usage metered; a pinned name is
		// sent upstream as the provider's id.
		r = h.send("POST", "/v1/images/generations", `{"model":"openai/gpt-image-1","prompt":"four words of prompt"}`)
		m = r.json(t)
		img, _ := base64.StdEncoding.DecodeString(m["data"].([]any)[0].(map[string]any)["b64_json"].(string))
		if r.status != 200 || !bytes.Equal(img, fakeupstream.FakePNG) || h.fake.Last().Body["model"] != "gpt-image-1" {
			t.Fatalf("gpt-image-1: %d %s", r.status, r.body)
		}
		rows = h.logs(r.requestID)
		if len(rows) != 1 || rows[0].PromptTokens != 4 || rows[0].CompletionTokens != 272 || rows[0].TotalCost == nil ||
			*rows[0].TotalCost != 4*5000+272*40000 || rows[0].RequestedProvider != "openai" {
			t.Fatalf("gpt-image rows %+v", rows)
		}

		// Errors: unknown model, a chat model, no model, no key, upstream error.
		for _, c := range []struct {
			body   string
			status int
			code   string
		}{
			{`{"model":"dall-e-9","prompt":"x"}`, 404, "model_not_found"},
			{`{"model":"gpt-4o-mini","prompt":"x"}`, 400, "invalid_model"},
			{`{"prompt":"x"}`, 400, "<null>"},
			{`{"model":"dall-e-3","prompt":"#status 400"}`, 400, "fake_400"},
		} {
			resp := h.post("/v1/images/generations", c.body)
			if e := readEnvelope(t, resp.Body); resp.StatusCode != c.status || str(e.Error.Code) != c.code {
				t.Fatalf("%s: %d %+v", c.body, resp.StatusCode, e)
			}
		}
		resp := h.post("/v1/images/generations", body, "Authorization", "")
		if resp.StatusCode != 401 {
			t.Fatalf("no key: %d", resp.StatusCode)
		}
	})
}

func TestImagesEditsAndVariations(t *testing.T) {
	h := startGateway(t, "sqlite", nil)
	writeModels(t, h, imageModels)
	png, mask := fakeupstream.FakePNG, append([]byte("mask"), fakeupstream.FakePNG...)

	form, ctype := multipartBody(t, map[string]string{"model": "gpt-image-1", "prompt": "add a hat", "n": "2", "size": "1024x1024"},
		map[string][]byte{"image": png, "mask": mask})
	r := h.send("POST", "/v1/images/edits", form, "Content-Type", ctype)
	m := r.json(t)
	if r.status != 200 || len(m["data"].([]any)) != 2 {
		t.Fatalf("edits: %d %s", r.status, r.body)
	}
	up := h.fake.Last()
	image, _ := up.Body["image"].(map[string]any)
	mk, _ := up.Body["mask"].(map[string]any)
	if up.Path != "/v1/images/edits" || up.Body["prompt"] != "add a hat" || up.Body["n"] != "2" || up.Body["model"] != "gpt-image-1" ||
		image["sha256"] != sha(png) || mk["sha256"] != sha(mask) || !strings.HasPrefix(up.Header.Get("Content-Type"), "multipart/form-data; boundary=") {
		t.Fatalf("upstream form %v %v", up.Body, up.Header)
	}
	rows := h.logs(r.requestID)
	if len(rows) != 1 || rows[0].Endpoint != "images.edits" || rows[0].PromptTokens != 3 || rows[0].CompletionTokens != 544 || rows[0].TotalCost == nil {
		t.Fatalf("edit rows %+v", rows)
	}

	// A pinned name in a form is renamed, the image bytes untouched.
	form, ctype = multipartBody(t, map[string]string{"model": "openai/dall-e-2", "n": "1", "response_format": "b64_json"}, map[string][]byte{"image": png})
	r = h.send("POST", "/v1/images/variations", form, "Content-Type", ctype)
	up = h.fake.Last()
	image, _ = up.Body["image"].(map[string]any)
	if r.status != 200 || up.Path != "/v1/images/variations" || up.Body["model"] != "dall-e-2" || image["sha256"] != sha(png) {
		t.Fatalf("variations: %d %s %v", r.status, r.body, up.Body)
	}
	if rows := h.logs(r.requestID); len(rows) != 1 || rows[0].Endpoint != "images.variations" || rows[0].TotalCost == nil || *rows[0].TotalCost != 20_000_000 {
		t.Fatalf("variation rows %+v", rows)
	}
	// Variations need a form.
	resp := h.post("/v1/images/variations", `{"model":"dall-e-2"}`)
	if resp.StatusCode != 400 {
		t.Fatalf("JSON variations: %d", resp.StatusCode)
	}
}
