// Package guardrails is the gateway's guardrails engine: the rules of the
// seed's "Guardrails" feature (prompt injection, jailbreak, PII, secrets,
// file types, document leakage, blocked terms, custom regex, topic
// restriction) applied to a request before it reaches a provider, with the
// seed's three actions: block, redact, warn. It is a pure library: no HTTP,
// no storage. Callers turn each inbound protocol into a *schema.ChatRequest,
// call Engine.Check, reject the request when Result.Blocked is set, and log
// Result.Violations as Security Events.
//
// # Configuration
//
// A Config is parsed and validated once (Parse, Config.Validate) and compiled
// into an immutable Engine (Compile) shared by all requests. Validation is
// strict because a mistyped field would silently weaken a rule: unknown
// fields, fields of another rule type, unknown entities, invalid regular
// expressions and empty lists are errors naming the field, such as
// "rules[2].action: must be one of block, redact, warn". Redact is only
// accepted where cutting the match out removes the problem (pii, secrets,
// blocked_terms, custom_regex).
//
// A configuration with every rule type (fields other than type and action
// are optional unless noted):
//
//	{"enabled": true, "rules": [
//	  {"type": "pii", "action": "redact", "entities": ["email", "phone", "ssn", "credit_card", "ip"]},
//	  {"type": "secrets", "action": "redact", "entities": ["aws_access_key", "aws_secret_key", "private_key", "api_key", "password", "jwt"]},
//	  {"type": "prompt_injection", "action": "block"},
//	  {"type": "jailbreak", "action": "block"},
//	  {"type": "document_leakage", "action": "warn"},
//	  {"type": "file_types", "action": "block", "allowedTypes": ["image/*", "application/pdf", ".txt"], "maxFileSizeBytes": 10485760},
//	  {"type": "blocked_terms", "action": "block", "terms": ["project-x"], "matchType": "contains", "caseSensitive": false},
//	  {"type": "custom_regex", "action": "redact", "name": "customer ids", "pattern": "\\bCUST-\\d{6}\\b"},
//	  {"type": "topic_restriction", "action": "warn",
//	   "blockedTopics": [{"name": "politics", "keywords": ["election", "senator"]}],
//	   "allowedTopics": [{"name": "billing", "keywords": ["invoice", "refund"]}]}
//	]}
//
// Every rule also takes "name" (shown in violations) and "enabled" (default
// true). blocked_terms needs "terms"; matchType defaults to "contains",
// "exact" matches whole words, "regex" treats each term as RE2. custom_regex
// needs "pattern". topic_restriction needs at least one topic list; keywords
// match whole words. file_types needs allowedTypes or maxFileSizeBytes.
//
// # Speed
//
// A check must cost well under a millisecond for a 10 KB prompt with every
// rule on, so the engine never runs a battery of regular expressions over the
// whole text. Instead, per text:
//
//   - one pass of an Aho-Corasick automaton (ASCII case folding and
//     whitespace collapsing built into its tables, so no lowered copy is
//     made) finds every trigger literal of every rule at once: injection and
//     jailbreak phrases, leakage markers, secret prefixes ("AKIA", "sk-",
//     "-----BEGIN"), blocked terms, topic keywords, and "gate" literals that
//     a user regex cannot match without;
//   - only at a trigger does a detector verify, with a small anchored regex
//     over a bounded window or hand-written checks;
//   - PII scanners look only around '@' (email), ':' (IPv6) and at digit runs
//     (cards with Luhn, SSNs, phones, IPv4), validating what they find;
//   - user regexes run only on texts containing one of their gate literals
//     and, when their match length is bounded, only in windows around them.
//
// Verifiers are cheap too (word prechecks, hand-written token and assignment
// scanners), so a prompt repeating a trigger thousands of times stays linear:
// about 0.1-0.2 ms per adversarial KB.
//
// A text without any match costs no allocation: scratch buffers are pooled
// and a Result is only built for violations.
//
// # Semantics
//
// Findings are reported in message order, then text order. The first finding
// of a blocking rule stops the check (Result.Blocked); warn findings are
// recorded; redact findings are replaced by a placeholder ([EMAIL_REDACTED],
// [PHONE_REDACTED], [SSN_REDACTED], [CREDIT_CARD_REDACTED], [IP_REDACTED],
// [SECRET_REDACTED], or [REDACTED] for blocked terms and custom regexes) in
// the request itself. Violation.Match never holds a full PII value or secret.
//
// The intent categories (prompt_injection, jailbreak, document_leakage,
// topic_restriction) only judge text the sender controls: user and tool
// messages. System, developer and assistant messages are the operator's and
// the model's own words ("never reveal your system prompt" is a system
// prompt, not an attack). pii, secrets, blocked_terms and custom_regex scan
// every message, since data leaks to the provider whoever wrote it.
//
// Case-insensitive literal matching folds ASCII only; non-ASCII blocked terms
// and keywords fall back to a (?i) regular expression. Homoglyph and
// zero-width obfuscation of phrases is not undone; invisible Unicode tag
// characters and base64-encoded instructions are detected as injection.
package guardrails
