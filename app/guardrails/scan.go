package guardrails

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/llmgw/gateway/app/schema"
)

// scanner is the per-call state of a check, pooled so that a clean text
// costs no allocation: the buffers are reused and a Result is only built when
// something matched.
type scanner struct {
	e     *Engine
	res   Result
	hits  []acHit
	hits2 []acHit // for texts decoded from base64, scanned while hits is in use
	finds []finding
	spans []span
	gate  []bool // per rule: a gate literal occurred in the current text
	gates []gateHit
	// tokEnd, per detector, is the end of the last token run scanned in the
	// current text; triggers inside it are skipped (an "sk-sk-sk-…" run is
	// scanned once, not once per trigger).
	tokEnd []int
	wins   [][2]int
	seen   []bool // per rule: an allowed topic occurred in a user message
}

// gateHit is where a gate literal of a rule occurred.
type gateHit struct {
	rule       int16
	start, end int
}

// span is a redaction: s[start:end] becomes repl.
type span struct {
	start, end int
	repl       string
}

const maxFindings = 4096 // per text; bounds work on adversarial inputs

func (sc *scanner) result() Result {
	r := sc.res
	sc.res = Result{}
	return r
}

// message checks one message and reports whether the request is blocked.
func (sc *scanner) message(m *schema.Message, i int) bool {
	trusted := m.Role == "system" || m.Role == "developer" || m.Role == "assistant"
	user := m.Role == "user"
	if m.Content.Text != nil {
		out, changed, stop := sc.text(*m.Content.Text, i, trusted, user)
		if stop {
			return true
		}
		if changed {
			redacted := out // a fresh variable, so only this path allocates
			m.Content.Text = &redacted
		}
	}
	for j := range m.Content.Parts {
		p := &m.Content.Parts[j]
		if sc.field(&p.Text, i, trusted, user) || len(sc.e.fileRules) > 0 && sc.file(p, i) {
			return true
		}
	}
	for k := range m.ToolCalls {
		f := &m.ToolCalls[k].Function
		out, changed, stop := sc.toolArgs(f.Arguments, i, trusted)
		if stop {
			return true
		}
		if changed {
			f.Arguments = out
		}
	}
	return sc.field(&m.Reasoning, i, trusted, false)
}

// field checks the text in *p, replacing it when redacted, and reports
// whether the request is blocked.
func (sc *scanner) field(p *string, msg int, trusted, user bool) bool {
	out, changed, stop := sc.text(*p, msg, trusted, user)
	if changed {
		*p = out
	}
	return stop
}

// text checks one text: detection, then violations and redaction.
func (sc *scanner) text(s string, msg int, trusted, user bool) (out string, changed, stop bool) {
	if s == "" {
		return s, false, false
	}
	sc.detect(s, trusted, user)
	if len(sc.finds) == 0 {
		return s, false, false
	}
	if sc.report(s, msg) {
		return s, false, true
	}
	if len(sc.spans) == 0 {
		return s, false, false
	}
	return redact(s, sc.spans), true, false
}

// toolArgs checks tool call arguments, a JSON document. Redacting the raw
// text keeps it valid JSON unless a match straddles its syntax (a user regex
// such as `".*"`); then the document is decoded and each string redacted.
func (sc *scanner) toolArgs(args string, msg int, trusted bool) (string, bool, bool) {
	out, changed, stop := sc.text(args, msg, trusted, false)
	if !changed || !json.Valid([]byte(args)) || json.Valid([]byte(out)) {
		return out, changed, stop
	}
	var v any
	d := json.NewDecoder(strings.NewReader(args))
	d.UseNumber()
	if d.Decode(&v) != nil {
		return out, changed, stop
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if enc.Encode(sc.redactValue(v, trusted)) != nil {
		return out, changed, stop
	}
	return strings.TrimSuffix(b.String(), "\n"), true, false
}

// redactValue redacts every string (and object key) of a decoded JSON value.
func (sc *scanner) redactValue(v any, trusted bool) any {
	switch t := v.(type) {
	case string:
		return sc.redactOnly(t, trusted)
	case []any:
		for i := range t {
			t[i] = sc.redactValue(t[i], trusted)
		}
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[sc.redactOnly(k, trusted)] = sc.redactValue(x, trusted)
		}
		return out
	}
	return v
}

// redactOnly applies the redact rules to s without recording violations
// (they were recorded when the whole document was checked).
func (sc *scanner) redactOnly(s string, trusted bool) string {
	sc.detect(s, trusted, false)
	spans := sc.spans[:0]
	for _, f := range sc.finds {
		sc.forRules(f, func(r *crule) bool {
			if r.Action == ActionRedact {
				spans = append(spans, span{f.start, f.end, placeholder(f.cat, f.ent)})
			}
			return false
		})
	}
	sc.spans = spans
	return redact(s, spans)
}

// detect fills sc.finds with everything found in s, sorted by position.
// trusted texts skip the intent categories; user texts count for allowed topics.
func (sc *scanner) detect(s string, trusted, user bool) {
	e := sc.e
	sc.finds = sc.finds[:0]
	sc.gates = sc.gates[:0]
	clear(sc.gate)
	clear(sc.tokEnd)
	if e.ac != nil {
		sc.hits = e.ac.scan(s, sc.hits[:0])
		sc.resolveHits(s, sc.hits, trusted, user)
	}
	if e.entMask[catPII] != 0 {
		sc.detectPII(s)
	}
	if !trusted && len(e.byCat[catInjection]) > 0 {
		sc.detectHidden(s)
		sc.detectEncoded(s)
	}
	if len(e.regexRules) > 0 {
		sc.runRegexRules(s, trusted, user)
	}
	sc.sortFindings()
}

func (sc *scanner) add(f finding) {
	if len(sc.finds) < maxFindings {
		sc.finds = append(sc.finds, f)
	}
}

// resolveHits verifies the automaton's hits and turns them into findings.
func (sc *scanner) resolveHits(s string, hits []acHit, trusted, user bool) {
	e := sc.e
	for _, h := range hits {
		p := &e.pats[h.pat]
		end := h.end
		start := end - len(p.lit)
		if p.spaced {
			start = startOf(s, end, p.lit)
		}
		switch p.kind {
		case patDet:
			if trusted && p.det.cat.intent() {
				continue
			}
			if a, b, ok := sc.verify(p.det, s, start, end); ok {
				sc.add(finding{start: a, end: b, cat: p.det.cat, ent: p.det.ent, rule: -1})
			}
		case patTerm:
			if p.exact && !p.bounded(s, start, end) || p.orig != "" && !equalCollapsed(s[start:end], p.orig) {
				continue
			}
			sc.add(finding{start: start, end: end, cat: catTerms, rule: p.rule})
		case patTopic:
			if !trusted && p.bounded(s, start, end) {
				sc.add(finding{start: start, end: end, cat: catTopic, rule: p.rule, aux: p.topic})
			}
		case patAllowed:
			if user && p.bounded(s, start, end) {
				sc.seen[p.rule] = true
			}
		case patGate:
			sc.gate[p.rule] = true
			sc.gates = append(sc.gates, gateHit{p.rule, start, end})
		}
	}
}

// verify runs a detector at a trigger. A token detector remembers the run
// it scanned, so triggers inside it ("sk-sk-sk-…") are not scanned again.
func (sc *scanner) verify(d *det, s string, start, end int) (int, int, bool) {
	if d.tok == nil {
		return verifyDet(d, s, start, end)
	}
	if start < sc.tokEnd[d.id] || d.wordStart && start > 0 && isWord(s[start-1]) {
		return 0, 0, false
	}
	a, b, ok, runEnd := d.tok.match(s, start)
	sc.tokEnd[d.id] = runEnd
	return a, b, ok
}

// verifyDet runs a phrase detector: the cheap prechecks, then verify.
func verifyDet(d *det, s string, start, end int) (int, int, bool) {
	if d.wordStart && start > 0 && isWord(s[start-1]) ||
		d.next != nil && !d.next.has(wordAfter(s, end)) || d.prev != nil && !d.prev.has(wordBefore(s, start)) {
		return 0, 0, false
	}
	if d.verify == nil {
		return start, end, wordBounded(s, start, end)
	}
	return d.verify(s, start, end)
}

// bounded applies whole-word matching: a literal edge that is a word
// character must not touch another word character (Unicode-aware).
func (p *acPat) bounded(s string, start, end int) bool {
	return (!p.wordL || !wordRuneBefore(s, start)) && (!p.wordR || !wordRuneAt(s, end))
}

func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return isWord(byte(r))
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)
}

func wordRuneBefore(s string, i int) bool {
	if i <= 0 {
		return false
	}
	if s[i-1] < utf8.RuneSelf {
		return isWord(s[i-1])
	}
	r, _ := utf8.DecodeLastRuneInString(s[:i])
	return isWordRune(r)
}

func wordRuneAt(s string, i int) bool {
	if i >= len(s) {
		return false
	}
	if s[i] < utf8.RuneSelf {
		return isWord(s[i])
	}
	r, _ := utf8.DecodeRuneInString(s[i:])
	return isWordRune(r)
}

// detectPII runs the PII scanners the rules need.
func (sc *scanner) detectPII(s string) {
	m := sc.e.entMask[catPII]
	if m&(1<<entEmail) != 0 {
		for off := 0; off < len(s); {
			k := strings.IndexByte(s[off:], '@')
			if k < 0 {
				break
			}
			at := off + k
			off = at + 1
			if a, b := emailAround(s, at); b > 0 {
				sc.add(finding{start: a, end: b, cat: catPII, ent: entEmail, rule: -1})
				off = b
			}
		}
	}
	if m&(1<<entIP) != 0 {
		for off := 0; off < len(s); {
			k := strings.IndexByte(s[off:], ':')
			if k < 0 {
				break
			}
			a, b, next := ipv6Around(s, off+k)
			if b > 0 {
				sc.add(finding{start: a, end: b, cat: catPII, ent: entIP, rule: -1})
			}
			off = max(next, off+k+1)
		}
	}
	if m&entBits(entPhone, entSSN, entCard, entIP) != 0 {
		sc.detectNumbers(s, m)
	}
}

// detectNumbers tries the numeric detectors where a digit run (or a '+' or
// '(' before one) starts, then skips the rest of the run.
func (sc *scanner) detectNumbers(s string, mask uint64) {
	for i := 0; i < len(s); i++ {
		for i < len(s) && !numStart[s[i]] {
			i++
		}
		if i >= len(s) {
			return
		}
		if c := s[i]; !isDigit(c) && !(i+1 < len(s) && isDigit(s[i+1])) {
			continue // a '+' or '(' not followed by a digit
		}
		if numLeftOK(s, i) {
			if ent, end := numberAt(s, i, mask); end > 0 {
				sc.add(finding{start: i, end: end, cat: catPII, ent: ent, rule: -1})
				i = end - 1
				continue
			}
		}
		for i+1 < len(s) && isDigit(s[i+1]) {
			i++
		}
	}
}

// numStart marks the bytes a number can start with.
var numStart = func() (t [256]bool) {
	for _, c := range []byte("0123456789+(") {
		t[c] = true
	}
	return t
}()

// detectHidden reports runs of Unicode tag characters (U+E0000-U+E007F):
// invisible, yet read by models as ASCII, they smuggle instructions past a
// human reviewer. Subdivision flag emoji, which legitimately use them, are
// left alone.
func (sc *scanner) detectHidden(s string) {
	for off := 0; off < len(s); {
		k := strings.Index(s[off:], "\xf3\xa0")
		if k < 0 {
			return
		}
		a := off + k
		b := a
		for b+4 <= len(s) && s[b] == 0xf3 && s[b+1] == 0xa0 && (s[b+2] == 0x80 || s[b+2] == 0x81) && s[b+3]&0xc0 == 0x80 {
			b += 4
		}
		off = max(b, a+2)
		if b > a && !flagEmoji(s, a, b) {
			sc.add(finding{start: a, end: b, cat: catInjection, ent: entHidden, rule: -1})
		}
	}
}

func flagEmoji(s string, a, b int) bool {
	return a >= 4 && s[a-4:a] == "\U0001F3F4" && s[b-4:b] == "\U000E007F"
}

var b64Byte = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") {
		t[c] = true
	}
	return t
}()

// detectEncoded decodes base64 runs (mixed case, 24+ characters) and reports
// those hiding an injection or jailbreak phrase. Work is bounded per text.
// Runs are found by probing every 24th byte: a run of 24 covers a probe.
func (sc *scanner) detectEncoded(s string) {
	const minRun = 24
	budget, tries := 64<<10, 0
	for i := 0; i+minRun <= len(s) && budget > 0 && tries < 8; {
		if !b64Byte[s[i+minRun-1]] {
			i += minRun
			continue
		}
		j := i + minRun - 1 // s[i-1] is never base64 here: i starts a text, follows a probe or ends a run
		for j > i && b64Byte[s[j-1]] {
			j--
		}
		k := i + minRun
		for k < len(s) && b64Byte[s[k]] {
			k++
		}
		i = k
		if k-j < minRun || j > 0 && isWord(s[j-1]) || !mixedCase(s[j:k]) {
			continue
		}
		tries++
		run := s[j:min(k, j+budget)]
		budget -= len(run)
		if sc.encodedIntent(run) {
			sc.add(finding{start: j, end: k, cat: catInjection, ent: entEncoded, rule: -1})
		}
	}
}

func mixedCase(s string) bool {
	up, low := false, false
	for k := 0; k < len(s) && !(up && low); k++ {
		up = up || isUpper(s[k])
		low = low || 'a' <= s[k] && s[k] <= 'z'
	}
	return up && low
}

func (sc *scanner) encodedIntent(run string) bool {
	run = strings.TrimRight(run, "=")
	if len(run)%4 == 1 { // a truncated run: drop the dangling character
		run = run[:len(run)-1]
	}
	dec, err := base64.RawStdEncoding.DecodeString(run)
	if err != nil || !utf8.Valid(dec) || !mostlyText(dec) {
		return false
	}
	sc.hits2 = sc.e.ac.scan(string(dec), sc.hits2[:0])
	for _, h := range sc.hits2 {
		p := &sc.e.pats[h.pat]
		if p.kind != patDet || p.det.cat != catInjection && p.det.cat != catJailbreak {
			continue
		}
		end := h.end
		start := end - len(p.lit)
		if p.spaced {
			start = startOf(string(dec), end, p.lit)
		}
		if _, _, ok := verifyDet(p.det, string(dec), start, end); ok {
			return true
		}
	}
	return false
}

func mostlyText(b []byte) bool {
	bad := 0
	for _, c := range b {
		if c < 0x20 && c != '\n' && c != '\r' && c != '\t' || c == 0x7f {
			bad++
		}
	}
	return bad*10 <= len(b)
}

// runRegexRules runs the rules' regular expressions.
func (sc *scanner) runRegexRules(s string, trusted, user bool) {
	for _, ri := range sc.e.regexRules {
		r := &sc.e.rules[ri]
		if r.cat == catTopic && trusted {
			continue
		}
		for k := range r.regexes {
			if ur := &r.regexes[k]; !ur.allowed || user && !sc.seen[ri] {
				sc.runRegex(s, ri, r, ur)
			}
		}
	}
}

// runRegex runs a user regex: not at all when none of its gate literals
// occurred, only in windows around them when its match length is bounded
// (every match contains a gate literal, so it lies within maxLen bytes of
// one), else over the whole text.
func (sc *scanner) runRegex(s string, ri int16, r *crule, ur *userRegex) {
	full := ur.foldRisk && foldRiskIn(s)
	switch {
	case ur.gated && !sc.gate[ri] && !full:
	case ur.gated && ur.maxLen > 0 && !full && sc.windows(s, ri, ur.maxLen):
		for _, w := range sc.wins {
			sc.regexIn(s, w[0], w[1], ri, r, ur)
		}
	default:
		sc.regexIn(s, 0, len(s), ri, r, ur)
	}
}

func (sc *scanner) regexIn(s string, lo, hi int, ri int16, r *crule, ur *userRegex) {
	w := s[lo:hi]
	if !ur.re.MatchString(w) {
		return
	}
	for _, loc := range ur.re.FindAllStringIndex(w, maxFindings) {
		a, b := lo+loc[0], lo+loc[1]
		if a == b || ur.exact && (wordRuneBefore(s, a) || wordRuneAt(s, b)) {
			continue
		}
		switch {
		case ur.allowed:
			sc.seen[ri] = true
			return
		case r.cat == catTopic:
			sc.add(finding{start: a, end: b, cat: catTopic, rule: ri, aux: ur.topic})
		default:
			sc.add(finding{start: a, end: b, cat: r.cat, rule: ri})
		}
	}
}

// windows computes in sc.wins the merged windows around rule ri's gate hits,
// or reports false when a window edge cannot be placed safely. An edge must
// be a rune start next to a non-word byte: the regex then sees the same
// context for \b and \B at the edge as in the whole text.
func (sc *scanner) windows(s string, ri int16, maxLen int) bool {
	sc.wins = sc.wins[:0]
	for _, g := range sc.gates {
		if g.rule != ri {
			continue
		}
		lo, okL := windowEdge(s, g.end-maxLen, -1)
		hi, okR := windowEdge(s, g.start+maxLen, +1)
		if !okL || !okR {
			return false
		}
		sc.wins = append(sc.wins, [2]int{lo, hi})
	}
	slices.SortFunc(sc.wins, func(a, b [2]int) int { return a[0] - b[0] })
	out := sc.wins[:0]
	for _, w := range sc.wins {
		if n := len(out); n > 0 && w[0] <= out[n-1][1] {
			out[n-1][1] = max(out[n-1][1], w[1])
			continue
		}
		out = append(out, w)
	}
	sc.wins = out
	return true
}

// windowEdge moves i (clamped to s) in direction dir, at most 256 bytes,
// until it is a rune start whose outer neighbour is not a word byte.
func windowEdge(s string, i, dir int) (int, bool) {
	i = min(max(i, 0), len(s))
	for steps := 0; steps <= 256; steps++ {
		if i == 0 || i == len(s) {
			return i, true
		}
		outer := s[i]
		if dir < 0 {
			outer = s[i-1]
		}
		if utf8.RuneStart(s[i]) && !isWord(outer) {
			return i, true
		}
		i += dir
	}
	return 0, false
}

// foldRiskIn reports whether s contains the Kelvin sign or long s, which
// case-insensitive regexes match as k and s while the automaton does not.
func foldRiskIn(s string) bool {
	return strings.Contains(s, "\u212a") || strings.Contains(s, "\u017f")
}

// sortFindings orders findings by position (longest first on ties) and drops
// those contained in an earlier finding of the same kind (overlapping
// triggers, an IPv4 inside an IPv6 address).
func (sc *scanner) sortFindings() {
	if len(sc.finds) < 2 {
		return
	}
	slices.SortFunc(sc.finds, func(a, b finding) int {
		if a.start != b.start {
			return a.start - b.start
		}
		return b.end - a.end
	})
	out := sc.finds[:0]
	for _, f := range sc.finds {
		dup := false
		for k := len(out) - 1; k >= 0 && k >= len(out)-8; k-- {
			g := out[k]
			if g.cat == f.cat && g.ent == f.ent && g.rule == f.rule && g.aux == f.aux && g.start <= f.start && f.end <= g.end {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, f)
		}
	}
	sc.finds = out
}

// forRules calls fn with every rule a finding belongs to, until fn returns true.
func (sc *scanner) forRules(f finding, fn func(*crule) bool) bool {
	if f.rule >= 0 {
		return fn(&sc.e.rules[f.rule])
	}
	for _, ri := range sc.e.byCat[f.cat] {
		if r := &sc.e.rules[ri]; r.mask&(1<<f.ent) != 0 && fn(r) {
			return true
		}
	}
	return false
}

// report records a violation per (finding, rule), collects redactions in
// sc.spans, and reports whether a blocking violation stopped the check.
func (sc *scanner) report(s string, msg int) bool {
	sc.spans = sc.spans[:0]
	for _, f := range sc.finds {
		stop := sc.forRules(f, func(r *crule) bool {
			if r.Action == ActionRedact {
				sc.spans = append(sc.spans, span{f.start, f.end, placeholder(f.cat, f.ent)})
			}
			return sc.record(r, findingEntity(r, f), maskMatch(f, s[f.start:f.end]), msg)
		})
		if stop {
			return true
		}
	}
	return false
}

func findingEntity(r *crule, f finding) string {
	if f.cat == catTopic {
		return r.BlockedTopics[f.aux].Name
	}
	return entName[f.ent]
}

// record adds a violation and reports whether it blocks the request.
func (sc *scanner) record(r *crule, ent, match string, msg int) bool {
	v := Violation{Category: r.Type, Entity: ent, Action: r.Action, Rule: r.label, Match: match, MessageIndex: msg}
	block := r.Action == ActionBlock
	if block || len(sc.res.Violations) < MaxViolations {
		sc.res.Violations = append(sc.res.Violations, v)
	}
	if block {
		sc.res.Blocked = &v
	}
	return block
}

// offTopic records the allowed-topic rules no user message satisfied.
func (sc *scanner) offTopic(msg int) {
	if msg < 0 {
		return // no user message: nothing to judge
	}
	for _, ri := range sc.e.allowRules {
		if !sc.seen[ri] && sc.record(&sc.e.rules[ri], entName[entOffTopic], "no allowed topic mentioned", msg) {
			return
		}
	}
}

// redact applies spans (sorted by start; overlapping ones merge, keeping the
// first placeholder) and guarantees valid UTF-8 output.
func redact(s string, spans []span) string {
	if len(spans) == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	pos := 0
	for i := 0; i < len(spans); {
		a, e, repl := spans[i].start, spans[i].end, spans[i].repl
		for i++; i < len(spans) && spans[i].start < e; i++ {
			e = max(e, spans[i].end)
		}
		b.WriteString(s[pos:a])
		b.WriteString(repl)
		pos = e
	}
	b.WriteString(s[pos:])
	out := b.String()
	if !utf8.ValidString(out) {
		out = strings.ToValidUTF8(out, "\uFFFD")
	}
	return out
}
