package fakeupstream

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// FakePNG is the image the fake's images endpoints return (a 1x1 PNG).
var FakePNG, _ = base64.StdEncoding.DecodeString("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")

func (s *Server) imageRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/images/generations", s.images)
	mux.HandleFunc("POST /v1/images/edits", s.images)
	mux.HandleFunc("POST /v1/images/variations", s.images)
}

// images answers the OpenAI Images API: n images (default 1) as b64_json
// (gpt-image models always; others when response_format is b64_json) or as
// urls; gpt-image models also report token usage. A prompt "#status N" gets
// status N. Form fields arrive as strings, so n is read from either shape.
func (s *Server) images(w http.ResponseWriter, r *http.Request) {
	body := s.recordAny(r)
	if p, _ := body["prompt"].(string); strings.HasPrefix(p, "#status ") {
		code, _ := strconv.Atoi(strings.TrimPrefix(p, "#status "))
		writeError(w, code)
		return
	}
	model, _ := body["model"].(string)
	n := 1
	switch v := body["n"].(type) {
	case float64:
		n = int(v)
	case string:
		if k, err := strconv.Atoi(v); err == nil {
			n = k
		}
	}
	gptImage := strings.HasPrefix(model, "gpt-image")
	b64 := gptImage || body["response_format"] == "b64_json"
	data := []any{}
	for i := 0; i < n; i++ {
		if b64 {
			data = append(data, map[string]any{"b64_json": base64.StdEncoding.EncodeToString(FakePNG)})
		} else {
			data = append(data, map[string]any{"url": fmt.Sprintf("%s/images/fake-%d.png", s.URL, i), "revised_prompt": body["prompt"]})
		}
	}
	resp := map[string]any{"created": time.Now().Unix(), "data": data}
	if gptImage {
		prompt, _ := body["prompt"].(string)
		in := len(strings.Fields(prompt))
		resp["usage"] = map[string]any{"input_tokens": in, "output_tokens": 272 * n, "total_tokens": in + 272*n,
			"input_tokens_details": map[string]any{"text_tokens": in, "image_tokens": 0}}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}
