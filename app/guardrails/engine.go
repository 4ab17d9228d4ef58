package guardrails

import (
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/llmgw/gateway/app/schema"
)

// MaxViolations bounds Result.Violations; redaction still covers every match.
const MaxViolations = 100

// Violation is one rule match, as the Security Events log records it.
type Violation struct {
	Category     string `json:"category"`         // the rule type, e.g. "pii"
	Entity       string `json:"entity,omitempty"` // what was found, e.g. "email", or a topic name
	Action       string `json:"action"`           // block, redact or warn
	Rule         string `json:"rule"`             // the rule's name, or its type
	Match        string `json:"match"`            // the matched text, masked when sensitive
	MessageIndex int    `json:"messageIndex"`     // index in ChatRequest.Messages (0 for CheckText)
}

// Result is the outcome of a check. Blocked, when set, is also in Violations.
type Result struct {
	Blocked    *Violation  `json:"blocked,omitempty"`
	Violations []Violation `json:"violations,omitempty"`
}

// Action summarizes a result for the Security Events counters: "blocked",
// "redacted", "warned", or "" when nothing matched.
func (r Result) Action() string {
	if r.Blocked != nil {
		return "blocked"
	}
	warned := false
	for _, v := range r.Violations {
		if v.Action == ActionRedact {
			return "redacted"
		}
		warned = true
	}
	if warned {
		return "warned"
	}
	return ""
}

// Engine is a compiled configuration. It is immutable and safe for
// concurrent use; build it once per configuration change, not per request.
type Engine struct {
	rules      []crule
	byCat      [numCats][]int16
	entMask    [numCats]uint64 // entities some rule of the category wants
	ac         *acMatcher
	pats       []acPat
	regexRules []int16
	fileRules  []int16
	allowRules []int16
	pool       sync.Pool
}

// crule is a compiled rule.
type crule struct {
	Rule
	cat     category
	label   string
	mask    uint64      // entities of the rule (all bits for types without entities)
	regexes []userRegex // custom_regex, regex terms, and literals the automaton cannot fold
	allowed []string    // file_types allowlist, lowercased
}

// userRegex is a regular expression run over texts, with what makes running
// it cheap: gate literals registered in the automaton (no gate hit, no run)
// and a bound on match length (run only in windows around gate hits).
type userRegex struct {
	re       *regexp.Regexp
	gated    bool  // it can only match where one of its gate literals occurs
	maxLen   int   // longest match in bytes; 0 if unbounded or anchored (no windows)
	foldRisk bool  // a gate literal contains k or s, which (?i) also matches as K (Kelvin) or ſ
	exact    bool  // whole-word matches only (literals compiled to a regex)
	topic    int16 // the topic of a keyword regex
	allowed  bool  // keywords of an allowed topic: a match marks the rule satisfied
}

type patKind uint8

const (
	patDet     patKind = iota // a built-in detector's trigger
	patTerm                   // a blocked term
	patTopic                  // a blocked topic keyword
	patAllowed                // an allowed topic keyword
	patGate                   // a literal a rule's regex cannot match without
)

// acPat is what one automaton pattern stands for.
type acPat struct {
	kind         patKind
	rule         int16
	topic        int16
	det          *det
	lit          string // normalized, folded: the automaton pattern
	orig         string // normalized, unfolded: set for case-sensitive terms
	spaced       bool   // lit contains whitespace (start needs startOf)
	exact        bool   // whole-word match
	wordL, wordR bool   // lit starts / ends with a word character
}

// Active reports whether the engine checks anything; a nil engine does not.
func (e *Engine) Active() bool { return e != nil && len(e.rules) > 0 }

// Compile validates c and builds its engine. A disabled configuration yields
// an engine that checks nothing.
func Compile(c Config) (*Engine, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	e := &Engine{}
	e.pool.New = func() any { return &scanner{e: e} }
	if !c.Enabled {
		return e, nil
	}
	b := &builder{e: e}
	for _, r := range c.Rules {
		if !r.IsEnabled() {
			continue
		}
		if err := b.addRule(r); err != nil {
			return nil, err
		}
	}
	b.addBuiltins()
	if len(b.lits) > 0 {
		e.ac = newACMatcher(b.lits)
	}
	return e, nil
}

// builder collects the automaton's patterns while rules are compiled.
type builder struct {
	e    *Engine
	lits []string
}

func (b *builder) add(p acPat) {
	p.spaced = strings.IndexByte(p.lit, ' ') >= 0
	r0, _ := utf8.DecodeRuneInString(p.lit)
	r1, _ := utf8.DecodeLastRuneInString(p.lit)
	p.wordL, p.wordR = isWordRune(r0), isWordRune(r1)
	b.e.pats = append(b.e.pats, p)
	b.lits = append(b.lits, p.lit)
}

func (b *builder) addRule(r Rule) error {
	e := b.e
	idx := int16(len(e.rules))
	cr, err := compileRule(r, idx, b.add)
	if err != nil {
		return err
	}
	e.rules = append(e.rules, cr)
	e.byCat[cr.cat] = append(e.byCat[cr.cat], idx)
	e.entMask[cr.cat] |= cr.mask
	if len(cr.regexes) > 0 {
		e.regexRules = append(e.regexRules, idx)
	}
	if cr.cat == catFiles {
		e.fileRules = append(e.fileRules, idx)
	}
	if len(r.AllowedTopics) > 0 {
		e.allowRules = append(e.allowRules, idx)
	}
	return nil
}

// addBuiltins registers the triggers of the built-in detectors some rule wants.
func (b *builder) addBuiltins() {
	for _, d := range allDets {
		if b.e.entMask[d.cat]&(1<<d.ent) == 0 {
			continue
		}
		for _, l := range d.lits {
			b.add(acPat{kind: patDet, rule: -1, det: d, lit: normalizeLiteral(l, true)})
		}
	}
}

// compileRule turns a validated rule into its compiled form, registering
// its literals with add.
func compileRule(r Rule, idx int16, add func(acPat)) (crule, error) {
	cr := crule{Rule: r, cat: categoryOf(r.Type), label: r.label(), mask: ^uint64(0)}
	var err error
	switch r.Type {
	case TypePII, TypeSecrets:
		cr.mask = entityMask(r)
	case TypeBlockedTerms:
		err = compileTerms(&cr, idx, add)
	case TypeCustomRegex:
		err = cr.addRegex(r.Pattern, userRegex{}, idx, add)
	case TypeTopicRestriction:
		err = compileTopics(&cr, idx, add)
	case TypeFileTypes:
		for _, t := range r.AllowedTypes {
			cr.allowed = append(cr.allowed, strings.ToLower(t))
		}
	}
	return cr, err
}

func entityMask(r Rule) uint64 {
	if r.Entities == nil && r.Type == TypePII {
		return entBits(entEmail, entPhone, entSSN, entCard, entIP)
	}
	if r.Entities == nil {
		return entBits(entAWSKey, entAWSSecret, entPrivateKey, entAPIKey, entPassword, entJWT)
	}
	var m uint64
	for _, n := range r.Entities {
		m |= 1 << entityByName(n)
	}
	return m
}

func entBits(es ...entity) uint64 {
	var m uint64
	for _, e := range es {
		m |= 1 << e
	}
	return m
}

// compileTerms puts literal terms in the automaton, except case-insensitive
// terms with non-ASCII cased letters, which go into one (?i) regex; regex
// terms become one alternation.
func compileTerms(cr *crule, idx int16, add func(acPat)) error {
	r := cr.Rule
	if r.MatchType == MatchRegex {
		return cr.addRegex(joinTerms(r.Terms, !r.CaseSensitive), userRegex{}, idx, add)
	}
	exact := r.MatchType == MatchExact
	var folded []string
	for _, t := range r.Terms {
		if !r.CaseSensitive && needsUnicodeFold(t) {
			folded = append(folded, t)
			continue
		}
		p := acPat{kind: patTerm, rule: idx, lit: normalizeLiteral(t, true), exact: exact}
		if r.CaseSensitive {
			p.orig = normalizeLiteral(t, false)
		}
		add(p)
	}
	if len(folded) == 0 {
		return nil
	}
	return cr.addRegex(literalsRegex(folded), userRegex{exact: exact}, idx, add)
}

// joinTerms makes one alternation of regex terms.
func joinTerms(terms []string, fold bool) string {
	parts := make([]string, len(terms))
	for i, t := range terms {
		parts[i] = "(?:" + t + ")"
	}
	pat := strings.Join(parts, "|")
	if fold {
		pat = "(?i)" + pat
	}
	return pat
}

func compileTopics(cr *crule, idx int16, add func(acPat)) error {
	for allowed, topics := range [2][]Topic{cr.BlockedTopics, cr.AllowedTopics} {
		kind := patTopic
		if allowed == 1 {
			kind = patAllowed
		}
		for ti, t := range topics {
			var folded []string
			for _, k := range t.Keywords {
				if needsUnicodeFold(k) {
					folded = append(folded, k)
					continue
				}
				add(acPat{kind: kind, rule: idx, topic: int16(ti), lit: normalizeLiteral(k, true), exact: true})
			}
			if len(folded) > 0 {
				ur := userRegex{exact: true, topic: int16(ti), allowed: allowed == 1}
				if err := cr.addRegex(literalsRegex(folded), ur, idx, add); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// needsUnicodeFold reports whether t has a non-ASCII letter with case
// variants, which the automaton (folding ASCII only) would miss.
func needsUnicodeFold(t string) bool {
	for _, r := range t {
		if r >= utf8.RuneSelf && unicode.SimpleFold(r) != r {
			return true
		}
	}
	return false
}

// literalsRegex matches any of lits case-insensitively, longest first, any
// whitespace run standing for their spaces.
func literalsRegex(lits []string) string {
	alts := make([]string, len(lits))
	for i, l := range lits {
		fields := strings.Fields(l)
		for j, f := range fields {
			fields[j] = regexp.QuoteMeta(f)
		}
		alts[i] = strings.Join(fields, `\s+`)
	}
	slices.SortStableFunc(alts, func(a, b string) int { return len(b) - len(a) })
	return `(?i)(?:` + strings.Join(alts, `)|(?:`) + `)`
}

// addRegex compiles pat and registers the literals it cannot match without
// ("gates"), so that the regex, which may cost ~100 ns/byte on the NFA path,
// only runs on texts containing one. Patterns without such a literal of 3+
// bytes always run.
func (cr *crule) addRegex(pat string, ur userRegex, idx int16, add func(acPat)) error {
	re, err := regexp.Compile(pat)
	if err != nil {
		return err
	}
	ur.re = re
	if syn, err := syntax.Parse(pat, syntax.Perl); err == nil {
		syn = syn.Simplify()
		if lits, ok := requiredLits(syn); ok && shortest(lits) >= 3 {
			ur.gated = true
			ur.maxLen = max(0, maxMatchLen(syn))
			for _, l := range lits {
				n := normalizeLiteral(l.s, true)
				ur.foldRisk = ur.foldRisk || l.fold && strings.ContainsAny(n, "ks")
				add(acPat{kind: patGate, rule: idx, lit: n})
			}
		}
	}
	cr.regexes = append(cr.regexes, ur)
	return nil
}

func hasNonASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return true
		}
	}
	return false
}

func longestASCIIRun(s string) string {
	best, start := "", 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] >= utf8.RuneSelf {
			if i-start > len(best) {
				best = s[start:i]
			}
			start = i + 1
		}
	}
	return best
}

type reqLit struct {
	s    string
	fold bool
}

// requiredLits returns literals one of which every match of re contains.
// Case-insensitive literals must be ASCII: the automaton only folds ASCII.
func requiredLits(re *syntax.Regexp) ([]reqLit, bool) {
	switch re.Op {
	case syntax.OpLiteral:
		s := string(re.Rune)
		fold := re.Flags&syntax.FoldCase != 0
		if fold && hasNonASCII(s) {
			s = longestASCIIRun(s) // any match contains it, in some case
		}
		if strings.TrimSpace(s) == "" {
			return nil, false
		}
		return []reqLit{{s, fold}}, true
	case syntax.OpCapture, syntax.OpPlus:
		return requiredLits(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return requiredLits(re.Sub[0])
		}
	case syntax.OpConcat:
		var best []reqLit
		for _, sub := range re.Sub {
			if l, ok := requiredLits(sub); ok && shortest(l) > shortest(best) {
				best = l
			}
		}
		return best, best != nil
	case syntax.OpAlternate:
		var all []reqLit
		for _, sub := range re.Sub {
			l, ok := requiredLits(sub)
			if !ok || len(all)+len(l) > 64 {
				return nil, false
			}
			all = append(all, l...)
		}
		return all, true
	}
	return nil, false
}

// maxMatchLen bounds the byte length of re's matches; -1 when unbounded or
// when re has text or line anchors (a window would fake their context).
// Case-folded runes may match longer encodings (k matches U+212A), hence 4.
func maxMatchLen(re *syntax.Regexp) int {
	n := 0
	switch re.Op {
	case syntax.OpEmptyMatch, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
	case syntax.OpLiteral:
		n = len(string(re.Rune))
		if re.Flags&syntax.FoldCase != 0 {
			n = utf8.UTFMax * len(re.Rune)
		}
	case syntax.OpCharClass:
		n = utf8.UTFMax
		if len(re.Rune) > 0 && re.Rune[len(re.Rune)-1] < utf8.RuneSelf {
			n = 1
		}
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		n = utf8.UTFMax
	case syntax.OpCapture, syntax.OpQuest:
		n = maxMatchLen(re.Sub[0])
	case syntax.OpRepeat:
		if n = maxMatchLen(re.Sub[0]); re.Max < 0 || n < 0 {
			return -1
		}
		n *= re.Max
	case syntax.OpConcat, syntax.OpAlternate:
		for _, sub := range re.Sub {
			m := maxMatchLen(sub)
			if m < 0 {
				return -1
			}
			if re.Op == syntax.OpConcat {
				n += m
			} else {
				n = max(n, m)
			}
		}
	default: // star, plus, anchors
		return -1
	}
	if n > 4096 {
		return -1
	}
	return n
}

func shortest(ls []reqLit) int {
	if ls == nil {
		return 0
	}
	n := 1 << 30
	for _, l := range ls {
		n = min(n, len(normalizeLiteral(l.s, true)))
	}
	return n
}

// Check scans every message of req: string contents and text parts, tool
// call arguments, tool results and reasoning, plus file, image and audio
// parts for file_types rules. It rewrites redacted texts IN PLACE (fields are
// replaced, never written through shared pointers) and stops at the first
// blocking violation; a blocked request must not be forwarded and may be
// partially redacted.
func (e *Engine) Check(req *schema.ChatRequest) Result {
	if !e.Active() || req == nil {
		return Result{}
	}
	sc := e.acquire()
	defer e.release(sc)
	lastUser := -1
	for i := range req.Messages {
		if req.Messages[i].Role == "user" {
			lastUser = i
		}
		if sc.message(&req.Messages[i], i) {
			return sc.result()
		}
	}
	sc.offTopic(lastUser)
	return sc.result()
}

// CheckText checks one plain text (an embeddings input, a prompt) with every
// rule except file_types and returns it redacted. Violations have
// MessageIndex 0; callers checking a list of inputs can renumber them.
func (e *Engine) CheckText(s string) (string, Result) {
	if !e.Active() {
		return s, Result{}
	}
	sc := e.acquire()
	defer e.release(sc)
	out, _, stop := sc.text(s, 0, false, true)
	if !stop {
		sc.offTopic(0)
	}
	return out, sc.result()
}

func (e *Engine) acquire() *scanner {
	sc := e.pool.Get().(*scanner)
	if len(sc.gate) != len(e.rules) {
		sc.gate = make([]bool, len(e.rules))
		sc.seen = make([]bool, len(e.rules))
		sc.tokEnd = make([]int, len(allDets))
	}
	clear(sc.seen)
	return sc
}

func (e *Engine) release(sc *scanner) {
	sc.res = Result{}
	if cap(sc.hits) > 1<<16 { // do not pin the memory of one huge request
		sc.hits, sc.finds, sc.spans = nil, nil, nil
	}
	e.pool.Put(sc)
}
