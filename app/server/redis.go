package server

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// keyChannel carries "some key, project or rule changed": every instance
// reloads its key cache at once instead of waiting for its next poll.
const keyChannel = "gw:keys:changed"

// OpenRedis connects to REDIS_URL.
func OpenRedis(url string) (redis.UniversalClient, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	c := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("redis unreachable: %w", err)
	}
	return c, nil
}

// PublishKeyChange tells every instance to reload its key cache.
func PublishKeyChange(c redis.UniversalClient) func() {
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		c.Publish(ctx, keyChannel, "1")
	}
}

// listenKeyChanges reloads the key cache whenever another instance (or the
// CLI) changed a key, until ctx ends.
func (s *Server) listenKeyChanges(ctx context.Context, c redis.UniversalClient) {
	sub := c.Subscribe(ctx, keyChannel)
	defer sub.Close()
	ch := sub.Channel()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ch:
			if err := s.Keys.Load(ctx); err != nil && ctx.Err() == nil {
				s.Log.Warn("key cache reload failed", "error", err)
			}
			if s.OrgKeys != nil {
				if err := s.OrgKeys.Load(ctx); err != nil && ctx.Err() == nil {
					s.Log.Warn("organization provider keys reload failed", "error", err)
				}
			}
		}
	}
}
