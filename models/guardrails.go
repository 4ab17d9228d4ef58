package models

import "time"

// GuardrailConfig is an organization's guardrails configuration (the seed's
// "Guardrails"). Config is the canonical JSON accepted by guardrails.Parse;
// an organization without a row has the default: disabled, no rules.
type GuardrailConfig struct {
	OrganizationID string `gorm:"primaryKey"`
	Config         string // JSON: {"enabled": bool, "rules": [...]}
	UpdatedAt      time.Time
	UpdatedBy      string // actor id of the last change (master key, user or CLI)
}

// SecurityEvent is one guardrail violation of one request (the seed's
// "Security Events"), written in background batches by app/secevents.
type SecurityEvent struct {
	ID             string `gorm:"primaryKey"`
	OrganizationID string
	ProjectID      string
	APIKeyID       string `gorm:"column:api_key_id"`
	RequestID      string
	CreatedAt      time.Time
	Category       string // the rule type: pii | secrets | prompt_injection | ... (guardrails.RuleTypes)
	Entity         string // what was found, e.g. "email", or a topic name; may be empty
	Action         string // blocked | redacted | warned
	Rule           string // the rule's name, or its type
	Match          string // the matched text, masked when sensitive (never a full PII value or secret)
	MessageIndex   int    // index of the message in the request
	Model          string // the model the request asked for
	Endpoint       string // chat.completions | embeddings | ... (as in request_logs)
}
