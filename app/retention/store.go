package retention

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/llmgw/gateway/app/secretbox"
	"github.com/llmgw/gateway/models"
)

// ErrNotFound: no stored payload for this log in this organization.
var ErrNotFound = errors.New("retention: payload not found")

// Store reads stored payloads back for the management API.
type Store struct {
	DB  *gorm.DB
	Box *secretbox.Box // the box the Writer seals with (NewBox)
	// DefaultDays is the period shown for organizations whose row has none
	// (0: DefaultDays); give the Job the same value.
	DefaultDays int
}

// Payload is a decrypted stored payload. Request or Response is nil when
// there was none, or when it was larger than the writer keeps (then its
// *Bytes size is > 0).
type Payload struct {
	LogID           string
	OrganizationID  string
	CreatedAt       time.Time
	ExpiresAt       time.Time
	Request         []byte
	Response        []byte
	RequestBytes    int64
	ResponseBytes   int64
	Tokens          int64
	DataStorageCost int64 // nano-USD
}

// Get returns the payload of a log of the organization; another
// organization's log is ErrNotFound, as is an expired one not yet swept.
func (s *Store) Get(ctx context.Context, orgID, logID string) (*Payload, error) {
	var row models.RequestPayload
	err := s.DB.WithContext(ctx).Where("log_id = ? AND organization_id = ?", logID, orgID).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) || (err == nil && !time.Now().Before(row.ExpiresAt)) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	p := &Payload{LogID: row.LogID, OrganizationID: row.OrganizationID, CreatedAt: row.CreatedAt, ExpiresAt: row.ExpiresAt,
		RequestBytes: row.RequestBytes, ResponseBytes: row.ResponseBytes, Tokens: row.Tokens, DataStorageCost: row.DataStorageCost}
	if p.Request, err = s.open(row.EncryptedRequest); err != nil {
		return nil, fmt.Errorf("retention: request of %s: %w", row.LogID, err)
	}
	if p.Response, err = s.open(row.EncryptedResponse); err != nil {
		return nil, fmt.Errorf("retention: response of %s: %w", row.LogID, err)
	}
	return p, nil
}

func (s *Store) open(sealed string) ([]byte, error) {
	if sealed == "" {
		return nil, nil
	}
	pt, err := s.Box.Open(sealed)
	if err != nil {
		return nil, err
	}
	return []byte(pt), nil
}

// Days is the retention period applied to an organization's stored value.
func (s *Store) Days(stored int) int {
	if s == nil {
		return EffectiveDays(stored, DefaultDays)
	}
	return EffectiveDays(stored, s.DefaultDays)
}
