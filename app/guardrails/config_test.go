package guardrails

import (
	"errors"
	"strings"
	"testing"
)

func TestParseValid(t *testing.T) {
	c, err := Parse([]byte(`{
	  "enabled": true,
	  "rules": [
	    {"type": "pii", "action": "redact", "entities": ["email", "credit_card"]},
	    {"type": "secrets", "action": "redact"},
	    {"type": "prompt_injection", "action": "block"},
	    {"type": "jailbreak", "action": "block", "name": "No jailbreaks"},
	    {"type": "document_leakage", "action": "warn"},
	    {"type": "file_types", "action": "block", "allowedTypes": ["image/*", "application/pdf", ".txt"], "maxFileSizeBytes": 10485760},
	    {"type": "blocked_terms", "action": "block", "terms": ["project-x"], "matchType": "contains"},
	    {"type": "blocked_terms", "action": "redact", "terms": ["Falcon"], "matchType": "exact", "caseSensitive": true, "enabled": false},
	    {"type": "custom_regex", "action": "redact", "pattern": "CUST-\\d{6}", "name": "customer ids"},
	    {"type": "topic_restriction", "action": "block", "blockedTopics": [{"name": "politics", "keywords": ["election", "senator"]}]},
	    {"type": "topic_restriction", "action": "warn", "allowedTopics": [{"name": "billing", "keywords": ["invoice", "refund"]}]}
	  ]
	}`))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Enabled || len(c.Rules) != 11 || c.Rules[7].IsEnabled() || c.Rules[3].label() != "No jailbreaks" || c.Rules[2].label() != "prompt_injection" {
		t.Fatalf("unexpected config %+v", c)
	}
	if _, err := Compile(c); err != nil {
		t.Fatal(err)
	}
}

func TestParseErrors(t *testing.T) {
	rule := func(r string) string { return `{"enabled":true,"rules":[{"type":"pii","action":"warn"},` + r + `]}` }
	cases := []struct{ in, want string }{
		{`{"enabled":true,"rules":[`, "config: "},
		{`[]`, "config: must be an object"},
		{`{"enabled":"yes"}`, "enabled: must be a boolean"},
		{`{"enabled":true,"extra":1}`, `config: unknown field "extra"`},
		{`{"enabled":true} {}`, "config: unexpected data after the JSON value"},
		{rule(`{"type":"pii","action":"warn","foo":1}`), `rules[1]: unknown field "foo"`},
		{rule(`{"action":"warn"}`), "rules[1].type: is required"},
		{rule(`{"type":"nsfw","action":"warn"}`), `rules[1].type: unknown type "nsfw"; must be one of pii, secrets`},
		{rule(`{"type":"pii"}`), "rules[1].action: is required"},
		{rule(`{"type":"pii","action":"log"}`), "rules[1].action: must be one of block, redact, warn"},
		{rule(`{"type":"jailbreak","action":"redact"}`), "rules[1].action: redact is not supported for jailbreak rules; must be one of block, warn"},
		{rule(`{"type":"prompt_injection","action":"redact"}`), "rules[1].action: redact is not supported for prompt_injection rules"},
		{rule(`{"type":"file_types","action":"redact","maxFileSizeBytes":1}`), "rules[1].action: redact is not supported for file_types rules"},
		{rule(`{"type":"pii","action":"warn","entities":["email","dna"]}`), `rules[1].entities[1]: unknown entity "dna"; must be one of email, phone, ssn, credit_card, ip`},
		{rule(`{"type":"pii","action":"warn","entities":[]}`), "rules[1].entities: must not be empty"},
		{rule(`{"type":"pii","action":"warn","entities":["ip","ip"]}`), `rules[1].entities[1]: duplicate entity "ip"`},
		{rule(`{"type":"secrets","action":"warn","entities":["email"]}`), `rules[1].entities[0]: unknown entity "email"`},
		{rule(`{"type":"pii","action":"warn","terms":["x"]}`), "rules[1].terms: not allowed for pii rules"},
		{rule(`{"type":"blocked_terms","action":"block"}`), "rules[1].terms: must not be empty"},
		{rule(`{"type":"blocked_terms","action":"block","terms":[]}`), "rules[1].terms: must not be empty"},
		{rule(`{"type":"blocked_terms","action":"block","terms":["ok","  "]}`), "rules[1].terms[1]: must not be empty"},
		{rule(`{"type":"blocked_terms","action":"block","terms":[7]}`), "rules[1].terms: must be a string, not a JSON number"},
		{rule(`{"type":"blocked_terms","action":"block","terms":["x"],"matchType":"fuzzy"}`), "rules[1].matchType: must be one of exact, contains, regex"},
		{rule(`{"type":"blocked_terms","action":"block","terms":["ok","a(b"],"matchType":"regex"}`), "rules[1].terms[1]: invalid regex: missing closing )"},
		{rule(`{"type":"blocked_terms","action":"block","terms":["a*"],"matchType":"regex"}`), "rules[1].terms[0]: must not match the empty string"},
		{rule(`{"type":"custom_regex","action":"redact"}`), "rules[1].pattern: must not be empty"},
		{rule(`{"type":"custom_regex","action":"redact","pattern":"[a-"}`), "rules[1].pattern: invalid regex: missing closing ]"},
		{rule(`{"type":"custom_regex","action":"redact","pattern":"x(?=y)"}`), "rules[1].pattern: invalid regex: invalid or unsupported Perl syntax"},
		{rule(`{"type":"custom_regex","action":"redact","pattern":"x","terms":["y"]}`), "rules[1].terms: not allowed for custom_regex rules"},
		{rule(`{"type":"topic_restriction","action":"block"}`), "rules[1]: a topic_restriction rule needs blockedTopics or allowedTopics"},
		{rule(`{"type":"topic_restriction","action":"block","blockedTopics":[{"name":"","keywords":["x"]}]}`), "rules[1].blockedTopics[0].name: is required"},
		{rule(`{"type":"topic_restriction","action":"block","allowedTopics":[{"name":"a","keywords":[]}]}`), "rules[1].allowedTopics[0].keywords: must not be empty"},
		{rule(`{"type":"topic_restriction","action":"block","blockedTopics":[{"name":"a","keywords":["x"],"bad":1}]}`), `rules[1]: unknown field "bad"`},
		{rule(`{"type":"file_types","action":"block"}`), "rules[1]: a file_types rule needs allowedTypes or maxFileSizeBytes"},
		{rule(`{"type":"file_types","action":"block","maxFileSizeBytes":-1}`), "rules[1].maxFileSizeBytes: must not be negative"},
		{rule(`{"type":"file_types","action":"block","allowedTypes":["pdf"]}`), `rules[1].allowedTypes[0]: "pdf" is neither a MIME type`},
		{rule(`{"type":"file_types","action":"block","allowedTypes":["*/*"]}`), `rules[1].allowedTypes[0]: "*/*" is neither`},
		{rule(`{"type":"jailbreak","action":"block","enabled":"no"}`), "rules[1].enabled: must be a boolean, not a JSON string"},
		{rule(`null`), "rules[1].type: is required"},
		{rule(`{"type":"blocked_terms","action":"block","terms":["` + strings.Repeat("x", 900) + `"` + strings.Repeat(`,"`+strings.Repeat("y", 900)+`"`, 80) + `]}`), "rules: terms and topic keywords may total at most 65536 bytes"},
	}
	for _, c := range cases {
		_, err := Parse([]byte(c.in))
		var ve *ValidationError
		if err == nil || !errors.As(err, &ve) || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("Parse(%s):\n got  %v\n want %s…", c.in, err, c.want)
		}
	}
}

func TestValidateAndCompileFromCode(t *testing.T) {
	c := Config{Enabled: true, Rules: []Rule{{Type: TypeCustomRegex, Action: ActionBlock, Pattern: "("}}}
	if _, err := Compile(c); err == nil || err.Error() != "rules[0].pattern: invalid regex: missing closing )" {
		t.Fatalf("Compile: %v", err)
	}
	many := Config{Rules: make([]Rule, maxRules+1)}
	if err := many.Validate(); err == nil || !strings.HasPrefix(err.Error(), "rules: at most") {
		t.Fatalf("Validate: %v", err)
	}
}

// docExample is the configuration shown in the package documentation.
const docExample = `{"enabled": true, "rules": [
  {"type": "pii", "action": "redact", "entities": ["email", "phone", "ssn", "credit_card", "ip"]},
  {"type": "secrets", "action": "redact", "entities": ["aws_access_key", "aws_secret_key", "private_key", "api_key", "password", "jwt"]},
  {"type": "prompt_injection", "action": "block"},
  {"type": "jailbreak", "action": "block"},
  {"type": "document_leakage", "action": "warn"},
  {"type": "file_types", "action": "block", "allowedTypes": ["image/*", "application/pdf", ".txt"], "maxFileSizeBytes": 10485760},
  {"type": "blocked_terms", "action": "block", "terms": ["project-x"], "matchType": "contains", "caseSensitive": false},
  {"type": "custom_regex", "action": "redact", "name": "customer ids", "pattern": "\\bCUST-\\d{6}\\b"},
  {"type": "topic_restriction", "action": "warn",
   "blockedTopics": [{"name": "politics", "keywords": ["election", "senator"]}],
   "allowedTopics": [{"name": "billing", "keywords": ["invoice", "refund"]}]}
]}`

func TestDocExample(t *testing.T) {
	c, err := Parse([]byte(docExample))
	if err != nil {
		t.Fatal(err)
	}
	e, err := Compile(c)
	if err != nil {
		t.Fatal(err)
	}
	if out, _ := e.CheckText("ticket CUST-123456 about my invoice"); out != "ticket [REDACTED] about my invoice" {
		t.Fatalf("%q", out)
	}
}
