// Package keys makes, hashes and recognises gateway API keys and master keys.
// Tokens are shown once; only their HMAC-SHA256 (keyed with
// GATEWAY_API_KEY_HASH_SECRET) is stored, so a leaked database leaks no key.
package keys

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"strings"
	"sync"

	"github.com/llmgw/gateway/app/ids"
)

// Token prefixes, as in the seed.
const (
	APIKeyPrefix    = "llmgtwy_"
	TestKeyPrefix   = "llmgtwy_test_"
	MasterKeyPrefix = "llmgmk_"
	tokenLength     = 40 // random base62 characters after the prefix (~238 bits)
)

// NewAPIKey returns a fresh gateway API key token.
func NewAPIKey() string { return APIKeyPrefix + ids.Random(tokenLength) }

// NewTestKey returns a fresh test key token (routes to the test provider).
func NewTestKey() string { return TestKeyPrefix + ids.Random(tokenLength) }

// NewMasterKey returns a fresh master key token.
func NewMasterKey() string { return MasterKeyPrefix + ids.Random(tokenLength) }

// Hasher computes the stored form of a token.
type Hasher struct {
	pool sync.Pool
}

// NewHasher keys the HMAC with secret.
func NewHasher(secret string) *Hasher {
	h := &Hasher{}
	key := []byte(secret)
	h.pool.New = func() any { return hmac.New(sha256.New, key) }
	return h
}

// Hash returns the hex HMAC-SHA256 of token. HMAC state is pooled: this runs on
// every request.
func (h *Hasher) Hash(token string) string {
	m := h.pool.Get().(hash.Hash)
	m.Reset()
	m.Write([]byte(token))
	var sum [sha256.Size]byte
	out := hex.EncodeToString(m.Sum(sum[:0]))
	h.pool.Put(m)
	return out
}

// Mask shows enough of a token to recognise it in a listing.
func Mask(token string) string {
	prefix := APIKeyPrefix
	for _, p := range []string{TestKeyPrefix, MasterKeyPrefix, APIKeyPrefix} {
		if strings.HasPrefix(token, p) {
			prefix = p
			break
		}
	}
	rest := strings.TrimPrefix(token, prefix)
	if len(rest) < 8 {
		return prefix + "****"
	}
	return prefix + rest[:4] + "..." + rest[len(rest)-4:]
}
