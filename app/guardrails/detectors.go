package guardrails

import (
	"math"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// det is a built-in detector. Its literals go into the engine's Aho-Corasick
// automaton; only where one occurs does verify look at the text around it
// (a small anchored regex over a bounded window, or hand-written checks), so
// the cost of a detector is proportional to how often its trigger words occur,
// not to the size of the text.
type det struct {
	cat  category
	ent  entity
	lits []string // triggers, lowercase; whitespace matches any whitespace run
	// wordStart requires the trigger not to continue a word ("task-" is not "sk-").
	wordStart bool
	// next and prev are cheap prechecks run before verify: the word after
	// (before) the trigger must be one of them. They keep the cost of a
	// trigger that occurs thousands of times (an adversarial prompt) small.
	next, prev wordSet
	// tok, for vendor tokens, replaces verify with a hand-written scan.
	tok *tokenSpec
	// verify confirms a trigger at s[start:end] and returns the span to report
	// (and redact). nil means the trigger itself is the match, as a whole word.
	verify func(s string, start, end int) (int, int, bool)
	id     int // index in allDets, for per-text scanner state
}

// wordSet is a set of lowercase words.
type wordSet map[string]bool

func words(ws ...string) wordSet {
	m := wordSet{}
	for _, w := range ws {
		m[w] = true
	}
	return m
}

const wordPunct = "\"'“”‘’,.:;!?()[]*_`"

// has reports whether w, lowercased (ASCII) and stripped of punctuation, is
// in the set. It does not allocate.
func (ws wordSet) has(w string) bool {
	w = strings.Trim(w, wordPunct)
	var buf [24]byte
	if w == "" || len(w) > len(buf) {
		return false
	}
	for i := 0; i < len(w); i++ {
		buf[i] = foldByte(w[i])
	}
	return ws[string(buf[:len(w)])]
}

// wordAfter returns the whitespace-delimited word following s[:end].
func wordAfter(s string, end int) string {
	i := end
	for i < len(s) && (isSpaceByte(s[i]) || strings.IndexByte(",:;", s[i]) >= 0) {
		i++
	}
	j := i
	for j < len(s) && !isSpaceByte(s[j]) && j-i < 32 {
		j++
	}
	return s[i:j]
}

// wordBefore returns the whitespace-delimited word preceding s[start:],
// skipping quotes attached to the trigger ("as \"DAN\"").
func wordBefore(s string, start int) string {
	j := start
	for j > 0 {
		r, n := utf8.DecodeLastRuneInString(s[:j])
		if !unicode.IsSpace(r) && !strings.ContainsRune(`"'“”‘’`, r) {
			break
		}
		j -= n
	}
	i := j
	for i > 0 && !isSpaceByte(s[i-1]) && j-i < 32 {
		i--
	}
	return s[i:j]
}

const (
	fwdWindow  = 256 // bytes after a trigger a verifier may look at
	backWindow = 96  // bytes before it
)

func fwdWin(s string, start int) string { return s[start:min(len(s), start+fwdWindow)] }
func backWin(s string, start int) (string, int) {
	b := max(0, start-backWindow)
	return s[b:start], b
}

// wordBounded reports whether s[start:end] is not glued to word characters.
// Bytes of multi-byte runes count as non-word: the built-in phrases are ASCII.
func wordBounded(s string, start, end int) bool {
	return (start == 0 || !isWord(s[start-1])) && (end >= len(s) || !isWord(s[end]))
}

// fwd verifies with re anchored at the trigger start.
func fwd(re *regexp.Regexp) func(string, int, int) (int, int, bool) {
	return func(s string, start, end int) (int, int, bool) {
		if loc := re.FindStringIndex(fwdWin(s, start)); loc != nil {
			return start, start + loc[1], true
		}
		return 0, 0, false
	}
}

// back verifies with re anchored ($) at the trigger start, for triggers that
// are the object of the suspicious verb ("reveal your | system prompt").
func back(re *regexp.Regexp) func(string, int, int) (int, int, bool) {
	return func(s string, start, end int) (int, int, bool) {
		if !wordBounded(s, start, end) {
			return 0, 0, false
		}
		w, b := backWin(s, start)
		if loc := re.FindStringIndex(w); loc != nil {
			return b + loc[0], end, true
		}
		return 0, 0, false
	}
}

// upper accepts the trigger only when written in capitals, as document
// classification markers are ("CONFIDENTIAL", not "confidential").
func upper(lit string) func(string, int, int) (int, int, bool) {
	up := strings.ToUpper(lit)
	return func(s string, start, end int) (int, int, bool) {
		return start, end, wordBounded(s, start, end) && equalCollapsed(s[start:end], up)
	}
}

var rx = regexp.MustCompile

// --- prompt injection -------------------------------------------------------

var (
	reOverride = rx(`(?i)^(?:ignore|disregard|forget|override|bypass|skip)\s+(?:` +
		`(?:(?:all|any|every|each|the|your|my|our|these|those|of|previous|prior|above|earlier|preceding|foregoing|former|initial|original|system|developer|existing|given|other)\s+){0,4}` +
		`(?:previous|prior|above|earlier|preceding|foregoing|former|initial|original|system|developer|existing|all)\s+` +
		`(?:instructions?|prompts?|rules|directions|directives|guidelines|commands|context|messages?|constraints|programming|training)\b` +
		`|(?:everything|anything|all)\s+(?:(?:that\s+)?(?:was\s+|were\s+|i\s+|you\s+were\s+)?(?:said|told|written|given)\s+)?(?:above|before|previously|earlier|so\s+far)\b` +
		`|(?:everything|anything|all)\s+you\s+(?:were\s+told|have\s+been\s+told|know)\b` +
		`|(?:the\s+)?(?:above|previous|prior)\s*(?:and|,)` +
		`|(?:your|its)\s+(?:instructions|rules|guidelines|programming|directives|system\s+prompt)\b)`)
	reYouAreNow = rx(`(?i)^you\s+are\s+now\s+(?:` +
		`(?:an?|the|my)\s+(?:[\w-]+\s+){0,3}?(?:ai|assistant|model|chatbot|bot|llm|gpt|persona|character|entity|version)\b` +
		`|(?:an?\s+)?(?:different|new|unrestricted|unfiltered|uncensored|evil|rogue|jailbroken|liberated|unchained)\b` +
		`|no\s+longer\b|called\b|named\b|in\s+[\w-]+\s+mode\b|dan\b` +
		`|(?:going\s+to\s+)?(?:act|acting|pretend|pretending|roleplay|roleplaying|playing)\b)`)
	reFromNowOn = rx(`(?i)^from\s+now\s+on\s*,?\s+(?:you\s+(?:are|will|must|shall|should)\s+(?:now\s+)?(?:` +
		`be\s+(?:an?\s+)?(?:[\w-]+\s+){0,2}?(?:ai|assistant|model|chatbot|bot|persona|character|dan)\b` +
		`|act\s+as|behave\s+as|pretend|no\s+longer|ignore|disregard|respond\s+without|answer\s+without|only\s+(?:obey|follow)\s+me)` +
		`|ignore|disregard|act\s+as|pretend)`)
	reNewInstructions = rx(`(?i)\b(?:new|updated|revised|real|actual|true|secret|hidden|override|overriding|admin|priority)\s+(?:system\s+)?$`)
	reExtractBack     = rx(`(?i)\b(?:reveal|show|print|display|output|repeat|leak|dump|expose|disclose|recite|echo|tell|give|copy|` +
		`what(?:'s|’s|\s+is|\s+are|\s+was|\s+were)|write\s+out|spell\s+out|read\s+back)\s+` +
		`(?:(?:me|us|all|exactly|verbatim|entire|full|complete|whole|of|the|your|its|back|out|word\s+for\s+word)\s+){0,4}$`)
	reRepeatAbove = rx(`(?i)^repeat\s+(?:(?:all|back|the|your|every)\s+){0,3}(?:words?|text|everything|instructions|content|prompt|message)\s+` +
		`(?:above|before\s+this|verbatim|word\s+for\s+word)`)
	reHashRole    = rx(`(?i)^#{2,}\s*(?:system|admin|administrator|developer|root)(?:\s+(?:prompt|message|instructions?|override|note))?\s*:`)
	reBracketRole = rx(`(?i)^\[(?:system|admin|developer)(?:\s+(?:message|prompt|note|override|instructions?))?\]`)
)

// verifyHashRole accepts "### system:" only at the start of a run of '#'.
func verifyHashRole(s string, start, end int) (int, int, bool) {
	if start > 0 && s[start-1] == '#' {
		return 0, 0, false
	}
	e := end
	for e < len(s) && s[e] == '#' {
		e++
	}
	if !roleWords.has(wordAfter(s, e)) {
		return 0, 0, false
	}
	return fwd(reHashRole)(s, start, end)
}

var roleWords = words("system", "admin", "administrator", "developer", "root")

// verifySystemLabel accepts an upper-case "SYSTEM:" role label at a line start.
func verifySystemLabel(s string, start, end int) (int, int, bool) {
	if s[start:start+6] != "SYSTEM" {
		return 0, 0, false
	}
	k := start
	for k > 0 && (s[k-1] == ' ' || s[k-1] == '\t' || s[k-1] == '>' || s[k-1] == '*' || s[k-1] == '#') {
		k--
	}
	return start, end, k == 0 || s[k-1] == '\n' || s[k-1] == '\r'
}

var injectionDets = []det{
	{cat: catInjection, ent: entOverride, wordStart: true, lits: []string{"ignore", "disregard", "forget", "override", "bypass", "skip"}, verify: fwd(reOverride),
		next: words("all", "any", "every", "each", "the", "your", "my", "our", "these", "those", "of", "previous", "prior", "above", "earlier",
			"preceding", "foregoing", "former", "initial", "original", "system", "developer", "existing", "given", "other", "everything", "anything", "its")},
	{cat: catInjection, ent: entOverride, lits: []string{"instructions:", "instruction:"}, verify: back(reNewInstructions),
		prev: words("new", "updated", "revised", "real", "actual", "true", "secret", "hidden", "override", "overriding", "admin", "priority", "system")},
	{cat: catInjection, ent: entRoleOverride, wordStart: true, lits: []string{"you are now"}, verify: fwd(reYouAreNow),
		next: words("a", "an", "the", "my", "different", "new", "unrestricted", "unfiltered", "uncensored", "evil", "rogue", "jailbroken", "liberated",
			"unchained", "no", "called", "named", "in", "dan", "going", "act", "acting", "pretend", "pretending", "roleplay", "roleplaying", "playing")},
	{cat: catInjection, ent: entRoleOverride, wordStart: true, lits: []string{"from now on"}, verify: fwd(reFromNowOn),
		next: words("you", "ignore", "disregard", "act", "pretend")},
	{cat: catInjection, ent: entExtraction, lits: []string{"system prompt", "system message", "system instructions", "initial prompt",
		"initial instructions", "original prompt", "original instructions", "hidden prompt", "hidden instructions", "secret instructions",
		"developer message", "developer instructions", "your instructions", "your prompt", "your rules", "your guidelines",
		"your directives", "pre-prompt", "instructions you were given", "prompt above"}, verify: back(reExtractBack),
		prev: words("reveal", "show", "print", "display", "output", "repeat", "leak", "dump", "expose", "disclose", "recite", "echo", "tell", "give",
			"copy", "is", "are", "was", "were", "what's", "what’s", "out", "back", "me", "us", "all", "exactly", "verbatim", "entire", "full",
			"complete", "whole", "of", "the", "your", "its", "word")},
	{cat: catInjection, ent: entExtraction, wordStart: true, lits: []string{"repeat"}, verify: fwd(reRepeatAbove),
		next: words("all", "back", "the", "your", "every", "words", "word", "text", "everything", "instructions", "content", "prompt", "message")},
	{cat: catInjection, ent: entSpoofing, lits: []string{"<|im_start|>", "<|im_end|>", "<|system|>", "<|user|>", "<|assistant|>",
		"<|endoftext|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", "<<sys>>", "<</sys>>", "[inst]", "[/inst]",
		"<start_of_turn>", "<end_of_turn>", "<system>", "</system>"}, verify: literal},
	{cat: catInjection, ent: entSpoofing, lits: []string{"##"}, verify: verifyHashRole},
	{cat: catInjection, ent: entSpoofing, wordStart: true, lits: []string{"[system", "[admin", "[developer"}, verify: fwd(reBracketRole)},
	{cat: catInjection, ent: entSpoofing, wordStart: true, lits: []string{"system:"}, verify: verifySystemLabel},
}

// literal accepts the trigger as is (special tokens need no word boundary).
func literal(_ string, start, end int) (int, int, bool) { return start, end, true }

// --- jailbreak --------------------------------------------------------------

var (
	reDANAfter  = rx(`(?i)^DAN(?:\s+(?:mode|prompt|jailbreak|persona)\b|\s+v?\d+(?:\.\d+)?\b|\s*\(\s*do\s+anything|\s*:)`)
	reDANBefore = rx(`(?i)(?:\b(?:as|like|to\s+be|called|named|become)\s+(?:an?\s+)?` +
		`|\byou\s+(?:are|will\s+be|are\s+going\s+to\s+be)\s+(?:now\s+)?(?:an?\s+)?)["'“]?$`)
	reDevMode      = rx(`(?i)^developer\s+mode\s+(?:is\s+)?(?:now\s+)?(?:enabled|activated|engaged|output)\b`)
	reJailbreakOn  = rx(`(?i)^jailbreak(?:ed)?\s+(?:mode|enabled|activated|prompt)\b`)
	reWithoutAny   = rx(`(?i)^without\s+any\s+(?:(?:(?:ethical|moral|safety|content)\s+)?(?:restrictions|filters|filtering|censorship)|(?:ethical|moral|safety|content)\s+(?:guidelines|limitations|constraints|boundaries|considerations|rules))\b`)
	reYouHaveNo    = rx(`(?i)^you\s+(?:have\s+no|don['’]t\s+have\s+any|do\s+not\s+have\s+any)\s+(?:(?:ethical|moral|safety|content)\s+)?(?:restrictions|filters|rules|guidelines|limits|limitations|boundaries|ethics|morals|principles|censorship)\b`)
	reNoLonger     = rx(`(?i)^no\s+longer\s+(?:bound|restricted|limited|constrained)\s+by\b`)
	reFreed        = rx(`(?i)^freed\s+from\s+(?:the\s+)?(?:typical\s+)?(?:confines|restrictions|rules|limitations|shackles)\b`)
	reSafetyBypass = rx(`(?i)^(?:ignore|bypass|disable|override|circumvent|evade|turn\s+off|deactivate)\s+(?:(?:all|any|your|the|of|its|these|those)\s+){0,3}` +
		`(?:safety|content|ethical|moral|openai|anthropic|google|usage)\s+(?:guidelines|policies|policy|filters?|rules|restrictions|protocols|measures|programming|guardrails|settings|moderation|training)\b`)
	reRoleplay = rx(`(?i)^(?:pretend\s+(?:that\s+)?(?:you\s+are|you['’]re|to\s+be)|act\s+(?:as|like)|role-?\s?play\s+as|imagine\s+(?:that\s+)?you\s+are)\s+` +
		`(?:an?\s+|the\s+|my\s+)?(?:[\w-]+\s+){0,3}?(?:(?:unfiltered|uncensored|unrestricted|amoral|immoral|unethical|evil|rogue|jailbroken|unbound|lawless)\b` +
		`|(?:ai|assistant|model|chatbot|bot|llm|character)\s+(?:without|with\s+no|that\s+(?:has\s+no|doesn['’]t\s+have|does\s+not\s+have|ignores|can\s+do\s+anything)|who\s+(?:has\s+no|ignores|can\s+do\s+anything)))`)
)

// verifyDAN accepts the upper-case name DAN where it is used as a persona
// ("act as DAN", "DAN mode", "DAN 11.0"), not any "Dan".
func verifyDAN(s string, start, end int) (int, int, bool) {
	if s[start:end] != "DAN" || !wordBounded(s, start, end) {
		return 0, 0, false
	}
	if next := wordAfter(s, end); end < len(s) && (s[end] == '(' || s[end] == ':' || danNext.has(next) || next != "" && (isDigit(next[0]) || next[0] == 'v')) {
		if loc := reDANAfter.FindStringIndex(fwdWin(s, start)); loc != nil {
			return start, start + loc[1], true
		}
	}
	if danPrev.has(wordBefore(s, start)) {
		w, b := backWin(s, start)
		if loc := reDANBefore.FindStringIndex(w); loc != nil {
			return b + loc[0], end, true
		}
	}
	return 0, 0, false
}

var (
	danNext = words("mode", "prompt", "jailbreak", "persona")
	danPrev = words("as", "like", "be", "called", "named", "become", "a", "an", "are", "now")
)

var jailbreakDets = []det{
	{cat: catJailbreak, ent: entDAN, lits: []string{"do anything now"}},
	{cat: catJailbreak, ent: entDAN, lits: []string{"dan"}, verify: verifyDAN},
	{cat: catJailbreak, ent: entDevMode, wordStart: true, lits: []string{"developer mode"}, verify: fwd(reDevMode),
		next: words("is", "now", "enabled", "activated", "engaged", "output")},
	{cat: catJailbreak, ent: entDevMode, wordStart: true, lits: []string{"jailbreak"}, verify: fwd(reJailbreakOn)},
	{cat: catJailbreak, ent: entDevMode, lits: []string{"jailbroken"}},
	{cat: catJailbreak, ent: entDevMode, lits: []string{"🔓jailbreak", "🔓developer mode"}, verify: literal},
	{cat: catJailbreak, ent: entNoRestrictions, wordStart: true, lits: []string{"without any"}, verify: fwd(reWithoutAny),
		next: words("ethical", "moral", "safety", "content", "restrictions", "filters", "filtering", "censorship")},
	{cat: catJailbreak, ent: entNoRestrictions, wordStart: true, lits: []string{"you have no", "you don't have any", "you don’t have any", "you do not have any"}, verify: fwd(reYouHaveNo),
		next: words("ethical", "moral", "safety", "content", "restrictions", "filters", "rules", "guidelines", "limits", "limitations",
			"boundaries", "ethics", "morals", "principles", "censorship")},
	{cat: catJailbreak, ent: entNoRestrictions, wordStart: true, lits: []string{"no longer bound", "no longer restricted", "no longer limited", "no longer constrained"}, verify: fwd(reNoLonger)},
	{cat: catJailbreak, ent: entNoRestrictions, wordStart: true, lits: []string{"freed from"}, verify: fwd(reFreed),
		next: words("the", "typical", "confines", "restrictions", "rules", "limitations", "shackles")},
	{cat: catJailbreak, ent: entSafetyBypass, wordStart: true, lits: []string{"ignore", "bypass", "disable", "override", "circumvent", "evade", "turn off", "deactivate"}, verify: fwd(reSafetyBypass),
		next: words("all", "any", "your", "the", "of", "its", "these", "those", "safety", "content", "ethical", "moral", "openai", "anthropic", "google", "usage")},
	{cat: catJailbreak, ent: entRoleplay, wordStart: true, lits: []string{"pretend", "act as", "act like", "roleplay as", "role-play as", "role play as", "imagine you are", "imagine that you are"}, verify: fwd(reRoleplay)},
	{cat: catJailbreak, ent: entPersona, lits: []string{"always intelligent and machiavellian", "strive to avoid norms", "mongo tom", "evil confidant", "betterdan", "antigpt", "anti-gpt"}},
}

// --- document leakage -------------------------------------------------------

var (
	reConfAfter  = rx(`(?i)^confidential\s*(?:(?:and|&)\s*(?:proprietary|privileged)\b|[-–—:|/]\s*(?:do\s+not|not\s+for|internal)\b)`)
	reConfBefore = rx(`(?i)\b(?:strictly|highly|company|proprietary\s*(?:and|&)|privileged\s*(?:and|&)|business|commercial(?:ly)?|attorney-client)\s+$`)
	reDocBack    = rx(`(?i)\b(?:show|give|dump|leak|reveal|extract|print|display|output|export|retrieve|exfiltrate|list|paste)\s+(?:me\s+|us\s+)?` +
		`(?:(?:all|any|every|the|your|its|their|our|some|of|company|company['’]s|those|these)\s+){0,3}$`)
)

var confBefore = words("strictly", "highly", "company", "and", "&", "business", "commercial", "commercially", "attorney-client")

// verifyConfidential accepts CONFIDENTIAL in capitals, or a confidentiality
// phrase around the word in any case.
func verifyConfidential(s string, start, end int) (int, int, bool) {
	if !wordBounded(s, start, end) {
		return 0, 0, false
	}
	if s[start:end] == "CONFIDENTIAL" {
		return start, end, true
	}
	if a, b, ok := fwd(reConfAfter)(s, start, end); ok {
		return a, b, true
	}
	if confBefore.has(wordBefore(s, start)) {
		return back(reConfBefore)(s, start, end)
	}
	return 0, 0, false
}

var leakageDets = []det{
	{cat: catLeakage, ent: entMarker, lits: []string{"confidential"}, verify: verifyConfidential},
	{cat: catLeakage, ent: entMarker, lits: []string{"top secret"}, verify: upper("top secret")},
	{cat: catLeakage, ent: entMarker, lits: []string{"internal only"}, verify: upper("internal only")},
	{cat: catLeakage, ent: entMarker, lits: []string{"internal use only", "do not distribute", "not for distribution", "not for external distribution",
		"do not share externally", "do not forward", "company proprietary", "attorney-client privileged", "attorney-client privilege"}},
	{cat: catLeakage, ent: entDocRequest, lits: []string{"internal documents", "internal document", "internal docs", "confidential documents",
		"confidential document", "confidential files", "internal files", "private documents", "proprietary documents", "internal data",
		"confidential data", "internal memos", "internal emails", "trade secrets", "customer database", "customer records",
		"employee records", "salary data", "payroll data"}, verify: back(reDocBack),
		prev: words("show", "give", "dump", "leak", "reveal", "extract", "print", "display", "output", "export", "retrieve", "exfiltrate", "list",
			"paste", "me", "us", "all", "any", "every", "the", "your", "its", "their", "our", "some", "of", "company", "company's", "company’s", "those", "these")},
}

// --- secrets ----------------------------------------------------------------

// verifyAWSKeyID accepts an AWS access key id: a known 4-letter prefix and 16
// upper-case letters or digits.
func verifyAWSKeyID(s string, start, _ int) (int, int, bool) {
	e := start + 20
	if e > len(s) || e < len(s) && isAlnum(s[e]) {
		return 0, 0, false
	}
	for k := start; k < e; k++ {
		if !isUpper(s[k]) && !isDigit(s[k]) {
			return 0, 0, false
		}
	}
	return start, e, true
}

var (
	rePEMHeader = rx(`^-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----`)
	reConnPass  = rx(`^://[^\s:/@"'<>]{1,64}:([^\s@/"'<>]{3,128})@[A-Za-z0-9.\[-]`)
)

// verifyPEM accepts a private key block through its END line, or through the
// key material when the block is truncated.
func verifyPEM(s string, start, _ int) (int, int, bool) {
	loc := rePEMHeader.FindStringIndex(fwdWin(s, start))
	if loc == nil {
		return 0, 0, false
	}
	body := start + loc[1]
	rest := s[body:min(len(s), body+16<<10)] // RSA-4096 PEM is ~3.3 KB
	if k := strings.Index(rest, "-----END "); k >= 0 {
		if e := strings.Index(rest[k+9:], "-----"); e >= 0 {
			return start, body + k + 9 + e + 5, true
		}
	}
	e := body
	for e < len(s) && (isAlnum(s[e]) || strings.IndexByte("+/=\\ \t\r\n", s[e]) >= 0) {
		e++
	}
	return start, e, true
}

// tokenSpec describes a vendor token: a case-sensitive prefix, then a body
// of class characters. Scanned by hand (one pass over the body) rather than
// by regex, and never twice over the same run (see scanner.tokEnd).
type tokenSpec struct {
	prefixes []string // the longest that matches is used
	class    *[256]bool
	min, max int  // body length; max 0 means up to maxTokenBody
	random   bool // the body must look machine-generated
	jwt      bool // three dot-separated base64url segments
	bearer   bool // "Bearer <value>": the prefix is followed by spaces
}

const maxTokenBody = 1024

func byteClass(extra string) *[256]bool {
	var t [256]bool
	for c := 0; c < 256; c++ {
		t[c] = isAlnum(byte(c)) || strings.IndexByte(extra, byte(c)) >= 0
	}
	return &t
}

var (
	clsAlnum     = byteClass("")
	clsWord      = byteClass("_")
	clsWordDash  = byteClass("_-")
	clsAlnumDash = byteClass("-")
	clsBearer    = byteClass("._~+/-")
)

// match scans a token at start. It returns the span to report, whether it
// is a token, and the end of the run it examined: a later trigger inside
// that run is part of the same run and need not be scanned again.
func (t *tokenSpec) match(s string, start int) (a, b int, ok bool, runEnd int) {
	p := ""
	for _, pre := range t.prefixes {
		if len(pre) > len(p) && strings.HasPrefix(s[start:], pre) {
			p = pre
		}
	}
	if p == "" {
		return 0, 0, false, start + 1
	}
	if t.jwt {
		return matchJWT(s, start)
	}
	body := start + len(p)
	if t.bearer {
		for body < len(s) && (s[body] == ' ' || s[body] == '\t') {
			body++
		}
		if body == start+len(p) {
			return 0, 0, false, body
		}
	}
	e := runOf(s, body, t.class)
	if t.bearer {
		for e < len(s) && s[e] == '=' {
			e++
		}
	}
	n := e - body
	switch {
	case n < t.min || t.max > 0 && n > t.max || e < len(s) && isWord(s[e]):
		return 0, 0, false, e
	case t.random && !looksRandom(tokenBody(s[body:e])):
		return 0, 0, false, e
	case t.bearer:
		return body, e, true, e
	}
	return start, e, true, e
}

// runOf returns the end of the run of class bytes at i, at most maxTokenBody long.
func runOf(s string, i int, class *[256]bool) int {
	e := i
	for e < len(s) && e-i < maxTokenBody && class[s[e]] {
		e++
	}
	return e
}

// matchJWT matches header.payload.signature, both first segments being
// base64url JSON objects ("eyJ").
func matchJWT(s string, start int) (int, int, bool, int) {
	e1 := runOf(s, start, clsWordDash)
	if e1-start < 11 || e1+4 >= len(s) || s[e1] != '.' || !strings.HasPrefix(s[e1+1:], "eyJ") {
		return 0, 0, false, e1
	}
	e2 := runOf(s, e1+1, clsWordDash)
	if e2-e1-1 < 11 || e2+1 >= len(s) || s[e2] != '.' {
		return 0, 0, false, e1
	}
	e3 := runOf(s, e2+1, clsWordDash)
	if e3-e2-1 < 8 || e3 < len(s) && isWord(s[e3]) {
		return 0, 0, false, e1
	}
	return start, e3, true, e3
}

// tokenBody drops a vendor prefix ("sk-proj-") and bounds the text the
// randomness check reads.
func tokenBody(t string) string {
	if k := strings.LastIndexAny(t[:min(len(t), 16)], "-_"); k >= 0 && k+1 < len(t) {
		t = t[k+1:]
	}
	return t[:min(len(t), 64)]
}

// assignAt parses "name = value" from i, inside the name: the rest of an
// identifier, an optional closing quote, an operator (=, :, :=, =>), and a
// value, quoted (also with JSON-escaped quotes) or bare.
func assignAt(s string, i int) (a, b int, quoted, ok bool) {
	j := i
	for j < len(s) && j-i < 64 && (isWord(s[j]) || s[j] == '.' || s[j] == '-') {
		j++
	}
	if j < len(s) && s[j] == '\\' {
		j++
	}
	if j < len(s) && (s[j] == '"' || s[j] == '\'') {
		j++
	}
	j = skipBlanks(s, j)
	switch {
	case strings.HasPrefix(s[j:], ":="), strings.HasPrefix(s[j:], "=>"):
		j += 2
	case j < len(s) && (s[j] == '=' || s[j] == ':'):
		j++
	default:
		return 0, 0, false, false
	}
	j = skipBlanks(s, j)
	if j < len(s) && s[j] == '\\' && j+1 < len(s) && s[j+1] == '"' {
		j++
	}
	if j < len(s) && (s[j] == '"' || s[j] == '\'') {
		q := s[j]
		k := j + 1
		for k < len(s) && k-j <= 200 && s[k] != q && !isSpaceByte(s[k]) && !(q == '"' && s[k] == '\\') {
			k++
		}
		closed := k < len(s) && (s[k] == q || q == '"' && s[k] == '\\' && k+1 < len(s) && s[k+1] == '"')
		if !closed || k == j+1 {
			return 0, 0, false, false
		}
		return j + 1, k, true, true
	}
	k := j
	for k < len(s) && k-j < 200 && !isSpaceByte(s[k]) && strings.IndexByte("\"'`,;()<>[]{}", s[k]) < 0 {
		k++
	}
	return j, k, false, k > j
}

func skipBlanks(s string, j int) int {
	for j < len(s) && isSpaceByte(s[j]) {
		j++
	}
	return j
}

// assignment verifies "name = value" where the name contains the trigger:
// passwords must not be placeholders, keys and tokens must look random.
func assignment(password bool) func(string, int, int) (int, int, bool) {
	return func(s string, start, _ int) (int, int, bool) {
		a, b, quoted, ok := assignAt(s, start)
		if !ok {
			return 0, 0, false
		}
		v := s[a:b]
		if password && plausiblePassword(v, quoted) || !password && len(v) >= 16 && !isPlaceholder(v) && looksRandom(v[:min(len(v), 64)]) {
			return a, b, true
		}
		return 0, 0, false
	}
}

// verifyAWSSecret accepts a 40-character secret assigned to an AWS secret key
// name; only the value is reported.
func verifyAWSSecret(s string, start, _ int) (int, int, bool) {
	a, b, _, ok := assignAt(s, start)
	if !ok || b-a != 40 || b < len(s) && (isAlnum(s[b]) || s[b] == '/' || s[b] == '+' || s[b] == '=') {
		return 0, 0, false
	}
	for k := a; k < b; k++ {
		if !isAlnum(s[k]) && s[k] != '/' && s[k] != '+' {
			return 0, 0, false
		}
	}
	return a, b, true
}

func verifyConnPassword(s string, start, _ int) (int, int, bool) {
	m := reConnPass.FindStringSubmatchIndex(fwdWin(s, start))
	if m == nil || isPlaceholder(s[start+m[2]:start+m[3]]) {
		return 0, 0, false
	}
	return start + m[2], start + m[3], true
}

func plausiblePassword(v string, quoted bool) bool {
	if quoted && len(v) < 6 || !quoted && len(v) < 8 || isPlaceholder(v) {
		return false
	}
	if quoted {
		return true
	}
	letter, other := false, false
	for k := 0; k < len(v); k++ {
		if isAlpha(v[k]) {
			letter = true
		} else {
			other = true
		}
	}
	return letter && other
}

var placeholders = []string{"password", "passwd", "changeme", "example", "placeholder", "undefined", "null", "none",
	"true", "false", "redacted", "secret", "your", "xxxx", "required", "optional", "string", "dummy", "sample", "token"}

// isPlaceholder recognizes values that stand for a secret rather than being
// one: template and environment references, paths, masks and stock words.
func isPlaceholder(v string) bool {
	if v == "" || strings.IndexByte("$<{[%*/~.#", v[0]) >= 0 ||
		strings.Contains(v, "{{") || strings.Contains(v, "${") || strings.Contains(v, "***") {
		return true
	}
	same := true
	for k := 1; k < len(v); k++ {
		same = same && v[k] == v[0]
	}
	if same {
		return true
	}
	for _, p := range placeholders {
		if indexFold(v, p) >= 0 {
			return true
		}
	}
	return false
}

// looksRandom reports whether v is plausibly machine-generated: at least 16
// characters mixing letters and digits with a Shannon entropy of at least 3
// bits per character. Identifiers and words fail the digit or entropy test.
func looksRandom(v string) bool {
	if len(v) < 16 {
		return false
	}
	var counts [256]uint16
	letter, digit := false, false
	for k := 0; k < len(v); k++ {
		c := v[k]
		counts[c]++
		letter = letter || isAlpha(c)
		digit = digit || isDigit(c)
	}
	if !letter || !digit {
		return false
	}
	h, n := 0.0, float64(len(v))
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h >= 3.0
}

var secretDets = []det{
	{cat: catSecrets, ent: entAWSKey, wordStart: true, lits: []string{"akia", "asia", "abia", "acca", "agpa", "aida", "aroa", "aipa", "anpa", "anva", "apka"}, verify: verifyAWSKeyID},
	{cat: catSecrets, ent: entAWSSecret, lits: []string{"secret_access_key", "secretaccesskey", "secret-access-key", "aws_secret", "aws-secret"}, verify: verifyAWSSecret},
	{cat: catSecrets, ent: entPrivateKey, lits: []string{"-----begin"}, verify: verifyPEM},
	{cat: catSecrets, ent: entAPIKey, wordStart: true, lits: []string{"sk-"}, tok: &tokenSpec{prefixes: []string{"sk-"}, class: clsWordDash, min: 20, random: true}},
	{cat: catSecrets, ent: entAPIKey, wordStart: true, lits: []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_"}, tok: &tokenSpec{prefixes: []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_"}, class: clsAlnum, min: 36}},
	{cat: catSecrets, ent: entAPIKey, wordStart: true, lits: []string{"github_pat_"}, tok: &tokenSpec{prefixes: []string{"github_pat_"}, class: clsWord, min: 22}},
	{cat: catSecrets, ent: entAPIKey, wordStart: true, lits: []string{"glpat-"}, tok: &tokenSpec{prefixes: []string{"glpat-"}, class: clsWordDash, min: 20}},
	{cat: catSecrets, ent: entAPIKey, wordStart: true, lits: []string{"xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-"}, tok: &tokenSpec{prefixes: []string{"xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-"}, class: clsAlnumDash, min: 10}},
	{cat: catSecrets, ent: entAPIKey, wordStart: true, lits: []string{"aiza"}, tok: &tokenSpec{prefixes: []string{"AIza"}, class: clsWordDash, min: 35, max: 35}},
	{cat: catSecrets, ent: entAPIKey, wordStart: true, lits: []string{"sk_live_", "sk_test_", "rk_live_", "rk_test_"}, tok: &tokenSpec{prefixes: []string{"sk_live_", "sk_test_", "rk_live_", "rk_test_"}, class: clsAlnum, min: 16}},
	{cat: catSecrets, ent: entAPIKey, wordStart: true, lits: []string{"llmgtwy_", "llmgmk_"}, tok: &tokenSpec{prefixes: []string{"llmgtwy_", "llmgtwy_test_", "llmgmk_"}, class: clsAlnum, min: 32}},
	{cat: catSecrets, ent: entAPIKey, wordStart: true, lits: []string{"hf_"}, tok: &tokenSpec{prefixes: []string{"hf_"}, class: clsAlnum, min: 30, random: true}},
	{cat: catSecrets, ent: entAPIKey, wordStart: true, lits: []string{"npm_"}, tok: &tokenSpec{prefixes: []string{"npm_"}, class: clsAlnum, min: 36, max: 36}},
	{cat: catSecrets, ent: entAPIKey, wordStart: true, lits: []string{"bearer"}, tok: &tokenSpec{prefixes: []string{"Bearer", "bearer"}, class: clsBearer, min: 20, random: true, bearer: true}},
	{cat: catSecrets, ent: entJWT, wordStart: true, lits: []string{"eyj"}, tok: &tokenSpec{prefixes: []string{"eyJ"}, jwt: true}},
	{cat: catSecrets, ent: entAPIKey, lits: []string{"api_key", "api-key", "apikey", "access_key", "secret", "token", "private_key"}, verify: assignment(false)},
	{cat: catSecrets, ent: entPassword, lits: []string{"password", "passwd", "pwd", "passphrase"}, verify: assignment(true)},
	{cat: catSecrets, ent: entPassword, lits: []string{"://"}, verify: verifyConnPassword},
}

// allDets is every built-in trigger-based detector, each with its id.
var allDets = func() []*det {
	var out []*det
	for _, group := range [][]det{injectionDets, jailbreakDets, leakageDets, secretDets} {
		for i := range group {
			group[i].id = len(out)
			out = append(out, &group[i])
		}
	}
	return out
}()
