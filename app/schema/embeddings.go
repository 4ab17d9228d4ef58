package schema

import (
	"encoding/json"
	"fmt"
)

// EmbeddingRequest is an OpenAI embeddings request. Input is a string, an array of
// strings, or arrays of token ids; it is kept raw and forwarded as sent.
type EmbeddingRequest struct {
	Model          string          `json:"model"`
	Input          json.RawMessage `json:"input"`
	EncodingFormat string          `json:"encoding_format,omitempty"`
	Dimensions     *int            `json:"dimensions,omitempty"`
	User           string          `json:"user,omitempty"`

	Extra map[string]json.RawMessage `json:"-"`
}

func (r *EmbeddingRequest) UnmarshalJSON(b []byte) error {
	top, err := decodeObject(b)
	if err != nil {
		return err
	}
	*r = EmbeddingRequest{}
	for k, v := range top {
		var target any
		switch k {
		case "model":
			target = &r.Model
		case "input":
			r.Input = nullToNil(v)
			continue
		case "encoding_format":
			target = &r.EncodingFormat
		case "dimensions":
			target = &r.Dimensions
		case "user":
			target = &r.User
		default:
			if r.Extra == nil {
				r.Extra = make(map[string]json.RawMessage)
			}
			r.Extra[k] = v
			continue
		}
		if err := json.Unmarshal(v, target); err != nil {
			return &FieldError{Param: k, Msg: fmt.Sprintf("Invalid value for '%s': %s", k, describe(err))}
		}
	}
	return nil
}

func (r EmbeddingRequest) MarshalJSON() ([]byte, error) {
	type plain EmbeddingRequest
	b, err := json.Marshal(plain(r))
	if err != nil || len(r.Extra) == 0 {
		return b, err
	}
	return appendExtra(b[:len(b)-1], r.Extra), nil
}

// InputTexts returns the input as strings when it is a string or string array
// (used to count tokens when the upstream reports none).
func (r *EmbeddingRequest) InputTexts() []string {
	var one string
	if json.Unmarshal(r.Input, &one) == nil {
		return []string{one}
	}
	var many []string
	if json.Unmarshal(r.Input, &many) == nil {
		return many
	}
	return nil
}

// EmbeddingResponse is an OpenAI embeddings list. Data is kept raw: embeddings are
// large and the gateway never needs to look inside them.
type EmbeddingResponse struct {
	Object string          `json:"object"`
	Data   json.RawMessage `json:"data"`
	Model  string          `json:"model"`
	Usage  *Usage          `json:"usage,omitempty"`
}
