package google

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"

	"github.com/llmgw/gateway/app/schema"
)

// DecodeGenerateRequest parses the body of a native generateContent or
// streamGenerateContent call the way Gemini's REST API reads it (proto3
// JSON): field names in camelCase or snake_case ("inline_data" as well as
// "inlineData"; Google's curl examples use the latter spelling), unknown
// fields ignored so that newer SDKs keep working.
//
// A body that is not a JSON object is a *schema.SyntaxError; a field of the
// wrong type is a *schema.FieldError whose Param is the field's path, e.g.
// "contents[1].parts[0].inlineData.data".
func DecodeGenerateRequest(body []byte) (*GenerateRequest, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, &schema.SyntaxError{Err: errors.New("empty body")}
	}
	if body[0] != '{' {
		return nil, &schema.SyntaxError{Err: errors.New("the body must be a JSON object")}
	}
	if !json.Valid(body) {
		var v any
		return nil, &schema.SyntaxError{Err: json.Unmarshal(body, &v)}
	}
	r := &GenerateRequest{}
	if err := decodeValue(body, reflect.ValueOf(r).Elem(), ""); err != nil {
		return nil, err
	}
	return r, nil
}

var rawMessageType = reflect.TypeOf(json.RawMessage(nil))

// decodeValue decodes raw into v, which must be settable. Structs and slices
// are walked here rather than by encoding/json so that every error carries
// the full path and every object accepts both spellings of its fields.
func decodeValue(raw []byte, v reflect.Value, path string) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil // proto3: null is the default value
	}
	switch {
	case v.Type() == rawMessageType:
		v.SetBytes(append([]byte(nil), raw...))
		return nil
	case v.Kind() == reflect.Pointer:
		elem := reflect.New(v.Type().Elem())
		if err := decodeValue(raw, elem.Elem(), path); err != nil {
			return err
		}
		v.Set(elem)
		return nil
	case v.Kind() == reflect.Struct:
		if raw[0] != '{' {
			return fieldError(path, "an object", raw)
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil {
			return fieldError(path, "an object", raw)
		}
		fields := structFields(v.Type())
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys) // the first error reported does not depend on map order
		for _, k := range keys {
			name := camelCase(k)
			if name != k {
				if _, both := obj[name]; both {
					continue // the camelCase spelling wins
				}
			}
			i, ok := fields[name]
			if !ok {
				continue
			}
			if err := decodeValue(obj[k], v.Field(i), joinPath(path, name)); err != nil {
				return err
			}
		}
		return nil
	case v.Kind() == reflect.Slice:
		if raw[0] != '[' {
			return fieldError(path, "an array", raw)
		}
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return fieldError(path, "an array", raw)
		}
		s := reflect.MakeSlice(v.Type(), len(items), len(items))
		for i, it := range items {
			if err := decodeValue(it, s.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
	}
	if err := json.Unmarshal(raw, v.Addr().Interface()); err != nil {
		return fieldError(path, kindName(v.Kind()), raw)
	}
	return nil
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func kindName(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "a " + k.String()
}

// fieldError is Gemini's wording for a value of the wrong type.
func fieldError(path, want string, raw []byte) error {
	got := string(raw)
	if len(got) > 40 {
		got = got[:40] + "…"
	}
	got = strings.ToValidUTF8(got, "\uFFFD")
	return &schema.FieldError{Param: path, Msg: fmt.Sprintf("Invalid value at '%s': expected %s, got %s", path, want, got)}
}

var fieldCache sync.Map // reflect.Type -> map[string]int

// structFields maps the JSON names of a struct's fields to their indexes.
func structFields(t reflect.Type) map[string]int {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]int)
	}
	m := map[string]int{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = i
	}
	fieldCache.Store(t, m)
	return m
}
