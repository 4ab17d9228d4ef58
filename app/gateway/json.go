package gateway

import "encoding/json"

// The JSON codec of the hot path, in one place so it can be swapped for a faster one.
var (
	jsonMarshal   = json.Marshal
	jsonUnmarshal = json.Unmarshal
)
