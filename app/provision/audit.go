package provision

import (
	"encoding/json"
	"time"

	"gorm.io/gorm"

	"github.com/llmgw/gateway/app/ids"
	"github.com/llmgw/gateway/models"
)

// Actor is who makes a management change, recorded in the audit log.
type Actor struct {
	Type string // master_key | cli | user
	ID   string
}

// CLI is the actor of changes made with the command line on the server.
var CLI = Actor{Type: "cli", ID: "cli"}

// audit writes one audit row inside the change's transaction: a change is never
// committed without its record. changes must never hold secrets.
func audit(tx *gorm.DB, orgID string, by Actor, action, resourceType, resourceID string, changes map[string]any) error {
	b, _ := json.Marshal(changes)
	if changes == nil {
		b = []byte("{}")
	}
	return tx.Create(&models.AuditLog{ID: ids.New("aud"), OrganizationID: orgID, ActorType: by.Type, ActorID: by.ID,
		Action: action, ResourceType: resourceType, ResourceID: resourceID, Changes: string(b), CreatedAt: time.Now().UTC()}).Error
}
