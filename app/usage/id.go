package usage

import (
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"time"
)

// NewLogID returns a new request log id: "log_", 12 hex digits of Unix
// milliseconds, then 20 random hex digits (80 bits). Ids of one period sort
// together, so inserts land at the right edge of the primary key B-tree
// instead of splitting random pages; the random part keeps them unique
// across replicas. Assign it before Enqueue when another row must reference
// the log (RetriedByLogID).
func NewLogID() string { return newLogID(time.Now()) }

func newLogID(now time.Time) string {
	var raw [16]byte
	binary.BigEndian.PutUint64(raw[0:8], uint64(now.UnixMilli())<<16)
	binary.BigEndian.PutUint64(raw[8:16], rand.Uint64())
	// 48 bits of time, then 16+64 random bits.
	binary.BigEndian.PutUint16(raw[6:8], uint16(rand.Uint32()))
	var out [4 + 32]byte
	copy(out[:], "log_")
	hex.Encode(out[4:], raw[:])
	return string(out[:])
}
