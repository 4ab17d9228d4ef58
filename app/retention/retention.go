// Package retention implements the seed's "Data Retention": an organization
// either keeps metadata only (the default) or retains all data, in which case
// each request's request and response payloads are stored, sealed with
// AES-256-GCM, and billed at $0.01 per 1M tokens (cost_details.data_storage_cost).
// Stored data is deleted after the retention period by a background job.
//
// Three pieces, all off the request path:
//
//   - Writer: the gateway hands it a Capture after a request completes; it
//     never blocks, encrypts in its own goroutine and inserts in batches.
//   - Store: reads a payload back (decrypted) for the management API.
//   - Job: deletes expired request logs and payloads in small batches.
package retention

import (
	"errors"

	"github.com/llmgw/gateway/app/secretbox"
)

// Retention levels, as stored in organizations.retention_level and accepted
// by PATCH /v1/master/organization.
const (
	MetadataOnly = "metadata-only" // default: metadata (tokens, costs, timings), no payloads
	RetainAll    = "retain-all"    // request and response payloads are stored
)

// Retention periods in days. DefaultDays is what the seed gives every plan
// ("Data is retained for 30 days"); an organization row with 0 uses it.
const (
	DefaultDays = 30
	MinDays     = 1
	MaxDays     = 3650
)

// ValidLevel reports whether level is a retention level.
func ValidLevel(level string) bool { return level == MetadataOnly || level == RetainAll }

// EffectiveDays maps a stored retention period to the one applied: values
// outside [MinDays, MaxDays] (0 = unset) give def, or DefaultDays when def is
// itself out of range.
func EffectiveDays(days, def int) int {
	if days >= MinDays && days <= MaxDays {
		return days
	}
	if def >= MinDays && def <= MaxDays {
		return def
	}
	return DefaultDays
}

// StorageNanoUSDPerToken is the storage price: $0.01 per 1M tokens is
// 1e-8 USD = 10 nano-USD (10,000 pico-USD) per token.
const StorageNanoUSDPerToken = 10

// StorageCost is the data storage cost of a request, in nano-USD, for its
// tokens: prompt (cached included) plus completion (reasoning included), i.e.
// usage.total_tokens. Exact: 1,500 tokens cost 15,000 nano-USD ($0.000015).
// The gateway adds it as cost_details.data_storage_cost when the organization
// retains all data, and 0 otherwise.
func StorageCost(tokens int) int64 {
	if tokens <= 0 {
		return 0
	}
	return int64(tokens) * StorageNanoUSDPerToken
}

// NewBox returns the cipher for payloads, keyed from AUTH_SECRET but
// distinct from the provider-key box (secretbox.New(secret)): payloads are
// sealed in far larger numbers, and AES-GCM's random-nonce budget is per key.
func NewBox(authSecret string) (*secretbox.Box, error) {
	if authSecret == "" {
		return nil, errors.New("retention: empty AUTH_SECRET")
	}
	return secretbox.New("llm-gateway/request-payloads\x00" + authSecret)
}
