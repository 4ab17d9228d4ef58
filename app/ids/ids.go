// Package ids makes prefixed random identifiers (org_..., proj_..., ak_...).
package ids

import "crypto/rand"

const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// Random returns n characters of base62 from crypto/rand, without modulo bias.
func Random(n int) string {
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/2+8)
	for len(out) < n {
		_, _ = rand.Read(buf) // never fails on supported platforms (Go 1.24+ panics internally instead)
		for _, b := range buf {
			if b < 248 { // 248 = 62*4: keep the distribution uniform
				out = append(out, alphabet[b%62])
				if len(out) == n {
					break
				}
			}
		}
	}
	return string(out)
}

// New returns prefix + "_" + 20 random base62 characters (~119 bits).
func New(prefix string) string { return prefix + "_" + Random(20) }
