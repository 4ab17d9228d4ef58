package guardrails

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode/utf8"
)

// Rule types. They are the seed's Security Events categories, so a violation's
// Category is always one of them.
const (
	TypePII              = "pii"
	TypeSecrets          = "secrets"
	TypePromptInjection  = "prompt_injection"
	TypeJailbreak        = "jailbreak"
	TypeDocumentLeakage  = "document_leakage"
	TypeFileTypes        = "file_types"
	TypeBlockedTerms     = "blocked_terms"
	TypeCustomRegex      = "custom_regex"
	TypeTopicRestriction = "topic_restriction"
)

// Actions, as in the seed's "Configurable Actions".
const (
	ActionBlock  = "block"
	ActionRedact = "redact"
	ActionWarn   = "warn"
)

// Match types of a blocked_terms rule.
const (
	MatchExact    = "exact"    // the term as a whole word or phrase
	MatchContains = "contains" // the term anywhere, even inside a word
	MatchRegex    = "regex"    // each term is a regular expression
)

// Limits that keep a configuration cheap to compile and to run.
const (
	maxRules      = 200
	maxTerms      = 5000
	maxTermLen    = 1000
	maxPatternLen = 4096
	maxNameLen    = 200
	maxTypes      = 200
	// maxLiteralBytes bounds the terms and keywords of a configuration: they
	// become states of a dense automaton (a few hundred bytes per byte of term).
	maxLiteralBytes = 64 << 10
)

// RuleTypes lists every rule type in a stable order.
var RuleTypes = []string{TypePII, TypeSecrets, TypePromptInjection, TypeJailbreak, TypeDocumentLeakage,
	TypeFileTypes, TypeBlockedTerms, TypeCustomRegex, TypeTopicRestriction}

// PIIEntities and SecretEntities are the values a rule's "entities" may select.
var (
	PIIEntities    = []string{"email", "phone", "ssn", "credit_card", "ip"}
	SecretEntities = []string{"aws_access_key", "aws_secret_key", "private_key", "api_key", "password", "jwt"}
)

// Config is an organization's guardrails configuration.
type Config struct {
	Enabled bool   `json:"enabled"`
	Rules   []Rule `json:"rules"`
}

// Rule is one guardrail. Type and Action are required; the other fields belong
// to particular types and are refused on the others, so a typo never silently
// weakens a rule.
type Rule struct {
	Type   string `json:"type"`
	Action string `json:"action"`
	// Name labels the rule in violations; the type is used when empty.
	Name string `json:"name,omitempty"`
	// Enabled switches a rule off without deleting it (default true).
	Enabled *bool `json:"enabled,omitempty"`

	// Entities narrows a pii or secrets rule to some detectors (default all).
	Entities []string `json:"entities,omitempty"`

	// blocked_terms.
	Terms         []string `json:"terms,omitempty"`
	MatchType     string   `json:"matchType,omitempty"` // default "contains"
	CaseSensitive bool     `json:"caseSensitive,omitempty"`

	// custom_regex (RE2 syntax; use (?i) for case-insensitive matching).
	Pattern string `json:"pattern,omitempty"`

	// topic_restriction: a blocked topic is violated when one of its keywords
	// appears; allowed topics, when set, are violated by a request none of
	// whose user messages mentions any of their keywords.
	BlockedTopics []Topic `json:"blockedTopics,omitempty"`
	AllowedTopics []Topic `json:"allowedTopics,omitempty"`

	// file_types: MIME types ("application/pdf"), wildcards ("image/*") or
	// extensions (".pdf"); empty allows every type. MaxFileSizeBytes 0 means no limit.
	AllowedTypes     []string `json:"allowedTypes,omitempty"`
	MaxFileSizeBytes int64    `json:"maxFileSizeBytes,omitempty"`
}

// Topic is a named keyword list; keywords match whole words, case-insensitively.
type Topic struct {
	Name     string   `json:"name"`
	Keywords []string `json:"keywords"`
}

// IsEnabled reports whether the rule is switched on.
func (r Rule) IsEnabled() bool { return r.Enabled == nil || *r.Enabled }

// label is how violations name the rule.
func (r Rule) label() string {
	if r.Name != "" {
		return r.Name
	}
	return r.Type
}

// ValidationError names the offending field of a configuration, e.g.
// "rules[2].action: must be one of block, redact, warn".
type ValidationError struct {
	Field string
	Msg   string
}

func (e *ValidationError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Parse decodes and validates a JSON configuration. Unknown fields, unknown
// types and actions, fields that do not belong to a rule's type, invalid
// regular expressions and empty lists are errors naming the field.
func Parse(b []byte) (Config, error) {
	var raw struct {
		Enabled bool              `json:"enabled"`
		Rules   []json.RawMessage `json:"rules"`
	}
	if err := decodeStrict(b, &raw, ""); err != nil {
		return Config{}, err
	}
	c := Config{Enabled: raw.Enabled}
	if len(raw.Rules) > maxRules {
		return Config{}, invalid("rules", "at most %d rules are allowed", maxRules)
	}
	for i, rb := range raw.Rules {
		var r Rule
		if err := decodeStrict(rb, &r, fmt.Sprintf("rules[%d]", i)); err != nil {
			return Config{}, err
		}
		c.Rules = append(c.Rules, r)
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// decodeStrict decodes one JSON value refusing unknown fields and trailing data,
// and turns encoding/json errors into ValidationErrors rooted at path.
func decodeStrict(b []byte, v any, path string) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(path, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalid(orRoot(path), "unexpected data after the JSON value")
	}
	return nil
}

func orRoot(path string) string {
	if path == "" {
		return "config"
	}
	return path
}

func jsonError(path string, err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		field := path
		if te.Field != "" {
			field = joinPath(path, te.Field)
		}
		return invalid(orRoot(field), "must be %s, not a JSON %s", jsonKind(te.Type.Kind().String()), te.Value)
	case errors.As(err, &se):
		return invalid(orRoot(path), "invalid JSON at offset %d: %v", se.Offset, se)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return invalid(orRoot(path), "unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	case err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF):
		return invalid(orRoot(path), "empty or truncated JSON")
	}
	return invalid(orRoot(path), "%v", err)
}

// joinPath renders encoding/json's dotted field path ("terms.0") as rules[i].terms[0].
func joinPath(path, field string) string {
	var b strings.Builder
	b.WriteString(path)
	for _, seg := range strings.Split(field, ".") {
		if seg != "" && strings.Trim(seg, "0123456789") == "" {
			b.WriteString("[" + seg + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(seg)
	}
	return b.String()
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice":
		return "an array"
	case "struct", "map":
		return "an object"
	case "int", "int64", "float64":
		return "a number"
	}
	return "a " + goKind
}

// Validate checks a configuration built in code the way Parse checks JSON.
func (c Config) Validate() error {
	if len(c.Rules) > maxRules {
		return invalid("rules", "at most %d rules are allowed", maxRules)
	}
	total := 0
	for i, r := range c.Rules {
		if err := validateRule(fmt.Sprintf("rules[%d]", i), r); err != nil {
			return err
		}
		total += literalBytes(r)
	}
	if total > maxLiteralBytes {
		return invalid("rules", "terms and topic keywords may total at most %d bytes, not %d", maxLiteralBytes, total)
	}
	return nil
}

func literalBytes(r Rule) int {
	n := 0
	for _, t := range r.Terms {
		n += len(t)
	}
	for _, g := range [][]Topic{r.BlockedTopics, r.AllowedTopics} {
		for _, t := range g {
			for _, k := range t.Keywords {
				n += len(k)
			}
		}
	}
	return n
}

// redactable are the types whose matches can be cut out of the text. For the
// others a redaction would not remove the problem: an injection or jailbreak
// stays one with a phrase masked, a topic is about more than its keywords, a
// confidential marker is only the tip of the document, and a file cannot be
// partially removed.
var redactable = map[string]bool{TypePII: true, TypeSecrets: true, TypeBlockedTerms: true, TypeCustomRegex: true}

// typeFields lists the type-specific JSON fields each type accepts.
var typeFields = map[string][]string{
	TypePII:              {"entities"},
	TypeSecrets:          {"entities"},
	TypePromptInjection:  nil,
	TypeJailbreak:        nil,
	TypeDocumentLeakage:  nil,
	TypeFileTypes:        {"allowedTypes", "maxFileSizeBytes"},
	TypeBlockedTerms:     {"terms", "matchType", "caseSensitive"},
	TypeCustomRegex:      {"pattern"},
	TypeTopicRestriction: {"blockedTopics", "allowedTopics"},
}

func validateRule(p string, r Rule) error {
	fields, ok := typeFields[r.Type]
	switch {
	case r.Type == "":
		return invalid(p+".type", "is required")
	case !ok:
		return invalid(p+".type", "unknown type %q; must be one of %s", r.Type, strings.Join(RuleTypes, ", "))
	case r.Action == "":
		return invalid(p+".action", "is required")
	case r.Action != ActionBlock && r.Action != ActionRedact && r.Action != ActionWarn:
		return invalid(p+".action", "must be one of block, redact, warn")
	case r.Action == ActionRedact && !redactable[r.Type]:
		return invalid(p+".action", "redact is not supported for %s rules; must be one of block, warn", r.Type)
	case len(r.Name) > maxNameLen:
		return invalid(p+".name", "must be at most %d bytes", maxNameLen)
	}
	for _, f := range setFields(r) {
		if !contains(fields, f) {
			return invalid(p+"."+f, "not allowed for %s rules", r.Type)
		}
	}
	switch r.Type {
	case TypePII:
		return validateEntities(p, r.Entities, PIIEntities)
	case TypeSecrets:
		return validateEntities(p, r.Entities, SecretEntities)
	case TypeBlockedTerms:
		return validateTerms(p, r)
	case TypeCustomRegex:
		_, err := compileUserRegex(p+".pattern", r.Pattern, false)
		return err
	case TypeTopicRestriction:
		return validateTopics(p, r)
	case TypeFileTypes:
		return validateFileTypes(p, r)
	}
	return nil
}

// setFields names the type-specific fields that hold a non-zero value.
func setFields(r Rule) []string {
	var out []string
	add := func(set bool, name string) {
		if set {
			out = append(out, name)
		}
	}
	add(r.Entities != nil, "entities")
	add(r.Terms != nil, "terms")
	add(r.MatchType != "", "matchType")
	add(r.CaseSensitive, "caseSensitive")
	add(r.Pattern != "", "pattern")
	add(r.BlockedTopics != nil, "blockedTopics")
	add(r.AllowedTopics != nil, "allowedTopics")
	add(r.AllowedTypes != nil, "allowedTypes")
	add(r.MaxFileSizeBytes != 0, "maxFileSizeBytes")
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func validateEntities(p string, ents, known []string) error {
	if ents != nil && len(ents) == 0 {
		return invalid(p+".entities", "must not be empty (omit it to select every entity)")
	}
	for i, e := range ents {
		if !contains(known, e) {
			return invalid(fmt.Sprintf("%s.entities[%d]", p, i), "unknown entity %q; must be one of %s", e, strings.Join(known, ", "))
		}
		if contains(ents[:i], e) {
			return invalid(fmt.Sprintf("%s.entities[%d]", p, i), "duplicate entity %q", e)
		}
	}
	return nil
}

func validateTerms(p string, r Rule) error {
	switch r.MatchType {
	case "", MatchExact, MatchContains, MatchRegex:
	default:
		return invalid(p+".matchType", "must be one of exact, contains, regex")
	}
	if len(r.Terms) == 0 {
		return invalid(p+".terms", "must not be empty")
	}
	if len(r.Terms) > maxTerms {
		return invalid(p+".terms", "at most %d terms are allowed", maxTerms)
	}
	for i, t := range r.Terms {
		f := fmt.Sprintf("%s.terms[%d]", p, i)
		if err := validateLiteral(f, t); err != nil {
			return err
		}
		if r.MatchType == MatchRegex {
			if _, err := compileUserRegex(f, t, !r.CaseSensitive); err != nil {
				return err
			}
		}
	}
	if r.MatchType == MatchRegex {
		// Terms run as one alternation; make sure it compiles so that
		// Compile cannot fail on a validated configuration.
		if _, err := regexp.Compile(joinTerms(r.Terms, !r.CaseSensitive)); err != nil {
			return invalid(p+".terms", "the terms do not compile together: %v", err)
		}
	}
	return nil
}

func validateLiteral(f, t string) error {
	switch {
	case strings.TrimSpace(t) == "":
		return invalid(f, "must not be empty")
	case len(t) > maxTermLen:
		return invalid(f, "must be at most %d bytes", maxTermLen)
	case !utf8.ValidString(t):
		return invalid(f, "must be valid UTF-8")
	}
	return nil
}

// compileUserRegex compiles a user pattern. A pattern that matches the empty
// string is refused: it would flag every request and redact nothing.
func compileUserRegex(f, pat string, fold bool) (*regexp.Regexp, error) {
	if pat == "" {
		return nil, invalid(f, "must not be empty")
	}
	if len(pat) > maxPatternLen {
		return nil, invalid(f, "must be at most %d bytes", maxPatternLen)
	}
	if fold {
		pat = "(?i)" + pat
	}
	re, err := regexp.Compile(pat)
	if err != nil {
		var se *syntax.Error
		if errors.As(err, &se) {
			return nil, invalid(f, "invalid regex: %s", se.Code)
		}
		return nil, invalid(f, "invalid regex: %v", err)
	}
	if re.MatchString("") {
		return nil, invalid(f, "must not match the empty string")
	}
	return re, nil
}

func validateTopics(p string, r Rule) error {
	if len(r.BlockedTopics) == 0 && len(r.AllowedTopics) == 0 {
		return invalid(p, "a topic_restriction rule needs blockedTopics or allowedTopics")
	}
	for _, g := range []struct {
		name   string
		topics []Topic
	}{{"blockedTopics", r.BlockedTopics}, {"allowedTopics", r.AllowedTopics}} {
		if g.topics != nil && len(g.topics) == 0 {
			return invalid(p+"."+g.name, "must not be empty")
		}
		for i, t := range g.topics {
			tp := fmt.Sprintf("%s.%s[%d]", p, g.name, i)
			if strings.TrimSpace(t.Name) == "" {
				return invalid(tp+".name", "is required")
			}
			if len(t.Name) > maxNameLen {
				return invalid(tp+".name", "must be at most %d bytes", maxNameLen)
			}
			if len(t.Keywords) == 0 {
				return invalid(tp+".keywords", "must not be empty")
			}
			if len(t.Keywords) > maxTerms {
				return invalid(tp+".keywords", "at most %d keywords are allowed", maxTerms)
			}
			for j, k := range t.Keywords {
				if err := validateLiteral(fmt.Sprintf("%s.keywords[%d]", tp, j), k); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func validateFileTypes(p string, r Rule) error {
	if r.MaxFileSizeBytes < 0 {
		return invalid(p+".maxFileSizeBytes", "must not be negative")
	}
	if len(r.AllowedTypes) == 0 && r.MaxFileSizeBytes == 0 {
		return invalid(p, "a file_types rule needs allowedTypes or maxFileSizeBytes")
	}
	if len(r.AllowedTypes) > maxTypes {
		return invalid(p+".allowedTypes", "at most %d types are allowed", maxTypes)
	}
	for i, t := range r.AllowedTypes {
		if !validFileType(t) {
			return invalid(fmt.Sprintf("%s.allowedTypes[%d]", p, i), "%q is neither a MIME type (type/subtype or type/*) nor an extension (.ext)", t)
		}
	}
	return nil
}

func validFileType(t string) bool {
	if ext, ok := strings.CutPrefix(t, "."); ok {
		return ext != "" && isToken(ext, "")
	}
	major, minor, ok := strings.Cut(t, "/")
	return ok && isToken(major, "-") && (minor == "*" || isToken(minor, "-+.")) && major != "*"
}

// isToken reports whether s is non-empty ASCII letters and digits plus extra.
func isToken(s, extra string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) && !strings.ContainsRune(extra, rune(c)) {
			return false
		}
	}
	return true
}
