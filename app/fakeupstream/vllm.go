package fakeupstream

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// VLLMPrefix is where the fake serves a vLLM server: declare the vllm
// provider with baseUrl URL+VLLMPrefix. vLLM serves the OpenAI routes under
// /v1 and its own (tokenize, pooling, score, rerank, ...) at the root.
//
// Like the chat endpoint, a vLLM endpoint answers an error when the request
// asks for it: a top-level string field (prompt, input, query, text_1, ...)
// or a form field starting with "#status N" gets status N with vLLM's error
// body {"object":"error","message","type","param","code"}.
const VLLMPrefix = "/vllm"

func (s *Server) vllmRoutes(mux *http.ServeMux) {
	p := VLLMPrefix
	mux.HandleFunc("GET "+p+"/v1/models", s.vllmModels)
	mux.HandleFunc("POST "+p+"/v1/chat/completions", s.chat)
	mux.HandleFunc("POST "+p+"/v1/completions", s.vllmCompletions)
	mux.HandleFunc("POST "+p+"/v1/responses", s.vllmResponses)
	mux.HandleFunc("POST "+p+"/v1/embeddings", s.embeddings)
	mux.HandleFunc("POST "+p+"/v1/audio/transcriptions", s.vllmAudio)
	mux.HandleFunc("POST "+p+"/v1/audio/translations", s.vllmAudio)
	mux.HandleFunc("POST "+p+"/tokenize", s.vllmTokenize)
	mux.HandleFunc("POST "+p+"/detokenize", s.vllmDetokenize)
	mux.HandleFunc("POST "+p+"/pooling", s.vllmPooling)
	mux.HandleFunc("POST "+p+"/classify", s.vllmClassify)
	mux.HandleFunc("POST "+p+"/score", s.vllmScore)
	mux.HandleFunc("POST "+p+"/rerank", s.vllmRerank)
}

// recordForm records a multipart request: text fields as strings, files as
// {"filename", "size", "sha256", "content_type"}.
func (s *Server) recordForm(r *http.Request) map[string]any {
	body := map[string]any{}
	mr, err := r.MultipartReader()
	if err == nil {
		for {
			part, err := mr.NextPart()
			if err != nil {
				break
			}
			b, _ := io.ReadAll(part)
			if part.FileName() == "" {
				body[part.FormName()] = string(b)
				continue
			}
			sum := sha256.Sum256(b)
			body[part.FormName()] = map[string]any{"filename": part.FileName(), "size": len(b),
				"sha256": hex.EncodeToString(sum[:]), "content_type": part.Header.Get("Content-Type")}
		}
	}
	s.mu.Lock()
	s.requests = append(s.requests, Request{Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
	s.mu.Unlock()
	return body
}

// recordAny records a JSON or multipart request.
func (s *Server) recordAny(r *http.Request) map[string]any {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" {
		return s.recordForm(r)
	}
	return s.record(r)
}

// statusDirective finds "#status N" in a top-level string field.
func statusDirective(body map[string]any) int {
	for _, v := range body {
		if str, ok := v.(string); ok && strings.HasPrefix(str, "#status ") {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(str, "#status ")))
			return n
		}
	}
	return 0
}

func writeVLLMError(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"object":"error","message":"fake vllm error %d","type":"BadRequestError","param":null,"code":%d}`, status, status)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// words counts the words of every string in v (nested), the fake's tokens.
func words(v any) int {
	switch x := v.(type) {
	case string:
		return len(strings.Fields(x))
	case []any:
		n := 0
		for _, e := range x {
			n += words(e)
		}
		return n
	case map[string]any:
		n := 0
		for _, e := range x {
			n += words(e)
		}
		return n
	}
	return 0
}

func (s *Server) vllmModels(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests = append(s.requests, Request{Path: r.URL.Path, Header: r.Header.Clone()})
	s.mu.Unlock()
	writeJSON(w, map[string]any{"object": "list", "data": []any{
		map[string]any{"id": "fake-llama", "object": "model", "created": 1700000000, "owned_by": "vllm", "root": "fake-llama", "max_model_len": 4096},
	}})
}

func (s *Server) vllmCompletions(w http.ResponseWriter, r *http.Request) {
	body := s.record(r)
	if st := statusDirective(body); st != 0 {
		writeVLLMError(w, st)
		return
	}
	model, _ := body["model"].(string)
	prompt := words(body["prompt"])
	text := " and then some words"
	usage := map[string]any{"prompt_tokens": prompt, "completion_tokens": 4, "total_tokens": prompt + 4}
	if stream, _ := body["stream"].(bool); stream {
		w.Header().Set("Content-Type", "text/event-stream")
		fl, _ := w.(http.Flusher)
		for _, word := range strings.SplitAfter(text, " ")[1:] {
			b, _ := json.Marshal(map[string]any{"id": "cmpl-fake", "object": "text_completion", "created": time.Now().Unix(), "model": model,
				"choices": []any{map[string]any{"index": 0, "text": " " + strings.TrimSpace(word), "finish_reason": nil}}})
			fmt.Fprintf(w, "data: %s\n\n", b)
			if fl != nil {
				fl.Flush()
			}
		}
		if opts, _ := body["stream_options"].(map[string]any); opts["include_usage"] == true {
			b, _ := json.Marshal(map[string]any{"id": "cmpl-fake", "object": "text_completion", "created": time.Now().Unix(), "model": model,
				"choices": []any{}, "usage": usage})
			fmt.Fprintf(w, "data: %s\n\n", b)
		}
		fmt.Fprint(w, "data: [DONE]\n\n")
		return
	}
	choice := map[string]any{"index": 0, "text": text, "finish_reason": "length", "logprobs": nil, "stop_reason": nil, "prompt_logprobs": nil}
	writeJSON(w, map[string]any{"id": "cmpl-fake", "object": "text_completion", "created": time.Now().Unix(), "model": model,
		"choices": []any{choice}, "usage": usage, "kv_transfer_params": nil})
}

func (s *Server) vllmResponses(w http.ResponseWriter, r *http.Request) {
	body := s.record(r)
	if st := statusDirective(body); st != 0 {
		writeVLLMError(w, st)
		return
	}
	model, _ := body["model"].(string)
	in := words(body["input"])
	writeJSON(w, map[string]any{"id": "resp_fake", "object": "response", "created_at": time.Now().Unix(), "status": "completed", "model": model,
		"output": []any{map[string]any{"type": "message", "id": "msg_fake", "role": "assistant", "status": "completed",
			"content": []any{map[string]any{"type": "output_text", "text": "Fake response.", "annotations": []any{}}}}},
		"usage": map[string]any{"input_tokens": in, "output_tokens": 2, "total_tokens": in + 2,
			"input_tokens_details": map[string]any{"cached_tokens": 0}, "output_tokens_details": map[string]any{"reasoning_tokens": 0}}})
}

func (s *Server) vllmAudio(w http.ResponseWriter, r *http.Request) {
	body := s.recordForm(r)
	if st := statusDirective(body); st != 0 {
		writeVLLMError(w, st)
		return
	}
	file, _ := body["file"].(map[string]any)
	text := fmt.Sprintf("Transcribed %v bytes of %v.", file["size"], file["filename"])
	if strings.HasSuffix(r.URL.Path, "/translations") {
		text = fmt.Sprintf("Translated %v bytes of %v.", file["size"], file["filename"])
	}
	if body["response_format"] == "text" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, text)
		return
	}
	writeJSON(w, map[string]any{"text": text, "usage": map[string]any{"type": "duration", "seconds": 3}})
}

func (s *Server) vllmTokenize(w http.ResponseWriter, r *http.Request) {
	body := s.record(r)
	if st := statusDirective(body); st != 0 {
		writeVLLMError(w, st)
		return
	}
	var text string
	if p, ok := body["prompt"].(string); ok {
		text = p
	} else {
		msgs, _ := body["messages"].([]any)
		for _, m := range msgs {
			mm, _ := m.(map[string]any)
			text += " " + contentText(mm["content"])
		}
	}
	tokens := []int{}
	for _, f := range strings.Fields(text) {
		tokens = append(tokens, 1000+len(f))
	}
	writeJSON(w, map[string]any{"count": len(tokens), "max_model_len": 4096, "tokens": tokens, "token_strs": nil})
}

func (s *Server) vllmDetokenize(w http.ResponseWriter, r *http.Request) {
	body := s.record(r)
	if st := statusDirective(body); st != 0 {
		writeVLLMError(w, st)
		return
	}
	toks, _ := body["tokens"].([]any)
	parts := make([]string, len(toks))
	for i, t := range toks {
		parts[i] = fmt.Sprintf("tok%v", t)
	}
	writeJSON(w, map[string]any{"prompt": strings.Join(parts, " ")})
}

func usageOf(n int) map[string]any {
	return map[string]any{"prompt_tokens": n, "total_tokens": n, "completion_tokens": 0, "prompt_tokens_details": nil}
}

func (s *Server) vllmPooling(w http.ResponseWriter, r *http.Request) {
	body := s.record(r)
	if st := statusDirective(body); st != 0 {
		writeVLLMError(w, st)
		return
	}
	model, _ := body["model"].(string)
	writeJSON(w, map[string]any{"id": "pool-fake", "object": "list", "created": time.Now().Unix(), "model": model,
		"data": []any{map[string]any{"index": 0, "object": "pooling", "data": []float64{0.25, -0.5}}}, "usage": usageOf(words(body["input"]))})
}

func (s *Server) vllmClassify(w http.ResponseWriter, r *http.Request) {
	body := s.record(r)
	if st := statusDirective(body); st != 0 {
		writeVLLMError(w, st)
		return
	}
	model, _ := body["model"].(string)
	var inputs []any
	switch v := body["input"].(type) {
	case []any:
		inputs = v
	default:
		inputs = []any{v}
	}
	data := []any{}
	for i := range inputs {
		data = append(data, map[string]any{"index": i, "label": "positive", "probs": []float64{0.2, 0.8}, "num_classes": 2})
	}
	writeJSON(w, map[string]any{"id": "classify-fake", "object": "list", "created": time.Now().Unix(), "model": model,
		"data": data, "usage": usageOf(words(body["input"]))})
}

func (s *Server) vllmScore(w http.ResponseWriter, r *http.Request) {
	body := s.record(r)
	if st := statusDirective(body); st != 0 {
		writeVLLMError(w, st)
		return
	}
	model, _ := body["model"].(string)
	second, ok := body["text_2"].([]any)
	if !ok {
		second = []any{body["text_2"]}
	}
	data := []any{}
	for i := range second {
		data = append(data, map[string]any{"index": i, "object": "score", "score": 1 / float64(i+2)})
	}
	writeJSON(w, map[string]any{"id": "score-fake", "object": "list", "created": time.Now().Unix(), "model": model,
		"data": data, "usage": usageOf(words(body["text_1"]) + words(body["text_2"]))})
}

// vllmRerank scores each document by how many of the query's words it has.
func (s *Server) vllmRerank(w http.ResponseWriter, r *http.Request) {
	body := s.record(r)
	if st := statusDirective(body); st != 0 {
		writeVLLMError(w, st)
		return
	}
	model, _ := body["model"].(string)
	query, _ := body["query"].(string)
	docs, _ := body["documents"].([]any)
	type result struct {
		Index    int            `json:"index"`
		Document map[string]any `json:"document"`
		Score    float64        `json:"relevance_score"`
	}
	var results []result
	for i, d := range docs {
		text, _ := d.(string)
		hits := 0
		for _, q := range strings.Fields(strings.ToLower(query)) {
			if strings.Contains(strings.ToLower(text), q) {
				hits++
			}
		}
		results = append(results, result{Index: i, Document: map[string]any{"text": text}, Score: float64(hits+1) / float64(len(strings.Fields(query))+1)})
	}
	sort.SliceStable(results, func(i, j int) bool { return results[i].Score > results[j].Score })
	if n, ok := body["top_n"].(float64); ok && int(n) < len(results) {
		results = results[:int(n)]
	}
	writeJSON(w, map[string]any{"id": "rerank-fake", "model": model, "usage": map[string]any{"total_tokens": words(query) + words(docs)},
		"results": results})
}
