package schema

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// A request body is validated once, by validJSON, and then taken apart with
// the trusted walkers below, which only look for where values end. With
// encoding/json a 100 KB prompt was scanned five times (validation, the
// top-level split, the messages' validation and decode, the content string);
// here it is scanned once to validate, skipped over with bytes.IndexByte, and
// copied once when its string is unquoted.

// maxDepth bounds nesting like encoding/json does, so a body of ten thousand
// '[' cannot exhaust the stack.
const maxDepth = 10000

// validJSON reports the first syntax error of b, which must hold exactly one
// JSON value (surrounding white space allowed). It accepts what
// encoding/json's Valid accepts: strings are not checked for valid UTF-8.
func validJSON(b []byte) error {
	v := validator{b: b}
	i, err := v.value(v.ws(0), 0)
	if err != nil {
		return err
	}
	if i = v.ws(i); i < len(b) {
		return v.fail(i, "after top-level value")
	}
	return nil
}

type validator struct{ b []byte }

// fail describes the byte at i the way encoding/json does.
func (v *validator) fail(i int, context string) error {
	if i >= len(v.b) {
		return &SyntaxError{Err: fmt.Errorf("unexpected end of JSON input")}
	}
	return &SyntaxError{Err: fmt.Errorf("invalid character %s %s (offset %d)", quoteChar(v.b[i]), context, i)}
}

func quoteChar(c byte) string {
	switch c {
	case '\'':
		return `'\''`
	case '"':
		return `'"'`
	}
	s := strconv.Quote(string(rune(c)))
	return "'" + s[1:len(s)-1] + "'"
}

func (v *validator) ws(i int) int {
	for i < len(v.b) && isSpace(v.b[i]) {
		i++
	}
	return i
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

// value validates the value starting at i and returns the index after it.
func (v *validator) value(i, depth int) (int, error) {
	if i >= len(v.b) {
		return i, v.fail(i, "")
	}
	switch c := v.b[i]; {
	case c == '"':
		return v.str(i)
	case c == '{':
		return v.object(i, depth+1)
	case c == '[':
		return v.array(i, depth+1)
	case c == '-' || c >= '0' && c <= '9':
		return v.number(i)
	case c == 't':
		return v.literal(i, "true")
	case c == 'f':
		return v.literal(i, "false")
	case c == 'n':
		return v.literal(i, "null")
	}
	return i, v.fail(i, "looking for beginning of value")
}

func (v *validator) literal(i int, lit string) (int, error) {
	for k := 1; k < len(lit); k++ {
		if i+k >= len(v.b) {
			return i, v.fail(i+k, "")
		}
		if v.b[i+k] != lit[k] {
			return i, v.fail(i+k, "in literal "+lit+" (expecting "+quoteChar(lit[k])+")")
		}
	}
	return i + len(lit), nil
}

func (v *validator) object(i, depth int) (int, error) {
	if depth > maxDepth {
		return i, &SyntaxError{Err: fmt.Errorf("exceeded max depth")}
	}
	i = v.ws(i + 1)
	if i < len(v.b) && v.b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(v.b) || v.b[i] != '"' {
			return i, v.fail(i, "looking for beginning of object key string")
		}
		var err error
		if i, err = v.str(i); err != nil {
			return i, err
		}
		if i = v.ws(i); i >= len(v.b) || v.b[i] != ':' {
			return i, v.fail(i, "after object key")
		}
		if i, err = v.value(v.ws(i+1), depth); err != nil {
			return i, err
		}
		if i = v.ws(i); i >= len(v.b) {
			return i, v.fail(i, "")
		}
		switch v.b[i] {
		case ',':
			i = v.ws(i + 1)
		case '}':
			return i + 1, nil
		default:
			return i, v.fail(i, "after object key:value pair")
		}
	}
}

func (v *validator) array(i, depth int) (int, error) {
	if depth > maxDepth {
		return i, &SyntaxError{Err: fmt.Errorf("exceeded max depth")}
	}
	i = v.ws(i + 1)
	if i < len(v.b) && v.b[i] == ']' {
		return i + 1, nil
	}
	for {
		var err error
		if i, err = v.value(i, depth); err != nil {
			return i, err
		}
		if i = v.ws(i); i >= len(v.b) {
			return i, v.fail(i, "")
		}
		switch v.b[i] {
		case ',':
			i = v.ws(i + 1)
		case ']':
			return i + 1, nil
		default:
			return i, v.fail(i, "after array element")
		}
	}
}

// plainString marks the bytes that may appear in a string as they are.
var plainString = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// str validates the string starting at i (b[i] == '"'). This loop is where
// the time of large prompts goes; it only looks each byte up in a table.
func (v *validator) str(i int) (int, error) {
	b := v.b
	i++
	for {
		i = plainRun(b, i, false)
		for i < len(b) && plainString[b[i]] {
			i++
		}
		if i >= len(b) {
			return i, v.fail(i, "")
		}
		switch b[i] {
		case '"':
			return i + 1, nil
		case '\\':
			if i+1 >= len(b) {
				return i, v.fail(i+1, "")
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				for k := 2; k < 6; k++ {
					if i+k >= len(b) {
						return i, v.fail(i+k, "")
					}
					if !isHex(b[i+k]) {
						return i, v.fail(i+k, "in \\u hexadecimal character escape")
					}
				}
				i += 6
			default:
				return i, v.fail(i+1, "in string escape code")
			}
		default: // a control character
			return i, v.fail(i, "in string literal")
		}
	}
}

// plainRun skips, eight bytes at a time, the bytes from i on that a string
// holds as they are (not '"', '\\' or a control character; with ascii, not
// 0x80 or above either). It stops at or before the first other byte; the
// caller's byte loop takes it from there.
func plainRun(b []byte, i int, ascii bool) int {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
		quote = '"' * ones
		slash = '\\' * ones
		space = 0x20 * ones
	)
	var stop uint64
	if ascii {
		stop = highs
	}
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		q, s := x^quote, x^slash
		// A byte is flagged when it is zero in q or s (a quote or a
		// backslash) or below 0x20 in x: the classic "has zero byte" and
		// "has byte less than n" tests.
		if ((q-ones)&^q|(s-ones)&^s|(x-space)&^x)&highs|x&stop != 0 {
			return i
		}
	}
	return i
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// number validates -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (v *validator) number(i int) (int, error) {
	b := v.b
	if b[i] == '-' {
		i++
		if i >= len(b) {
			return i, v.fail(i, "")
		}
		if !isDigit(b[i]) {
			return i, v.fail(i, "in numeric literal")
		}
	}
	if b[i] == '0' {
		i++
	} else {
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) {
			return i, v.fail(i, "")
		}
		if !isDigit(b[i]) {
			return i, v.fail(i, "after decimal point in numeric literal")
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) {
			return i, v.fail(i, "")
		}
		if !isDigit(b[i]) {
			return i, v.fail(i, "in exponent of numeric literal")
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	return i, nil
}

// The walkers below assume valid JSON (validJSON passed on the enclosing
// value). They never read out of bounds even when it is not, but then their
// results are meaningless.

// skipValue returns the index just after the value starting at i.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	default: // number or literal: up to the next delimiter
		for i < len(b) && !isSpace(b[i]) && b[i] != ',' && b[i] != '}' && b[i] != ']' {
			i++
		}
		return i
	}
}

// skipString returns the index just after the string starting at i: the first
// quote not escaped by an odd run of backslashes. IndexByte is vectorised.
func skipString(b []byte, i int) int {
	i++
	for {
		k := bytes.IndexByte(b[i:], '"')
		if k < 0 {
			return len(b)
		}
		i += k
		n := 0
		for j := i - 1; j >= 0 && b[j] == '\\'; j-- {
			n++
		}
		i++
		if n%2 == 0 {
			return i
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// member is one key/value pair of an object: key is the raw string literal
// (quotes included), val the raw value. Values are capped slices (len ==
// cap): an append to one copies instead of writing over the bytes after it,
// which decoded strings may be viewing.
type member struct {
	key []byte
	val []byte
	at  int // val's offset in the object's bytes
}

// eachMember calls fn for each member of the object b (valid JSON, starting
// with '{'), stopping at the first error.
func eachMember(b []byte, fn func(m member) error) error {
	i := skipSpace(b, 1)
	for i < len(b) && b[i] == '"' {
		end := skipString(b, i)
		key := b[i:end]
		i = skipSpace(b, end)
		i = skipSpace(b, i+1) // ':'
		end = skipValue(b, i)
		if err := fn(member{key: key, val: b[i:end:end], at: i}); err != nil {
			return err
		}
		i = skipSpace(b, end)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
	return nil
}

// eachElement calls fn for each element of the array b (valid JSON, starting
// with '['), stopping at the first error.
func eachElement(b []byte, fn func(i int, v []byte) error) error {
	i := skipSpace(b, 1)
	for n := 0; i < len(b) && b[i] != ']'; n++ {
		end := skipValue(b, i)
		if err := fn(n, b[i:end:end]); err != nil {
			return err
		}
		i = skipSpace(b, end)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
	return nil
}

// keyBytes returns an object key without its quotes, unescaped (invalid
// UTF-8 replaced, as encoding/json does). Callers compare it with string(k),
// which does not allocate.
func keyBytes(raw []byte) []byte {
	k := raw[1 : len(raw)-1]
	plain := true
	for _, c := range k {
		if c == '\\' || c >= utf8.RuneSelf {
			plain = false
			break
		}
	}
	if plain {
		return k
	}
	s, _ := unquote(raw)
	return []byte(s)
}
