package respcache

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// Store keeps encoded entries for a time. Implementations are safe for
// concurrent use. A missing or expired key is (nil, false, nil); an error means
// the store could not answer (the Cache counts it and treats it as a miss).
// The returned bytes must not be modified.
type Store interface {
	Get(ctx context.Context, key string) ([]byte, bool, error)
	// Set stores val under key for ttl. A ttl <= 0 stores nothing.
	Set(ctx context.Context, key string, val []byte, ttl time.Duration) error
}

// ErrTooLarge is returned by Memory.Set for an entry above its size limit.
var ErrTooLarge = errors.New("respcache: entry too large for the store")

// Redis is a Store shared by every gateway instance on one Redis. Expiry is
// Redis's own (SET ... PX); memory is bounded by the Redis server's maxmemory
// policy (volatile-lru or allkeys-lru recommended).
type Redis struct {
	c      redis.UniversalClient
	prefix string
}

// NewRedis returns a store on client; prefix namespaces its keys (for example
// "gw:rc:").
func NewRedis(client redis.UniversalClient, prefix string) *Redis {
	return &Redis{c: client, prefix: prefix}
}

func (s *Redis) Get(ctx context.Context, key string) ([]byte, bool, error) {
	b, err := s.c.Get(ctx, s.prefix+key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return b, true, nil
}

func (s *Redis) Set(ctx context.Context, key string, val []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return nil
	}
	if ttl < time.Millisecond {
		ttl = time.Millisecond // Redis's resolution (go-redis would log a warning)
	}
	return s.c.Set(ctx, s.prefix+key, val, ttl).Err()
}
