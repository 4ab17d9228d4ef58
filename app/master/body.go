package master

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/llmgw/gateway/app/apierr"
	"github.com/llmgw/gateway/app/pricing"
	"github.com/llmgw/gateway/app/provision"
)

// body is a request body split into raw fields, so PATCH can tell an absent
// field from an explicit null (which clears a limit).
type body map[string]json.RawMessage

func parseBody(raw []byte) (body, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return body{}, nil
	}
	var b body
	if raw[0] != '{' || json.Unmarshal(raw, &b) != nil {
		return nil, apierr.InvalidJSON("Invalid JSON in request body: expected an object.")
	}
	return b, nil
}

// only refuses fields the endpoint does not know, naming the first one.
func (b body) only(allowed ...string) error {
	for k := range b {
		ok := false
		for _, a := range allowed {
			ok = ok || a == k
		}
		if !ok {
			return apierr.BadRequest(fmt.Sprintf("Unknown field '%s'. Allowed fields: %s.", k, strings.Join(allowed, ", ")), k)
		}
	}
	return nil
}

func isNull(v json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(v), []byte("null")) }

func bad(field, format string, args ...any) error {
	return apierr.BadRequest(fmt.Sprintf(format, args...), field)
}

func (b body) str(field string, minLen, maxLen int) (provision.Opt[string], error) {
	var o provision.Opt[string]
	v, ok := b[field]
	if !ok {
		return o, nil
	}
	if json.Unmarshal(v, &o.V) != nil || isNull(v) {
		return o, bad(field, "'%s' must be a string.", field)
	}
	if n := len([]rune(strings.TrimSpace(o.V))); n < minLen || n > maxLen {
		return o, bad(field, "'%s' must be %d–%d characters long.", field, minLen, maxLen)
	}
	o.Set = true
	return o, nil
}

func (b body) enum(field string, values ...string) (provision.Opt[string], error) {
	var o provision.Opt[string]
	v, ok := b[field]
	if !ok {
		return o, nil
	}
	if json.Unmarshal(v, &o.V) == nil {
		for _, allowed := range values {
			if o.V == allowed {
				o.Set = true
				return o, nil
			}
		}
	}
	return o, bad(field, "'%s' must be one of: %s.", field, strings.Join(values, ", "))
}

func (b body) boolean(field string) (provision.Opt[bool], error) {
	var o provision.Opt[bool]
	v, ok := b[field]
	if !ok {
		return o, nil
	}
	if json.Unmarshal(v, &o.V) != nil || isNull(v) {
		return o, bad(field, "'%s' must be a boolean.", field)
	}
	o.Set = true
	return o, nil
}

// integer reads a whole number in [lo, hi]; nullable fields accept null.
func (b body) integer(field string, lo, hi int, nullable bool) (provision.Opt[int], error) {
	var o provision.Opt[int]
	v, ok := b[field]
	if !ok {
		return o, nil
	}
	o.Set = true
	if isNull(v) {
		if !nullable {
			return o, bad(field, "'%s' must be a number.", field)
		}
		o.Null = true
		return o, nil
	}
	var f float64
	if json.Unmarshal(v, &f) != nil || f != float64(int64(f)) || f < float64(lo) || f > float64(hi) {
		return o, bad(field, "'%s' must be a whole number between %d and %d.", field, lo, hi)
	}
	o.V = int(f)
	return o, nil
}

// usd reads a money amount given as a decimal string ("100.00") or number; null clears.
func (b body) usd(field string) (provision.Opt[int64], error) {
	var o provision.Opt[int64]
	v, ok := b[field]
	if !ok {
		return o, nil
	}
	o.Set = true
	if isNull(v) {
		o.Null = true
		return o, nil
	}
	s := strings.TrimSpace(string(v))
	if strings.HasPrefix(s, `"`) {
		_ = json.Unmarshal(v, &s)
	}
	n, err := pricing.ParseUSD(s)
	if err != nil {
		return o, bad(field, "'%s' %s", field, err.Error())
	}
	o.V = n
	return o, nil
}

// timestamp reads an RFC 3339 time; null clears.
func (b body) timestamp(field string) (provision.Opt[time.Time], error) {
	var o provision.Opt[time.Time]
	v, ok := b[field]
	if !ok {
		return o, nil
	}
	o.Set = true
	if isNull(v) {
		o.Null = true
		return o, nil
	}
	var s string
	t, err := time.Time{}, error(nil)
	if json.Unmarshal(v, &s) == nil {
		t, err = time.Parse(time.RFC3339, s)
	}
	if s == "" || err != nil {
		return o, bad(field, "'%s' must be an RFC 3339 timestamp such as 2026-12-31T23:59:59Z, or null.", field)
	}
	o.V = t.UTC()
	return o, nil
}
