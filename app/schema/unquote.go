package schema

import (
	"encoding/json"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// unquote decodes a JSON string literal that the caller's decoder has already
// validated (UnmarshalJSON is only handed well-formed values). It skips the
// validation pass encoding/json would repeat over every byte, which matters
// for 100 KB prompts. Anything unusual (invalid UTF-8, a lone surrogate, a
// malformed escape) is left to encoding/json so results stay identical.
func unquote(b []byte) (string, error) { return unquoteIn(b, false) }

// unquoteIn is unquote; with owned, a string without escapes or non-ASCII
// bytes is returned as a view of b instead of a copy. Only for bytes the
// request owns and never changes (ChatRequest's copy of its body): a 100 KB
// prompt is then not copied at all.
func unquoteIn(b []byte, owned bool) (string, error) {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return slowUnquote(b)
	}
	body := b[1 : len(b)-1]
	i := plainRun(body, 0, true)
	for i < len(body) {
		c := body[i]
		if c == '\\' || c == '"' || c < 0x20 || c >= utf8.RuneSelf {
			break
		}
		i++
	}
	if i == len(body) { // plain ASCII: the common case of the hot path
		if owned && len(body) > 0 {
			return unsafe.String(&body[0], len(body)), nil
		}
		return string(body), nil
	}
	out := make([]byte, 0, len(body))
	out = append(out, body[:i]...)
	for i < len(body) {
		c := body[i]
		switch {
		case c == '\\':
			if i+1 >= len(body) {
				return slowUnquote(b)
			}
			switch body[i+1] {
			case '"', '\\', '/':
				out = append(out, body[i+1])
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, n := unicodeEscape(body[i:])
				if n == 0 {
					return slowUnquote(b)
				}
				out = utf8.AppendRune(out, r)
				i += n
				continue
			default:
				return slowUnquote(b)
			}
			i += 2
		case c == '"' || c < 0x20:
			return slowUnquote(b)
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(body[i:])
			if r == utf8.RuneError && size == 1 {
				return slowUnquote(b) // encoding/json replaces invalid bytes with U+FFFD
			}
			out = append(out, body[i:i+size]...)
			i += size
		default:
			out = append(out, c)
			i++
		}
	}
	return string(out), nil
}

// unicodeEscape decodes \uXXXX (and a following low surrogate); n is the
// bytes consumed, 0 when the escape is not one this fast path handles.
func unicodeEscape(s []byte) (rune, int) {
	r := hex4(s)
	if r < 0 {
		return 0, 0
	}
	if !utf16.IsSurrogate(r) {
		return r, 6
	}
	if len(s) >= 12 && s[6] == '\\' && s[7] == 'u' {
		if r2 := hex4(s[6:]); r2 >= 0 {
			if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
				return dec, 12
			}
		}
	}
	return 0, 0 // a lone surrogate: encoding/json's own rules apply
}

func hex4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

func slowUnquote(b []byte) (string, error) {
	var s string
	err := json.Unmarshal(b, &s)
	return s, err
}
