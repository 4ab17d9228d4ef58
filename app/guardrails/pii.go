package guardrails

import (
	"net/netip"
	"strings"
)

// PII detectors are hand-written scanners rather than regular expressions:
// emails are only looked for around '@', IPv6 addresses around ':', and the
// numeric entities (cards, SSNs, phones, IPv4) only where a digit run starts.
// Each validates what it finds (Luhn, SSN area rules, octet ranges, NANP area
// codes) and requires number boundaries, so "v1.2.3.4.5", order ids and dates
// are not reported.

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isAlpha(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }
func isAlnum(c byte) bool { return isDigit(c) || isAlpha(c) }
func isWord(c byte) bool  { return isAlnum(c) || c == '_' }
func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }
func isHex(c byte) bool   { return isDigit(c) || 'a' <= c|0x20 && c|0x20 <= 'f' }

// digitsAt reports whether s[i:i+n] is n ASCII digits.
func digitsAt(s string, i, n int) bool {
	if i < 0 || i+n > len(s) {
		return false
	}
	for k := i; k < i+n; k++ {
		if !isDigit(s[k]) {
			return false
		}
	}
	return true
}

// numLeftOK reports whether a number may start at i: not glued to a word nor
// continuing a number ("v4111…", "12-345-…", "1.2.3").
func numLeftOK(s string, i int) bool {
	if i == 0 {
		return true
	}
	p := s[i-1]
	if isWord(p) {
		return false
	}
	switch p {
	case '.', '-', ',', '/', ':', '+':
		// A placeholder's ']' counts as the number it replaced, so that
		// checking a redacted text again finds nothing new.
		return i < 2 || !isDigit(s[i-2]) && s[i-2] != ']'
	}
	return true
}

// numRightOK reports whether a number may end at e. With addr a ":port" or
// "/prefix" suffix is accepted, as after an IPv4 address.
func numRightOK(s string, e int, addr bool) bool {
	if e >= len(s) {
		return true
	}
	c := s[e]
	if isWord(c) {
		return false
	}
	if e+1 < len(s) && isDigit(s[e+1]) {
		switch c {
		case '.', '-', ',':
			return false
		case ':', '/':
			return addr
		}
	}
	return true
}

// numberAt tries the numeric detectors enabled in mask at i, a position
// satisfying numLeftOK, and returns what it found and where it ends (0 if none).
func numberAt(s string, i int, mask uint64) (entity, int) {
	has := func(e entity) bool { return mask&(1<<e) != 0 }
	switch s[i] {
	case '+':
		if has(entPhone) {
			if e := intlPhoneAt(s, i); e > 0 {
				return entPhone, e
			}
		}
		return entNone, 0
	case '(':
		if has(entPhone) {
			if e := nanpPhoneAt(s, i); e > 0 {
				return entPhone, e
			}
		}
		return entNone, 0
	}
	if has(entIP) {
		if e := ipv4At(s, i); e > 0 {
			return entIP, e
		}
	}
	if has(entSSN) {
		if e := ssnAt(s, i); e > 0 {
			return entSSN, e
		}
	}
	if has(entCard) {
		if e := cardAt(s, i); e > 0 {
			return entCard, e
		}
	}
	if has(entPhone) {
		if e := nanpPhoneAt(s, i); e > 0 {
			return entPhone, e
		}
	}
	return entNone, 0
}

// ipv4At matches a dotted quad with octets 0-255 and no leading zeros.
func ipv4At(s string, i int) int {
	j := i
	for k := 0; k < 4; k++ {
		if k > 0 {
			if j >= len(s) || s[j] != '.' {
				return 0
			}
			j++
		}
		st, v := j, 0
		for j < len(s) && isDigit(s[j]) && j-st < 3 {
			v = v*10 + int(s[j]-'0')
			j++
		}
		n := j - st
		if n == 0 || v > 255 || n > 1 && s[st] == '0' || j < len(s) && isDigit(s[j]) {
			return 0
		}
	}
	if !numRightOK(s, j, true) {
		return 0
	}
	return j
}

// ssnAt matches AAA-GG-SSSS (or with spaces) with a valid area (not 000, 666
// or 9xx), group and serial. Nine bare digits count only right after "SSN" or
// "social security", since any nine-digit id would match otherwise.
func ssnAt(s string, i int) int {
	if digitsAt(s, i, 3) && i+11 <= len(s) {
		sep := s[i+3]
		if (sep == '-' || sep == ' ') && s[i+6] == sep && digitsAt(s, i+4, 2) && digitsAt(s, i+7, 4) &&
			ssnValid(s[i:i+3], s[i+4:i+6], s[i+7:i+11]) && numRightOK(s, i+11, false) {
			return i + 11
		}
	}
	if digitsAt(s, i, 9) && (i+9 == len(s) || !isDigit(s[i+9])) && numRightOK(s, i+9, false) &&
		ssnValid(s[i:i+3], s[i+3:i+5], s[i+5:i+9]) && ssnContext(s, i) {
		return i + 9
	}
	return 0
}

func ssnValid(area, group, serial string) bool {
	return area != "000" && area != "666" && area[0] != '9' && group != "00" && serial != "0000"
}

// ssnContext reports whether the word "SSN" or "social security" precedes
// i closely (not the "SSN" of an [SSN_REDACTED] placeholder).
func ssnContext(s string, i int) bool {
	w := s[max(0, i-32):i]
	return wordIn(w, "ssn") || wordIn(w, "social security")
}

// wordIn reports whether the lowercase word occurs in s, case-insensitively,
// delimited by neither letters, '_' nor '['.
func wordIn(s, word string) bool {
	for off := 0; ; {
		k := indexFold(s[off:], word)
		if k < 0 {
			return false
		}
		a, b := off+k, off+k+len(word)
		if (a == 0 || !isAlpha(s[a-1]) && s[a-1] != '[' && s[a-1] != '_') && (b == len(s) || !isAlpha(s[b]) && s[b] != '_') {
			return true
		}
		off = a + 1
	}
}

// indexFold is an allocation-free ASCII case-insensitive strings.Index for a
// lowercase needle.
func indexFold(s, needle string) int {
	for i := 0; i+len(needle) <= len(s); i++ {
		k := 0
		for k < len(needle) && foldByte(s[i+k]) == needle[k] {
			k++
		}
		if k == len(needle) {
			return i
		}
	}
	return -1
}

// cardAt matches 13-19 digits, bare or in groups separated by single spaces or
// dashes, that pass the Luhn check and start like a card of a major network
// (2-6). The longest valid prefix of the groups wins.
func cardAt(s string, i int) int {
	var digits [19]byte
	var ends [10]struct{ pos, nd int }
	nd, ne, j, group := 0, 0, i, 0
	var sep byte
	for j < len(s) && ne < len(ends) {
		c := s[j]
		if isDigit(c) {
			if nd < len(digits) {
				digits[nd] = c
			}
			nd++
			group++
			j++
			continue
		}
		ends[ne] = struct{ pos, nd int }{j, nd}
		ne++
		if (c == ' ' || c == '-') && (sep == 0 || c == sep) && j+1 < len(s) && isDigit(s[j+1]) && group <= 6 {
			sep, group = c, 0
			j++
			continue
		}
		break
	}
	if j == len(s) && ne < len(ends) {
		ends[ne] = struct{ pos, nd int }{j, nd}
		ne++
	}
	for k := ne - 1; k >= 0; k-- {
		e := ends[k]
		if e.nd < 13 || e.nd > 19 || !numRightOK(s, e.pos, false) {
			continue
		}
		if k > 0 && !cardGrouping(s[i:e.pos]) {
			continue
		}
		if cardDigitsValid(digits[:e.nd]) {
			return e.pos
		}
	}
	return 0
}

// cardGrouping accepts the groupings cards are written in: a first group of
// 4-6 digits, then groups of 2-6.
func cardGrouping(m string) bool {
	first, n := true, 0
	for k := 0; k <= len(m); k++ {
		if k < len(m) && isDigit(m[k]) {
			n++
			continue
		}
		if first && (n < 4 || n > 6) || !first && (n < 2 || n > 6) {
			return false
		}
		first, n = false, 0
	}
	return true
}

func cardDigitsValid(d []byte) bool {
	if d[0] < '2' || d[0] > '6' {
		return false
	}
	same := true
	for _, c := range d[1:] {
		same = same && c == d[0]
	}
	return !same && luhnValid(d)
}

// luhnValid is the mod-10 check every payment card number satisfies.
func luhnValid(d []byte) bool {
	sum, double := 0, false
	for k := len(d) - 1; k >= 0; k-- {
		n := int(d[k] - '0')
		if double {
			if n *= 2; n > 9 {
				n -= 9
			}
		}
		sum += n
		double = !double
	}
	return sum%10 == 0
}

func isPhoneSep(c byte) bool { return c == '-' || c == '.' || c == ' ' }

// nanpPhoneAt matches North American numbers written with separators:
// (555) 234-5678, 555-234-5678, 555.234.5678, 1-800-555-1234. Ten bare
// digits are not a phone number here: they are too often ids or timestamps.
func nanpPhoneAt(s string, i int) int {
	j := i
	if s[j] == '1' && j+2 < len(s) && isPhoneSep(s[j+1]) && (isDigit(s[j+2]) || s[j+2] == '(') {
		j += 2
	}
	var sep1 byte
	paren := s[j] == '('
	switch {
	case paren:
		if !digitsAt(s, j+1, 3) || j+4 >= len(s) || s[j+4] != ')' || s[j+1] < '2' {
			return 0
		}
		j += 5
		if j < len(s) && (s[j] == ' ' || s[j] == '-') {
			j++
		}
	default:
		if !digitsAt(s, j, 3) || j+3 >= len(s) || !isPhoneSep(s[j+3]) || s[j] < '2' {
			return 0
		}
		sep1 = s[j+3]
		j += 4
	}
	if !digitsAt(s, j, 3) || j+3 >= len(s) || !isPhoneSep(s[j+3]) || !paren && s[j+3] != sep1 {
		return 0
	}
	j += 4
	if !digitsAt(s, j, 4) || j+4 < len(s) && isDigit(s[j+4]) || !numRightOK(s, j+4, false) {
		return 0
	}
	return j + 4
}

// intlPhoneAt matches an E.164-style number: '+', a country code not starting
// with 0, then digit groups (optionally one parenthesized) separated by single
// spaces, dashes or dots, 8-15 digits in all.
func intlPhoneAt(s string, i int) int {
	if i+1 >= len(s) || s[i+1] == '0' {
		return 0
	}
	j, nd, best := i+1, 0, 0
	for groups := 0; groups < 8; groups++ {
		st := j
		if j < len(s) && s[j] == '(' && groups > 0 {
			k := j + 1
			for k < len(s) && isDigit(s[k]) && k-j <= 4 {
				k++
			}
			if k == j+1 || k >= len(s) || s[k] != ')' {
				break
			}
			nd += k - j - 1
			j = k + 1
		} else {
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			nd += j - st
		}
		if j == st || nd > 15 {
			break
		}
		if nd >= 8 && numRightOK(s, j, false) {
			best = j
		}
		if j+1 < len(s) && isPhoneSep(s[j]) && (isDigit(s[j+1]) || s[j+1] == '(') {
			j++
		} else if !(s[j-1] == ')' && j < len(s) && isDigit(s[j])) {
			break
		}
	}
	return best
}

// emailAround matches an address around the '@' at at and returns its bounds
// (end 0 if none): a local part of common characters and a domain of at least
// two labels ending in an alphabetic TLD. A trailing '.' or '-' is left out,
// as at the end of a sentence.
func emailAround(s string, at int) (int, int) {
	i := at
	for i > 0 && isLocalByte(s[i-1]) && at-i < 64 {
		i--
	}
	if i > 0 && isLocalByte(s[i-1]) {
		return 0, 0 // longer than any valid local part
	}
	for i < at && s[i] == '.' {
		i++
	}
	if i == at {
		return 0, 0
	}
	j := at + 1
	for j < len(s) && (isAlnum(s[j]) || s[j] == '-' || s[j] == '.') {
		j++
	}
	for j > at+1 && (s[j-1] == '.' || s[j-1] == '-') {
		j--
	}
	if j < len(s) && s[j] == '_' || !validDomain(s[at+1:j]) || notMailbox(s, i, j) {
		return 0, 0
	}
	return i, j
}

// notMailbox rejects user@host forms that are not email addresses: URL
// credentials ("https://user:pw@host") and scp-style git remotes
// ("git@github.com:org/repo").
func notMailbox(s string, i, j int) bool {
	if j+1 < len(s) && s[j] == ':' && (isAlnum(s[j+1]) || s[j+1] == '/' || s[j+1] == '~') {
		return true
	}
	if i == 0 || s[i-1] != ':' {
		return false
	}
	k := i - 1
	for k > 0 && !isSpaceByte(s[k-1]) && s[k-1] != '/' {
		k--
	}
	return k >= 2 && s[k-1] == '/' && s[k-2] == '/'
}

func isLocalByte(c byte) bool {
	return isAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'
}

func validDomain(d string) bool {
	if len(d) < 4 || len(d) > 253 {
		return false
	}
	labels, start := 0, 0
	for k := 0; k <= len(d); k++ {
		if k < len(d) && d[k] != '.' {
			continue
		}
		l := d[start:k]
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		labels++
		if k == len(d) && !tldValid(l) {
			return false
		}
		start = k + 1
	}
	return labels >= 2
}

func tldValid(l string) bool {
	if len(l) < 2 || len(l) > 24 {
		return false
	}
	for k := 0; k < len(l); k++ {
		if !isAlpha(l[k]) {
			return false
		}
	}
	return true
}

func isAddrByte(c byte) bool { return isHex(c) || c == ':' || c == '.' }

// ipv6Around matches an IPv6 address containing the ':' at c. It returns the
// bounds (end 0 if none) and where the caller may resume. Runs that are not
// delimited from words (C++ "std::", "Note:"), have no digit (hex words like
// "dead::beef"), or have neither 7 colons nor "::" (times like 12:30:45) are
// rejected before netip parses the rest.
func ipv6Around(s string, c int) (int, int, int) {
	a, b := c, c
	for a > 0 && isAddrByte(s[a-1]) {
		a--
	}
	for b < len(s) && isAddrByte(s[b]) {
		b++
	}
	if a > 0 && (isWord(s[a-1]) || s[a-1] == ']') || b < len(s) && isWord(s[b]) {
		return 0, 0, b // glued to a word or to a redaction placeholder
	}
	cand := strings.TrimRight(s[a:b], ".")
	if strings.HasSuffix(cand, ":") && !strings.HasSuffix(cand, "::") {
		cand = cand[:len(cand)-1]
	}
	if len(cand) < 6 || len(cand) > 45 || !plausibleIPv6(cand) {
		return 0, 0, b
	}
	addr, err := netip.ParseAddr(cand)
	if err != nil || !addr.Is6() {
		return 0, 0, b
	}
	return a, a + len(cand), b
}

func plausibleIPv6(c string) bool {
	colons, groups, digit, inGroup := 0, 0, false, false
	for k := 0; k < len(c); k++ {
		switch {
		case c[k] == ':':
			colons++
			inGroup = false
		case c[k] == '.':
			inGroup = false
		default:
			digit = digit || isDigit(c[k])
			if !inGroup {
				groups++
			}
			inGroup = true
		}
	}
	return digit && groups >= 2 && (colons == 7 || strings.Contains(c, "::"))
}
