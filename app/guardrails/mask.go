package guardrails

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// maskMatch renders a match for the violation log. PII and secrets are
// masked so that the Security Events log never becomes a store of the data
// it protects; phrases and terms (which an administrator configured or which
// are not sensitive) are shown, clipped.
func maskMatch(f finding, m string) string {
	switch f.cat {
	case catPII:
		return maskPII(f.ent, m)
	case catSecrets:
		return maskSecret(f.ent, m)
	case catRegex:
		return maskGeneric(m)
	}
	switch f.ent {
	case entHidden:
		return fmt.Sprintf("%d invisible tag characters", utf8.RuneCountInString(m))
	case entEncoded:
		return clip(m, 16)
	}
	return clip(m, 80)
}

func maskPII(e entity, m string) string {
	switch e {
	case entEmail:
		return maskEmail(m)
	case entCard:
		d := digitsOf(m)
		return d[:4] + strings.Repeat("*", len(d)-8) + d[len(d)-4:]
	case entSSN:
		d := digitsOf(m)
		return "***-**-" + d[len(d)-4:]
	case entPhone:
		return maskDigits(m, 2)
	case entIP:
		if k := strings.IndexByte(m, '.'); k >= 0 && !strings.Contains(m, ":") {
			return m[:k] + ".***.***.***"
		}
		return m[:strings.IndexByte(m, ':')] + ":***"
	}
	return maskGeneric(m)
}

// maskEmail keeps the first character of the local part and of the domain,
// and the top-level domain: j***@e***.com.
func maskEmail(m string) string {
	at := strings.LastIndexByte(m, '@')
	local, dom := m[:at], m[at+1:]
	tld := dom[strings.LastIndexByte(dom, '.')+1:]
	return local[:1] + "***@" + dom[:1] + "***." + tld
}

func digitsOf(m string) string {
	var b strings.Builder
	for i := 0; i < len(m); i++ {
		if isDigit(m[i]) {
			b.WriteByte(m[i])
		}
	}
	return b.String()
}

// maskDigits stars every digit but the last keep, preserving the format.
func maskDigits(m string, keep int) string {
	total := len(digitsOf(m))
	b := []byte(m)
	seen := 0
	for i, c := range b {
		if isDigit(c) {
			if seen < total-keep {
				b[i] = '*'
			}
			seen++
		}
	}
	return string(b)
}

// maskSecret keeps a short prefix that tells the kind of credential
// ("AKIA", "sk-p", "ghp_") and nothing of a password.
func maskSecret(e entity, m string) string {
	switch e {
	case entPassword:
		return "********"
	case entPrivateKey:
		if k := strings.Index(m[5:], "-----"); k >= 0 {
			return m[:k+10] + "***"
		}
	}
	return prefix(m, min(4, len(m)/4)) + "****"
}

// prefix returns the first n bytes of m, shortened to a rune boundary.
func prefix(m string, n int) string {
	for n > 0 && n < len(m) && !utf8.RuneStart(m[n]) {
		n--
	}
	return valid(m[:n])
}

// maskGeneric shows the first and last character of a custom regex match,
// which may be a customer identifier.
func maskGeneric(m string) string {
	first, _ := utf8.DecodeRuneInString(m)
	last, _ := utf8.DecodeLastRuneInString(m)
	if utf8.RuneCountInString(m) < 6 {
		return valid(string(first)) + "***"
	}
	return valid(string(first)) + "***" + valid(string(last))
}

// clip collapses whitespace and cuts to n bytes on a rune boundary.
func clip(m string, n int) string {
	var b strings.Builder
	space := false
	for i := 0; i < len(m) && b.Len() < n; {
		r, size := utf8.DecodeRuneInString(m[i:])
		i += size
		if r < utf8.RuneSelf && isSpaceByte(byte(r)) {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		if r == utf8.RuneError && size == 1 {
			r = '\uFFFD'
		}
		b.WriteRune(r)
		if b.Len() >= n && i < len(m) {
			b.WriteString("…")
		}
	}
	return b.String()
}

func valid(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
