package spend

import (
	"context"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/llmgw/gateway/app/ids"
	"github.com/llmgw/gateway/models"
)

// With Redis the accounts are shared by every gateway instance:
//   {p}u:{key}      lifetime spend (nano-USD)
//   {p}w:{key}:{W}  spend in the window starting at unix second W
//   {p}r:{key}      in-flight reservations: sorted set of "id:amount" scored by
//                   expiry, so a reservation of a crashed instance lapses
// Windows are computed from the key's period anchor (PeriodStart), the same on
// every instance, so rolling a window needs no coordination: it is a new key.

// reserveScript: KEYS u, w, r. ARGV: initUsage, initPeriod (-1: the window is new
// to the database), usageLimit (-1 none), periodLimit (-1 none), estimate,
// member, expiry ms, now ms, window ttl s.
var reserveScript = redis.NewScript(`
redis.call('SETNX', KEYS[1], ARGV[1])
if tonumber(ARGV[2]) >= 0 then redis.call('SETNX', KEYS[2], ARGV[2]) end
redis.call('EXPIRE', KEYS[2], ARGV[9])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[8])
local reserved = 0
for _, m in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
  reserved = reserved + tonumber(string.match(m, ':(%d+)$'))
end
local usage = tonumber(redis.call('GET', KEYS[1]))
local period = tonumber(redis.call('GET', KEYS[2]) or '0')
local est = tonumber(ARGV[5])
local ul, pl = tonumber(ARGV[3]), tonumber(ARGV[4])
if ul >= 0 and (usage >= ul or usage + reserved + est > ul) then return {0, usage, reserved, 'usage'} end
if pl >= 0 and (period >= pl or period + reserved + est > pl) then return {0, period, reserved, 'period'} end
redis.call('ZADD', KEYS[3], ARGV[7], ARGV[6])
redis.call('PEXPIRE', KEYS[3], 86400000)
return {1, usage, period, ''}
`)

// settleScript: KEYS u, w, r. ARGV: member, actual, window ttl s.
var settleScript = redis.NewScript(`
redis.call('ZREM', KEYS[3], ARGV[1])
local u = redis.call('INCRBY', KEYS[1], ARGV[2])
local p = redis.call('INCRBY', KEYS[2], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return {u, p}
`)

type shared struct {
	c      redis.UniversalClient
	prefix string
	hold   time.Duration // reservation lifetime: longer than any upstream call
	seq    atomic.Uint64
}

// UseRedis shares the accounts through client. hold bounds how long a
// reservation of a vanished instance blocks budget.
func (a *Accountant) UseRedis(client redis.UniversalClient, prefix string, hold time.Duration) {
	a.shared = &shared{c: client, prefix: prefix, hold: hold}
}

// windowStart is the start of the window containing now (zero without one).
func (a *Accountant) windowStart(k *models.APIKey, now time.Time) time.Time {
	if window(k) == 0 {
		return time.Time{}
	}
	anchor := now
	if k.PeriodStart != nil {
		anchor = *k.PeriodStart
	}
	if now.Before(anchor) {
		return anchor
	}
	start := anchor
	for n := 1; !now.Before(advance(anchor, k, n)); n++ {
		start = advance(anchor, k, n)
		if n > 100000 { // a far-past anchor: stop stepping, windows are short relative to that
			break
		}
	}
	return start
}

func (s *shared) keys(k *models.APIKey, w time.Time) []string {
	return []string{s.prefix + "u:" + k.ID, s.prefix + "w:" + k.ID + ":" + strconv.FormatInt(w.Unix(), 10), s.prefix + "r:" + k.ID}
}

func limitArg(l *int64) int64 {
	if l == nil {
		return -1
	}
	return *l
}

func (a *Accountant) reserveShared(k *models.APIKey, estimate int64) (*Reservation, error) {
	s := a.shared
	now := a.now()
	w := a.windowStart(k, now)
	initPeriod := int64(-1)
	if k.PeriodStart != nil && w.Equal(*k.PeriodStart) {
		initPeriod = k.PeriodUsage // the database's figure belongs to this window
	} else {
		initPeriod = 0
	}
	periodLimit := int64(-1)
	if window(k) > 0 {
		periodLimit = limitArg(k.PeriodUsageLimit)
	}
	member := ids.Random(12) + ":" + strconv.FormatInt(estimate, 10)
	ttl := int64(2*window(k)/time.Second) + 3600
	res, err := reserveScript.Run(context.Background(), s.c, s.keys(k, w), k.Usage, initPeriod, limitArg(k.UsageLimit),
		periodLimit, estimate, member, now.Add(s.hold).UnixMilli(), now.UnixMilli(), ttl).Slice()
	if err != nil {
		return nil, err
	}
	if ok, _ := res[0].(int64); ok != 1 {
		spent, _ := res[1].(int64)
		reserved, _ := res[2].(int64)
		if res[3] == "period" {
			return nil, check("recurring usage limit", *k.PeriodUsageLimit, spent, reserved, estimate)
		}
		return nil, check("usage limit", *k.UsageLimit, spent, reserved, estimate)
	}
	return &Reservation{a: a, acc: a.account(k), amount: estimate, member: member, keys: s.keys(k, w), window: w, ttl: ttl}, nil
}

func (r *Reservation) settleShared(actual int64) {
	s := r.a.shared
	res, err := settleScript.Run(context.Background(), s.c, r.keys, r.member, actual, r.ttl).Slice()
	acc := r.acc
	acc.mu.Lock()
	defer acc.mu.Unlock()
	if err != nil {
		// Redis failed after the call: keep the spend locally; the reservation lapses.
		r.a.log.Warn("shared spend settle failed", "error", err)
	} else {
		u, _ := res[0].(int64)
		p, _ := res[1].(int64)
		acc.usage, acc.period, acc.periodStart = u, p, r.window
	}
	acc.dirtyUsage += actual
	acc.dirty = acc.dirty || actual != 0
}
