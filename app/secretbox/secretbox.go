// Package secretbox encrypts secrets stored in the database (organizations'
// provider keys) with AES-256-GCM, keyed from AUTH_SECRET: a leaked database
// holds no usable upstream credential.
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
)

const prefix = "v1:" // the format version, so the scheme can change later

// ErrDecrypt: the value was not sealed with this secret, or was altered.
var ErrDecrypt = errors.New("secretbox: cannot decrypt (wrong AUTH_SECRET or corrupted value)")

// Box seals and opens secrets.
type Box struct{ aead cipher.AEAD }

// New derives the encryption key from secret (domain-separated, so the same
// secret used elsewhere yields a different key).
func New(secret string) (*Box, error) {
	if secret == "" {
		return nil, errors.New("secretbox: empty secret")
	}
	key := sha256.Sum256([]byte("llm-gateway/provider-keys\x00" + secret))
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts plaintext with a fresh random nonce.
func (b *Box) Seal(plaintext string) (string, error) {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := b.aead.Seal(nonce, nonce, []byte(plaintext), nil)
	return prefix + base64.RawStdEncoding.EncodeToString(out), nil
}

// Open decrypts a value made by Seal.
func (b *Box) Open(sealed string) (string, error) {
	raw, err := base64.RawStdEncoding.DecodeString(strings.TrimPrefix(sealed, prefix))
	if !strings.HasPrefix(sealed, prefix) || err != nil || len(raw) < b.aead.NonceSize() {
		return "", ErrDecrypt
	}
	n := b.aead.NonceSize()
	pt, err := b.aead.Open(nil, raw[:n], raw[n:], nil)
	if err != nil {
		return "", ErrDecrypt
	}
	return string(pt), nil
}
