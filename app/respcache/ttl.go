package respcache

import (
	"fmt"
	"time"
)

// The project setting cacheDurationSeconds: 10 s to 1 year, 60 s by default.
const (
	MinTTLSeconds = 10
	MaxTTLSeconds = 31_536_000
	DefaultTTL    = 60 * time.Second
)

// ValidTTL checks a cacheDurationSeconds value.
func ValidTTL(seconds int) error {
	if seconds < MinTTLSeconds || seconds > MaxTTLSeconds {
		return fmt.Errorf("cacheDurationSeconds must be between %d and %d, got %d", MinTTLSeconds, MaxTTLSeconds, seconds)
	}
	return nil
}

// TTL turns a stored cacheDurationSeconds into a duration: 0 (unset) is
// DefaultTTL, anything else is clamped into the valid range.
func TTL(seconds int) time.Duration {
	switch {
	case seconds == 0:
		return DefaultTTL
	case seconds < MinTTLSeconds:
		seconds = MinTTLSeconds
	case seconds > MaxTTLSeconds:
		seconds = MaxTTLSeconds
	}
	return time.Duration(seconds) * time.Second
}
