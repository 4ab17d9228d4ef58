package config

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// EnsureSecrets fills AUTH_SECRET and GATEWAY_API_KEY_HASH_SECRET. In embedded mode
// a missing secret is generated once and persisted under DataDir (0600), so keys
// keep working across restarts; with PostgreSQL (a real deployment, possibly
// several instances) the operator must set them, and we refuse to start without.
func (c *Config) EnsureSecrets() error {
	if !c.Embedded() {
		var missing []string
		if c.AuthSecret == "" {
			missing = append(missing, "AUTH_SECRET")
		}
		if c.KeyHashSecret == "" {
			missing = append(missing, "GATEWAY_API_KEY_HASH_SECRET")
		}
		if len(missing) > 0 {
			return fmt.Errorf("%s must be set when DATABASE_URL points to PostgreSQL", strings.Join(missing, " and "))
		}
		return nil
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	var err error
	if c.AuthSecret == "" {
		if c.AuthSecret, err = c.persisted("auth_secret"); err != nil {
			return err
		}
		c.GeneratedSecrets = append(c.GeneratedSecrets, "AUTH_SECRET")
	}
	if c.KeyHashSecret == "" {
		if c.KeyHashSecret, err = c.persisted("api_key_hash_secret"); err != nil {
			return err
		}
		c.GeneratedSecrets = append(c.GeneratedSecrets, "GATEWAY_API_KEY_HASH_SECRET")
	}
	return nil
}

// persisted reads DataDir/name, creating it with 32 random bytes if absent.
func (c *Config) persisted(name string) (string, error) {
	path := filepath.Join(c.DataDir, name)
	if b, err := os.ReadFile(path); err == nil {
		if s := strings.TrimSpace(string(b)); s != "" {
			return s, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	s := hex.EncodeToString(buf)
	// O_EXCL: two processes starting at once must not end up with different secrets.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return c.persisted(name)
	}
	if err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	defer f.Close()
	if _, err := f.WriteString(s + "\n"); err != nil {
		return "", err
	}
	return s, nil
}
