// Package models holds the GORM models. The schema itself is owned by the SQL
// files in migrations/ (GORM never auto-migrates); these structs mirror it.
//
// Money is always an int64 count of nano-USD (1e-9 USD): exact integer sums, fine
// enough that a 10-token request on the cheapest model is not rounded to zero.
package models

import "time"

// Organization owns projects, members, provider keys and the credits balance.
type Organization struct {
	ID             string `gorm:"primaryKey"`
	Name           string
	Status         string // active | deleted
	CreditsBalance int64  // nano-USD, changed only together with a CreditTransaction row
	RetentionLevel string // metadata-only | retain-all
	RetentionDays  int
	// JurisdictionPolicy restricts which providers may serve the organization:
	// global | <code>-hosted | <code>-sovereign (e.g. eu-sovereign).
	JurisdictionPolicy string `gorm:"default:global"`
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

// User is a person who can sign in (dashboard, later). Role is global ("user",
// "admin", "ULTRA"); membership roles live in OrganizationMember.
type User struct {
	ID           string `gorm:"primaryKey"`
	Email        string
	Name         string
	PasswordHash string
	Role         string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// OrganizationMember gives a user a role in an organization: owner | admin | developer | viewer.
type OrganizationMember struct {
	ID             string `gorm:"primaryKey"`
	OrganizationID string
	UserID         string
	Role           string
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Project groups gateway API keys and their settings.
type Project struct {
	ID                   string `gorm:"primaryKey"`
	OrganizationID       string
	Name                 string
	Mode                 string // api-keys | credits | hybrid
	CachingEnabled       bool
	CacheDurationSeconds int
	Status               string // active | inactive | deleted
	RateLimitRPM         *int   `gorm:"column:rate_limit_rpm"`
	RateLimitTPM         *int   `gorm:"column:rate_limit_tpm"`
	CreatedAt            time.Time
	UpdatedAt            time.Time
}

// APIKey is a gateway API key (llmgtwy_...). Only its HMAC is stored.
type APIKey struct {
	ID             string `gorm:"primaryKey"`
	OrganizationID string
	ProjectID      string
	Description    string
	TokenHash      string // hex HMAC-SHA256 of the token with GATEWAY_API_KEY_HASH_SECRET
	MaskedToken    string // e.g. llmgtwy_AbCd...wXyZ, for listings
	Status         string // active | inactive | deleted
	Test           bool   // test keys route to the built-in test provider and are never billed
	CreatedBy      string
	// Spend limits in nano-USD; nil means no limit.
	UsageLimit               *int64
	PeriodUsageLimit         *int64
	PeriodUsageDurationValue *int
	PeriodUsageDurationUnit  *string // hour | day | week | month
	Usage                    int64   // lifetime spend, nano-USD
	PeriodUsage              int64   // spend in the current window, nano-USD
	PeriodStart              *time.Time
	RateLimitRPM             *int `gorm:"column:rate_limit_rpm"`
	RateLimitTPM             *int `gorm:"column:rate_limit_tpm"`
	ExpiresAt                *time.Time
	LastUsedAt               *time.Time
	CreatedAt                time.Time
	UpdatedAt                time.Time
}

func (APIKey) TableName() string { return "api_keys" }

// IAMRule restricts what a gateway API key may use. RuleValue is JSON.
type IAMRule struct {
	ID        string `gorm:"primaryKey"`
	APIKeyID  string `gorm:"column:api_key_id"`
	RuleType  string // allow_models | deny_models | allow_providers | ... | deny_ip_cidrs
	RuleValue string
	Status    string // active | inactive
	CreatedAt time.Time
	UpdatedAt time.Time
}

func (IAMRule) TableName() string { return "iam_rules" }

// MasterKey is an org-scoped management key (llmgmk_...). Only its HMAC is stored.
type MasterKey struct {
	ID             string `gorm:"primaryKey"`
	OrganizationID string
	Name           string
	TokenHash      string
	MaskedToken    string
	Status         string // active | inactive | deleted
	CreatedBy      string
	LastUsedAt     *time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// ProviderKey is an organization's own upstream credential, encrypted at rest
// (AES-256-GCM with a key derived from AUTH_SECRET).
type ProviderKey struct {
	ID             string `gorm:"primaryKey"`
	OrganizationID string
	Provider       string
	Name           string
	BaseURL        string
	EncryptedKey   string
	MaskedKey      string
	Status         string // active | inactive | deleted
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// RequestLog is one upstream attempt of one gateway request. It holds what
// happened, never catalog data (prices, names) nor payloads.
type RequestLog struct {
	ID                string `gorm:"primaryKey"`
	RequestID         string
	CreatedAt         time.Time
	OrganizationID    string
	ProjectID         string
	APIKeyID          string `gorm:"column:api_key_id"`
	Endpoint          string // chat.completions | embeddings | ...
	RequestedModel    string
	RequestedProvider string
	UsedModel         string // catalog root id (or provider/model for custom)
	UsedProvider      string
	UpstreamModel     string
	Status            int // HTTP status the client got (or would have got, for a retried attempt)
	FinishReason      string
	Streamed          bool
	Cached            bool
	PromptTokens      int
	CompletionTokens  int
	CachedTokens      int
	CacheWriteTokens  int
	ReasoningTokens   int
	TotalTokens       int
	TokensEstimated   bool // counted by the gateway's tokenizer: the upstream reported none
	// Costs in nano-USD; nil when the price is unknown.
	InputCost       *int64
	OutputCost      *int64
	CachedInputCost *int64
	CacheWriteCost  *int64
	RequestCost     *int64
	TotalCost       *int64
	DurationMs      int
	TTFTMs          *int `gorm:"column:ttft_ms"`
	Source          string
	UserAgent       string
	SessionID       string
	Metadata        string // JSON object of X-LLMGateway-* headers
	ErrorType       string
	ErrorMessage    string
	Retried         bool
	RetriedByLogID  string
	RoutingAttempts string // JSON array of attempts
}

// UsageHourly is the hourly rollup of request logs, maintained by the log writer
// so usage questions never scan raw logs. Its primary key is the rollup key
// itself (Hour UTC .. Provider): a surrogate auto-increment id is not portable
// between SQLite and PostgreSQL, and nothing needs one.
type UsageHourly struct {
	Hour             time.Time `gorm:"primaryKey"`
	OrganizationID   string    `gorm:"primaryKey"`
	ProjectID        string    `gorm:"primaryKey"`
	APIKeyID         string    `gorm:"column:api_key_id;primaryKey"`
	Model            string    `gorm:"primaryKey"`
	Provider         string    `gorm:"primaryKey"`
	Requests         int64
	Errors           int64
	PromptTokens     int64
	CompletionTokens int64
	CachedTokens     int64
	TotalTokens      int64
	Cost             int64 // nano-USD, priced requests only
	UnpricedRequests int64 // requests whose cost is unknown
}

func (UsageHourly) TableName() string { return "usage_hourly" }

// CreditTransaction is one row of the credits ledger. Every change of
// Organization.CreditsBalance writes one, in the same transaction.
type CreditTransaction struct {
	ID             string `gorm:"primaryKey"`
	OrganizationID string
	Amount         int64 // nano-USD, signed
	BalanceAfter   int64
	Kind           string // topup | usage | refund | adjustment
	Reference      string // e.g. Stripe payment intent id or request log id
	Description    string
	CreatedAt      time.Time
}

// AuditLog records a management change.
type AuditLog struct {
	ID             string `gorm:"primaryKey"`
	OrganizationID string
	ActorType      string // master_key | user | cli
	ActorID        string
	Action         string // e.g. api_key.create
	ResourceType   string
	ResourceID     string
	Changes        string // JSON of changed fields, never secrets
	CreatedAt      time.Time
}

// RequestPayload is the stored request and response of one request of an
// organization whose retention level is retain-all (see app/retention). Both
// payloads are sealed with app/secretbox; the sizes are of the plaintext.
type RequestPayload struct {
	LogID             string `gorm:"primaryKey"` // request_logs.id of the final attempt
	OrganizationID    string
	CreatedAt         time.Time
	ExpiresAt         time.Time // CreatedAt + the retention period in force at the time
	EncryptedRequest  string
	EncryptedResponse string
	RequestBytes      int64
	ResponseBytes     int64
	Tokens            int64
	DataStorageCost   int64 // nano-USD
}
