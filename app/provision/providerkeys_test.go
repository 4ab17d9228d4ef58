package provision_test

import (
	"context"
	"strings"
	"testing"

	"github.com/llmgw/gateway/app/keys"
	"github.com/llmgw/gateway/app/provision"
	"github.com/llmgw/gateway/app/secretbox"
	"github.com/llmgw/gateway/app/store/storetest"
	"github.com/llmgw/gateway/models"
)

func TestProviderKeysEncryptedAtRest(t *testing.T) {
	for _, d := range storetest.Dialects() {
		t.Run(d, func(t *testing.T) {
			db := storetest.Open(t, d)
			ctx := context.Background()
			box, _ := secretbox.New("auth-secret")
			svc := &provision.Service{DB: db.DB, Hasher: keys.NewHasher("h"), Box: box}
			res, err := svc.Setup(ctx, "owner@example.com")
			if err != nil {
				t.Fatal(err)
			}
			const secret = "sk-proj-abcdefghijklmnopqrstuvwxyz"
			pk, err := svc.AddProviderKey(ctx, res.OrganizationID, provision.CLI, "openai", "prod", "", secret)
			if err != nil {
				t.Fatal(err)
			}
			var stored models.ProviderKey
			db.Take(&stored, "id = ?", pk.ID)
			if strings.Contains(stored.EncryptedKey, "abcdefgh") || stored.MaskedKey != "sk-p...wxyz" {
				t.Fatalf("stored in the clear: %+v", stored)
			}
			if got, err := svc.ProviderKeySecret(&stored); err != nil || got != secret {
				t.Fatalf("decrypt: %q %v", got, err)
			}
			// Another AUTH_SECRET cannot read it.
			other, _ := secretbox.New("another-secret")
			if _, err := (&provision.Service{Box: other}).ProviderKeySecret(&stored); err == nil {
				t.Fatal("decrypted with the wrong secret")
			}
			if err := svc.SetProviderKeyStatus(ctx, res.OrganizationID, pk.ID, "inactive", provision.CLI); err != nil {
				t.Fatal(err)
			}
			if err := svc.DeleteProviderKey(ctx, "org_other", pk.ID, provision.CLI); err != provision.ErrNotFound {
				t.Fatalf("delete from another org: %v", err)
			}
			if err := svc.DeleteProviderKey(ctx, res.OrganizationID, pk.ID, provision.CLI); err != nil {
				t.Fatal(err)
			}
			var actions []string
			db.Model(&models.AuditLog{}).Where("resource_type = ?", "provider_key").Order("created_at").Pluck("action", &actions)
			if strings.Join(actions, ",") != "provider_key.create,provider_key.update,provider_key.delete" {
				t.Fatalf("audit = %v", actions)
			}
			var changes []string
			db.Model(&models.AuditLog{}).Pluck("changes", &changes)
			for _, c := range changes {
				if strings.Contains(c, "abcdefgh") {
					t.Fatalf("a secret in the audit log: %s", c)
				}
			}
		})
	}
}
