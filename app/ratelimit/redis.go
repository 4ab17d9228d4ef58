package ratelimit

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis shares the counts between gateway instances. Each fixed window is one
// Redis key ({prefix}{key}:{window index}); one Lua script reads the previous
// and current windows, decides and counts, atomically.
type Redis struct {
	c      redis.UniversalClient
	prefix string
	now    func() time.Time
}

// NewRedis returns a store on client; prefix namespaces its keys.
func NewRedis(client redis.UniversalClient, prefix string) *Redis {
	return &Redis{c: client, prefix: prefix, now: time.Now}
}

// KEYS: current, previous. ARGV: limit, n, overlap (0..1), mode (take|peek|add), ttl ms.
var slidingScript = redis.NewScript(`
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local prev = tonumber(redis.call('GET', KEYS[2]) or '0')
local limit = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local used = prev * tonumber(ARGV[3]) + cur
local mode = ARGV[4]
local allowed = 0
if mode == 'add' or (mode == 'take' and used + n <= limit) then
  redis.call('INCRBY', KEYS[1], n)
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  allowed = 1
elseif mode == 'peek' and used < limit then
  allowed = 1
end
return {allowed, tostring(used), prev}
`)

func (s *Redis) run(ctx context.Context, key string, limit, n int, mode string, window time.Duration) (Decision, error) {
	now := s.now()
	start := now.Truncate(window)
	idx := start.Unix() / int64(window/time.Second)
	keys := []string{s.prefix + key + ":" + strconv.FormatInt(idx, 10), s.prefix + key + ":" + strconv.FormatInt(idx-1, 10)}
	overlap := 1 - float64(now.Sub(start))/float64(window)
	res, err := slidingScript.Run(ctx, s.c, keys, limit, n, strconv.FormatFloat(overlap, 'f', 6, 64), mode, (2 * window).Milliseconds()).Slice()
	if err != nil {
		return Decision{}, err
	}
	allowed, _ := res[0].(int64)
	used, _ := strconv.ParseFloat(res[1].(string), 64)
	prev, _ := res[2].(int64)
	switch mode {
	case "take":
		d := decide(limit, n, used, now, int(prev), window)
		return d, nil
	default:
		d := decide(limit, 0, used, now, int(prev), window)
		d.Allowed = allowed == 1
		return d, nil
	}
}

func (s *Redis) Take(ctx context.Context, key string, limit, n int, window time.Duration) (Decision, error) {
	return s.run(ctx, key, limit, n, "take", window)
}

func (s *Redis) Peek(ctx context.Context, key string, limit int, window time.Duration) (Decision, error) {
	return s.run(ctx, key, limit, 0, "peek", window)
}

func (s *Redis) Add(ctx context.Context, key string, n int, window time.Duration) error {
	_, err := s.run(ctx, key, 0, n, "add", window)
	return err
}
