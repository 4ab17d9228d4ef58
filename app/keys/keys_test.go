package keys_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/llmgw/gateway/app/keys"
	"github.com/llmgw/gateway/app/provision"
	"github.com/llmgw/gateway/app/store/storetest"
	"github.com/llmgw/gateway/models"
)

func TestTokensAndHash(t *testing.T) {
	a, b := keys.NewAPIKey(), keys.NewAPIKey()
	if !strings.HasPrefix(a, "llmgtwy_") || len(a) < len("llmgtwy_")+32 || a == b {
		t.Fatalf("api keys %q %q", a, b)
	}
	if !strings.HasPrefix(keys.NewMasterKey(), "llmgmk_") || !strings.HasPrefix(keys.NewTestKey(), "llmgtwy_test_") {
		t.Fatal("prefixes")
	}
	h1, h2 := keys.NewHasher("s1"), keys.NewHasher("s2")
	mac := hmac.New(sha256.New, []byte("s1"))
	mac.Write([]byte("abc"))
	if got, want := h1.Hash("abc"), hex.EncodeToString(mac.Sum(nil)); got != want {
		t.Fatalf("hash %q, want HMAC-SHA256 %q", got, want)
	}
	if h1.Hash("abc") == h2.Hash("abc") || h1.Hash("abc") != h1.Hash("abc") {
		t.Fatal("hash must depend on the secret and be stable")
	}
	if m := keys.Mask("llmgtwy_ABCDEFGHIJKLMNOP"); m != "llmgtwy_ABCD...MNOP" {
		t.Fatalf("mask %q", m)
	}
}

func TestCache(t *testing.T) {
	for _, d := range storetest.Dialects() {
		t.Run(d, func(t *testing.T) {
			db := storetest.Open(t, d)
			ctx := context.Background()
			hasher := keys.NewHasher("secret")
			// Another process (the CLI, another instance) writes without our cache.
			other := &provision.Service{DB: db.DB, Hasher: hasher}
			res, err := other.Setup(ctx, "a@example.com")
			if err != nil {
				t.Fatal(err)
			}
			cache := keys.NewCache(db.DB, hasher, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err := cache.Load(ctx); err != nil {
				t.Fatal(err)
			}
			id, err := cache.Authenticate(ctx, res.APIKey)
			if err != nil || id.Key.ProjectID != res.ProjectID || id.Project.ID != res.ProjectID {
				t.Fatalf("auth: %v %+v", err, id)
			}
			if _, err := cache.Authenticate(ctx, "llmgtwy_unknown"); !errors.Is(err, keys.ErrInvalidKey) {
				t.Fatalf("unknown: %v", err)
			}
			// A key created elsewhere after Load is found on first use.
			var project models.Project
			db.Take(&project, "id = ?", res.ProjectID)
			k2, tok2, err := other.CreateAPIKey(ctx, &project, "second", "", false)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := cache.Authenticate(ctx, tok2); err != nil {
				t.Fatalf("new key: %v", err)
			}
			// Deactivated elsewhere: refused after the next poll.
			time.Sleep(5 * time.Millisecond)
			if _, err := other.SetKeyStatus(ctx, k2.ID, "inactive"); err != nil {
				t.Fatal(err)
			}
			if err := cache.Load(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := cache.Authenticate(ctx, tok2); !errors.Is(err, keys.ErrInactiveKey) {
				t.Fatalf("deactivated elsewhere: %v", err)
			}
			// Expired keys are refused at once, whatever their status.
			past := time.Now().Add(-time.Minute).UTC()
			db.Model(&models.APIKey{}).Where("project_id = ? AND id <> ?", res.ProjectID, k2.ID).
				Updates(map[string]any{"expires_at": past, "updated_at": time.Now().UTC()})
			_ = cache.Load(ctx)
			if _, err := cache.Authenticate(ctx, res.APIKey); !errors.Is(err, keys.ErrExpiredKey) {
				t.Fatalf("expired: %v", err)
			}
			// An inactive project refuses its keys.
			k3, tok3, _ := other.CreateAPIKey(ctx, &project, "third", "", false)
			_ = k3
			db.Model(&models.Project{}).Where("id = ?", res.ProjectID).Updates(map[string]any{"status": "inactive", "updated_at": time.Now().UTC()})
			_ = cache.Load(ctx)
			if _, err := cache.Authenticate(ctx, tok3); !errors.Is(err, keys.ErrProjectOff) {
				t.Fatalf("inactive project: %v", err)
			}
		})
	}
}
