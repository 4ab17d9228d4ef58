package google

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Gemini's function `parameters` and `responseSchema` are not JSON Schema but
// its Schema message, a subset of OpenAPI 3.0. The API rejects every field it
// does not know with 400 "Invalid JSON payload received. Unknown name", so
// toGeminiSchema keeps an allowlist rather than stripping a denylist:
//
//	kept:      type, format*, title, description, nullable, enum*, properties,
//	           required*, propertyOrdering, items, anyOf, minItems, maxItems,
//	           minLength, maxLength, minProperties, maxProperties, minimum,
//	           maximum, pattern, default, example
//	rewritten: type ["T","null"] -> type T + nullable; several types -> anyOf;
//	           oneOf -> anyOf; a {"type":"null"} branch of anyOf/oneOf ->
//	           nullable; const "x" -> enum ["x"]; examples[0] -> example;
//	           allOf -> its members merged into the schema; $ref to
//	           #/$defs/… or #/definitions/… -> inlined (a recursive reference
//	           becomes {"type":"OBJECT"}: Gemini has no references)
//	dropped:   everything else, notably additionalProperties, $schema, $id,
//	           $defs, definitions, strict, exclusiveMinimum, exclusiveMaximum,
//	           multipleOf, uniqueItems, patternProperties, propertyNames,
//	           prefixItems, if/then/else, not, readOnly, writeOnly, deprecated,
//	           $comment, unevaluatedProperties
//
// (*) format is kept only where Gemini accepts it (STRING: enum, date-time;
// NUMBER: float, double; INTEGER: int32, int64), an enum only when all its
// values are strings (Gemini enums are strings), required only for names
// that are declared properties. An OBJECT without properties loses the empty
// "properties" (Gemini: "should be non-empty for OBJECT type"). Types are
// written in upper case, as the official SDKs send them.

// maxSchemaDepth bounds the nesting of a schema, after $ref inlining.
const maxSchemaDepth = 64

// maxSchemaNodes bounds the size of a converted schema: inlining $refs can
// grow a small document exponentially (each level referring twice to the
// next), and a request must not be able to make the gateway build that.
const maxSchemaNodes = 10000

// schemaConverter converts one JSON Schema document to Gemini's Schema.
type schemaConverter struct {
	root *object
	// ordering adds propertyOrdering to objects (response schemas), so that
	// the structured output follows the order the client declared.
	ordering bool
	nodes    int
}

// toGeminiSchema converts a JSON Schema to Gemini's Schema. The result is nil
// when the schema is absent or null.
func toGeminiSchema(raw json.RawMessage, ordering bool) (*object, error) {
	if isNull(raw) {
		return nil, nil
	}
	v, err := parseOrdered(raw)
	if err != nil {
		return nil, err
	}
	root, ok := v.(*object)
	if !ok {
		if b, isBool := v.(bool); isBool && b {
			return newObject(), nil // `true` accepts anything
		}
		return nil, errors.New("the schema must be a JSON object")
	}
	c := &schemaConverter{root: root, ordering: ordering}
	return c.convert(root, 0, []string{"#"}) // the root is being expanded
}

func (c *schemaConverter) convert(in *object, depth int, refs []string) (*object, error) {
	if depth > maxSchemaDepth {
		return nil, errors.New("schema nested too deeply")
	}
	if c.nodes++; c.nodes > maxSchemaNodes {
		return nil, errors.New("schema too large once its $refs are inlined")
	}
	in, refs, err := c.resolve(in, refs)
	if err != nil {
		return nil, err
	}
	if in == nil { // recursive reference
		o := newObject()
		o.set("type", "OBJECT")
		return o, nil
	}
	in = mergeAllOf(in)

	out := newObject()
	nullable := false
	if b, ok := in.vals["nullable"].(bool); ok && b {
		nullable = true
	}

	// type: a string or a list of strings.
	var types []string
	switch t := in.vals["type"].(type) {
	case string:
		types = append(types, t)
	case []any:
		for _, e := range t {
			if s, ok := e.(string); ok {
				types = append(types, s)
			}
		}
	}
	var gtypes []string
	for _, t := range types {
		switch g := geminiType(t); g {
		case "":
		case "NULL":
			nullable = true
		default:
			gtypes = append(gtypes, g)
		}
	}
	if len(gtypes) == 0 && len(types) > 0 && nullable {
		gtypes = []string{"NULL"}
		nullable = false
	}
	if len(gtypes) == 0 {
		// Infer what Gemini insists on knowing.
		switch {
		case in.vals["properties"] != nil:
			gtypes = []string{"OBJECT"}
		case in.vals["items"] != nil:
			gtypes = []string{"ARRAY"}
		case in.vals["enum"] != nil || in.vals["const"] != nil:
			gtypes = []string{"STRING"}
		}
	}
	typ := ""
	if len(gtypes) == 1 {
		typ = gtypes[0]
		out.set("type", typ)
	}

	if f, ok := in.vals["format"].(string); ok && formatAllowed(typ, f) {
		out.set("format", f)
	}
	for _, k := range []string{"title", "description"} {
		if s, ok := in.vals[k].(string); ok {
			out.set(k, s)
		}
	}

	// enum / const
	var enum []any
	if e, ok := in.vals["enum"].([]any); ok {
		enum = e
	} else if cst, ok := in.get("const"); ok {
		enum = []any{cst}
	}
	if len(enum) > 0 {
		strs := []any{}
		allStrings := true
		for _, e := range enum {
			switch s := e.(type) {
			case nil:
				nullable = true
			case string:
				strs = append(strs, s)
			default:
				allStrings = false
			}
		}
		if allStrings && len(strs) > 0 {
			out.set("enum", strs)
		}
	}

	// properties / required / propertyOrdering
	if props, ok := in.vals["properties"].(*object); ok && props.len() > 0 {
		po := newObject()
		for _, name := range props.keys {
			sub, ok := props.vals[name].(*object)
			if !ok {
				if b, isBool := props.vals[name].(bool); isBool && !b {
					continue // `false`: the property may not appear
				}
				po.set(name, newObject())
				continue
			}
			conv, err := c.convert(sub, depth+1, refs)
			if err != nil {
				return nil, err
			}
			po.set(name, conv)
		}
		if po.len() > 0 {
			out.set("properties", po)
			if req, ok := in.vals["required"].([]any); ok {
				kept := []any{}
				for _, r := range req {
					if s, ok := r.(string); ok && po.vals[s] != nil {
						kept = append(kept, s)
					}
				}
				if len(kept) > 0 {
					out.set("required", kept)
				}
			}
			if ord, ok := in.vals["propertyOrdering"].([]any); ok && allStringsIn(ord, po) {
				out.set("propertyOrdering", ord)
			} else if c.ordering && po.len() > 1 {
				ord := make([]any, len(po.keys))
				for i, k := range po.keys {
					ord[i] = k
				}
				out.set("propertyOrdering", ord)
			}
		}
	}

	if items, ok := in.vals["items"].(*object); ok {
		conv, err := c.convert(items, depth+1, refs)
		if err != nil {
			return nil, err
		}
		out.set("items", conv)
	}

	// anyOf / oneOf, and several types
	var branches []any
	for _, k := range []string{"anyOf", "oneOf"} {
		if list, ok := in.vals[k].([]any); ok {
			for _, b := range list {
				sub, ok := b.(*object)
				if !ok {
					continue
				}
				if t, _ := sub.vals["type"].(string); t == "null" && sub.len() == 1 {
					nullable = true
					continue
				}
				conv, err := c.convert(sub, depth+1, refs)
				if err != nil {
					return nil, err
				}
				branches = append(branches, conv)
			}
		}
	}
	if len(gtypes) > 1 {
		for _, t := range gtypes {
			b := newObject()
			b.set("type", t)
			branches = append(branches, b)
		}
	}
	if len(branches) == 1 && typ == "" && len(gtypes) <= 1 {
		// A single branch is the schema itself.
		for _, k := range branches[0].(*object).keys {
			if _, taken := out.get(k); !taken {
				out.set(k, branches[0].(*object).vals[k])
			}
		}
	} else if len(branches) > 0 {
		out.set("anyOf", branches)
	}

	if nullable {
		out.set("nullable", true)
	}
	for _, k := range []string{"minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties"} {
		if n, ok := intValue(in.vals[k]); ok {
			out.set(k, n)
		}
	}
	for _, k := range []string{"minimum", "maximum"} {
		if n, ok := in.vals[k].(json.Number); ok {
			out.set(k, n)
		}
	}
	if p, ok := in.vals["pattern"].(string); ok {
		out.set("pattern", p)
	}
	if d, ok := in.get("default"); ok {
		out.set("default", d)
	}
	if ex, ok := in.get("example"); ok {
		out.set("example", ex)
	} else if exs, ok := in.vals["examples"].([]any); ok && len(exs) > 0 {
		out.set("example", exs[0])
	}
	return out, nil
}

// resolve follows a local $ref. The referenced schema's keywords are merged
// under the referring node's own (a sibling "description" wins). It returns
// nil for a reference to a schema being expanded: inlining would not end.
func (c *schemaConverter) resolve(in *object, refs []string) (*object, []string, error) {
	for hops := 0; ; hops++ {
		ref, ok := in.vals["$ref"].(string)
		if !ok {
			return in, refs, nil
		}
		for _, r := range refs {
			if r == ref {
				return nil, refs, nil
			}
		}
		if hops > maxSchemaDepth {
			return nil, refs, errors.New("too many $ref hops")
		}
		target, err := c.lookup(ref)
		if err != nil {
			return nil, refs, err
		}
		refs = append(refs[:len(refs):len(refs)], ref)
		merged := newObject()
		for _, k := range target.keys {
			merged.set(k, target.vals[k])
		}
		for _, k := range in.keys {
			if k != "$ref" {
				merged.set(k, in.vals[k])
			}
		}
		in = merged
	}
}

// lookup finds a "#", "#/$defs/name" or "#/definitions/name" pointer.
func (c *schemaConverter) lookup(ref string) (*object, error) {
	if ref == "#" {
		return c.root, nil
	}
	path, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, fmt.Errorf("unsupported $ref %q: only local references can be inlined", ref)
	}
	var cur any = c.root
	for _, seg := range strings.Split(path, "/") {
		seg = strings.ReplaceAll(strings.ReplaceAll(seg, "~1", "/"), "~0", "~")
		o, ok := cur.(*object)
		if !ok {
			return nil, fmt.Errorf("unresolvable $ref %q", ref)
		}
		if cur, ok = o.get(seg); !ok {
			return nil, fmt.Errorf("unresolvable $ref %q", ref)
		}
	}
	o, ok := cur.(*object)
	if !ok {
		return nil, fmt.Errorf("$ref %q is not a schema", ref)
	}
	return o, nil
}

// mergeAllOf folds allOf members into the schema: properties are united,
// required lists joined, other keywords taken from the first that has them.
func mergeAllOf(in *object) *object {
	list, ok := in.vals["allOf"].([]any)
	if !ok {
		return in
	}
	out := newObject()
	for _, k := range in.keys {
		if k != "allOf" {
			out.set(k, in.vals[k])
		}
	}
	for _, m := range list {
		sub, ok := m.(*object)
		if !ok {
			continue
		}
		for _, k := range sub.keys {
			v := sub.vals[k]
			switch k {
			case "properties":
				dst, _ := out.vals["properties"].(*object)
				src, ok := v.(*object)
				if !ok {
					continue
				}
				if dst == nil {
					dst = newObject()
					out.set("properties", dst)
				}
				for _, pk := range src.keys {
					if _, taken := dst.get(pk); !taken {
						dst.set(pk, src.vals[pk])
					}
				}
			case "required":
				cur, _ := out.vals["required"].([]any)
				if add, ok := v.([]any); ok {
					out.set("required", append(cur[:len(cur):len(cur)], add...))
				}
			default:
				if _, taken := out.get(k); !taken {
					out.set(k, v)
				}
			}
		}
	}
	return out
}

func geminiType(t string) string {
	switch strings.ToLower(t) {
	case "string":
		return "STRING"
	case "number":
		return "NUMBER"
	case "integer":
		return "INTEGER"
	case "boolean":
		return "BOOLEAN"
	case "array":
		return "ARRAY"
	case "object":
		return "OBJECT"
	case "null":
		return "NULL"
	}
	return ""
}

func formatAllowed(typ, f string) bool {
	switch typ {
	case "STRING":
		return f == "enum" || f == "date-time"
	case "NUMBER":
		return f == "float" || f == "double"
	case "INTEGER":
		return f == "int32" || f == "int64"
	}
	return false
}

// intValue accepts a JSON integer, or the decimal string proto3 JSON uses for
// int64 fields (Gemini's minItems and friends are int64).
func intValue(v any) (json.Number, bool) {
	switch n := v.(type) {
	case json.Number:
		if _, err := n.Int64(); err == nil {
			return n, true
		}
		if f, err := n.Float64(); err == nil && f == float64(int64(f)) {
			return json.Number(strconv.FormatInt(int64(f), 10)), true
		}
	case string:
		if i, err := strconv.ParseInt(n, 10, 64); err == nil {
			return json.Number(strconv.FormatInt(i, 10)), true
		}
	}
	return "", false
}

func allStringsIn(list []any, props *object) bool {
	if len(list) == 0 {
		return false
	}
	for _, e := range list {
		s, ok := e.(string)
		if !ok {
			return false
		}
		if _, ok := props.get(s); !ok {
			return false
		}
	}
	return true
}

// fromGeminiSchema converts Gemini's Schema (as an inbound client wrote it,
// in camelCase or snake_case, types in either case) to JSON Schema:
// lower-case types, nullable -> a "null" type, properties reordered by
// propertyOrdering, format "enum" dropped (JSON Schema has no such format),
// example -> examples. Unknown keywords are dropped.
func fromGeminiSchema(raw json.RawMessage) (*object, error) {
	v, err := parseOrdered(raw)
	if err != nil {
		return nil, err
	}
	in, ok := v.(*object)
	if !ok {
		return nil, errors.New("the schema must be a JSON object")
	}
	return fromGemini(in, 0)
}

func fromGemini(in *object, depth int) (*object, error) {
	if depth > maxSchemaDepth {
		return nil, errors.New("schema nested too deeply")
	}
	// proto3 JSON accepts snake_case names; fold them to camelCase.
	norm := newObject()
	for _, k := range in.keys {
		ck := camelCase(k)
		if _, taken := norm.get(ck); taken && ck != k {
			continue
		}
		norm.set(ck, in.vals[k])
	}
	in = norm

	out := newObject()
	typ := ""
	if t, ok := in.vals["type"].(string); ok {
		switch strings.ToUpper(t) {
		case "STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT", "NULL":
			typ = strings.ToLower(t)
		}
	}
	nullable, _ := in.vals["nullable"].(bool)
	switch {
	case typ != "" && nullable && typ != "null":
		out.set("type", []any{typ, "null"})
	case typ != "":
		out.set("type", typ)
	}
	if f, ok := in.vals["format"].(string); ok && f != "enum" && f != "" {
		out.set("format", f)
	}
	for _, k := range []string{"title", "description", "pattern"} {
		if s, ok := in.vals[k].(string); ok {
			out.set(k, s)
		}
	}
	if e, ok := in.vals["enum"].([]any); ok && len(e) > 0 {
		if nullable {
			e = append(e[:len(e):len(e)], nil)
		}
		out.set("enum", e)
	}
	if props, ok := in.vals["properties"].(*object); ok {
		order := props.keys
		if ord, ok := in.vals["propertyOrdering"].([]any); ok && allStringsIn(ord, props) {
			order = nil
			seen := map[string]bool{}
			for _, e := range ord {
				if s := e.(string); !seen[s] {
					seen[s] = true
					order = append(order, s)
				}
			}
			for _, k := range props.keys { // properties the ordering forgot
				if !seen[k] {
					order = append(order, k)
				}
			}
		}
		po := newObject()
		for _, name := range order {
			sub, ok := props.vals[name].(*object)
			if !ok {
				return nil, fmt.Errorf("properties.%s must be a schema object", name)
			}
			conv, err := fromGemini(sub, depth+1)
			if err != nil {
				return nil, fmt.Errorf("properties.%s: %w", name, err)
			}
			po.set(name, conv)
		}
		out.set("properties", po)
	}
	if req, ok := in.vals["required"].([]any); ok && len(req) > 0 {
		out.set("required", req)
	}
	if items, ok := in.vals["items"].(*object); ok {
		conv, err := fromGemini(items, depth+1)
		if err != nil {
			return nil, fmt.Errorf("items: %w", err)
		}
		out.set("items", conv)
	}
	if list, ok := in.vals["anyOf"].([]any); ok {
		branches := []any{}
		for i, b := range list {
			sub, ok := b.(*object)
			if !ok {
				return nil, fmt.Errorf("anyOf[%d] must be a schema object", i)
			}
			conv, err := fromGemini(sub, depth+1)
			if err != nil {
				return nil, fmt.Errorf("anyOf[%d]: %w", i, err)
			}
			branches = append(branches, conv)
		}
		if typ == "" && nullable {
			n := newObject()
			n.set("type", "null")
			branches = append(branches, n)
		}
		out.set("anyOf", branches)
	}
	for _, k := range []string{"minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties"} {
		if n, ok := intValue(in.vals[k]); ok {
			out.set(k, n)
		}
	}
	for _, k := range []string{"minimum", "maximum"} {
		if n, ok := in.vals[k].(json.Number); ok {
			out.set(k, n)
		}
	}
	if d, ok := in.get("default"); ok {
		out.set("default", d)
	}
	if ex, ok := in.get("example"); ok {
		out.set("examples", []any{ex})
	}
	return out, nil
}

// camelCase turns a proto field name in snake_case into its JSON name.
func camelCase(s string) string {
	if !strings.Contains(s, "_") {
		return s
	}
	var b strings.Builder
	up := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' {
			up = b.Len() > 0 // a leading underscore is kept out, not upcased
			continue
		}
		if up && c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		up = false
		b.WriteByte(c)
	}
	return b.String()
}
