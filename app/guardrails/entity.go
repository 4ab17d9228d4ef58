package guardrails

// category is a rule type as a small integer, for tables indexed by it.
type category uint8

const (
	catPII category = iota
	catSecrets
	catInjection
	catJailbreak
	catLeakage
	catFiles
	catTerms
	catRegex
	catTopic
	numCats
)

var catType = [numCats]string{TypePII, TypeSecrets, TypePromptInjection, TypeJailbreak, TypeDocumentLeakage,
	TypeFileTypes, TypeBlockedTerms, TypeCustomRegex, TypeTopicRestriction}

func categoryOf(typ string) category {
	for c, t := range catType {
		if t == typ {
			return category(c)
		}
	}
	return numCats
}

// intent categories judge what the sender is trying to do. They skip
// operator- and model-authored messages (system, developer, assistant): a
// system prompt that says "never reveal your system prompt" or "do not discuss
// politics", or a model's earlier refusal, must not trip them on every request.
func (c category) intent() bool {
	return c == catInjection || c == catJailbreak || c == catLeakage || c == catTopic
}

// entity identifies what a built-in detector found.
type entity uint8

const (
	entNone entity = iota
	// pii
	entEmail
	entPhone
	entSSN
	entCard
	entIP
	// secrets
	entAWSKey
	entAWSSecret
	entPrivateKey
	entAPIKey
	entPassword
	entJWT
	// prompt_injection
	entOverride
	entRoleOverride
	entExtraction
	entSpoofing
	entHidden
	entEncoded
	// jailbreak
	entDAN
	entDevMode
	entNoRestrictions
	entRoleplay
	entPersona
	entSafetyBypass
	// document_leakage
	entMarker
	entDocRequest
	// file_types
	entMIME
	entSize
	// topic_restriction
	entOffTopic
	numEntities
)

var entName = [numEntities]string{
	entEmail: "email", entPhone: "phone", entSSN: "ssn", entCard: "credit_card", entIP: "ip",
	entAWSKey: "aws_access_key", entAWSSecret: "aws_secret_key", entPrivateKey: "private_key",
	entAPIKey: "api_key", entPassword: "password", entJWT: "jwt",
	entOverride: "instruction_override", entRoleOverride: "role_override", entExtraction: "prompt_extraction",
	entSpoofing: "role_spoofing", entHidden: "hidden_text", entEncoded: "encoded_instructions",
	entDAN: "dan", entDevMode: "jailbreak_mode", entNoRestrictions: "restriction_removal",
	entRoleplay: "roleplay_bypass", entPersona: "known_persona", entSafetyBypass: "safety_bypass",
	entMarker: "confidential_marker", entDocRequest: "document_request",
	entMIME: "file_type", entSize: "file_size", entOffTopic: "off_topic",
}

// placeholder is what a redaction writes in place of a match.
func placeholder(c category, e entity) string {
	switch e {
	case entEmail:
		return "[EMAIL_REDACTED]"
	case entPhone:
		return "[PHONE_REDACTED]"
	case entSSN:
		return "[SSN_REDACTED]"
	case entCard:
		return "[CREDIT_CARD_REDACTED]"
	case entIP:
		return "[IP_REDACTED]"
	}
	if c == catSecrets {
		return "[SECRET_REDACTED]"
	}
	return "[REDACTED]"
}

func entityByName(name string) entity {
	for e, n := range entName {
		if n == name && n != "" {
			return entity(e)
		}
	}
	return entNone
}

// finding is one detection in a text, before it is fanned out to rules.
type finding struct {
	start, end int
	cat        category
	ent        entity
	rule       int16 // the user rule that owns it, or -1 for a built-in detector
	aux        int16 // topic index for topic findings
}
