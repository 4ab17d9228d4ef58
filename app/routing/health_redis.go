package routing

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Shared mode: every instance's observations feed one window in Redis.
//
// Layout (prefix e.g. "gw:health:"):
//
//	{prefix}{key}:{unix minute}  hash requests, errors, tokens, ttft_count (HINCRBY),
//	                             gen_ms, ttft_sum_ms (HINCRBYFLOAT); EXPIRE 61 min
//	{prefix}keys                 zset of provider keys, score = last minute written
//
// Record stays an in-memory operation: it updates the local window and a
// pending window; a background loop flushes the pending deltas every second
// (or at 256 observations) in one pipeline, and every refreshEvery reads the 60
// buckets of every known key in one pipeline into a snapshot. Metrics adds the
// snapshot, the deltas flushed since it was taken ("sent") and the pending
// ones: flushes and refreshes never overlap, so whatever was sent before a
// refresh began is in its snapshot and "sent" is emptied then; nothing is
// counted twice. While Redis is unreachable Metrics uses this instance's own
// observations, pending deltas are kept (and flushed once Redis is back).
const (
	flushEvery   = time.Second
	refreshEvery = 3 * time.Second
	flushBatch   = 256
	bucketTTL    = 61 * time.Minute
	redisTimeout = 3 * time.Second // with ContextTimeoutEnabled; else the client's own timeouts bound each call
	closeTimeout = 5 * time.Second
)

var healthFields = []string{"requests", "errors", "tokens", "gen_ms", "ttft_sum_ms", "ttft_count"}

type shared struct {
	c      redis.UniversalClient
	prefix string
	log    *slog.Logger

	// guarded by Health.mu
	pending  map[string]*series // recorded here, not flushed yet
	sent     map[string]*series // flushed since the last snapshot was taken
	snap     map[string]*series // the shared window at the last refresh
	down     bool               // the last Redis operation failed: use local data
	npending int

	io    chan struct{} // a token: serialises Flush and Refresh
	batch []flushItem
	kick  chan struct{}

	stop      context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

type flushItem struct {
	key string
	b   bucket
}

// NewSharedHealth returns a tracker whose window is shared through Redis by
// every instance using the same prefix. Its background loop runs until ctx
// ends or Close; Close flushes what is still pending. Redis errors never reach
// callers: they are logged once per outage and local data is used meanwhile.
func NewSharedHealth(ctx context.Context, client redis.UniversalClient, prefix string, log *slog.Logger) *Health {
	h := newSharedHealth(client, prefix, log)
	ctx, h.sh.stop = context.WithCancel(ctx)
	h.sh.done = make(chan struct{})
	go h.run(ctx)
	return h
}

// newSharedHealth builds a shared tracker without its background loop (tests
// drive Flush and Refresh themselves).
func newSharedHealth(client redis.UniversalClient, prefix string, log *slog.Logger) *Health {
	if log == nil {
		log = slog.Default()
	}
	h := NewHealth()
	h.sh = &shared{c: client, prefix: prefix, log: log, kick: make(chan struct{}, 1), io: make(chan struct{}, 1),
		pending: map[string]*series{}, sent: map[string]*series{}, snap: map[string]*series{}}
	return h
}

// queue adds an observation to the pending window (Health.mu held).
func (s *shared) queue(o Observation, minute int64) {
	at(s.pending, o.Provider, minute).add(o)
	s.npending++
	if s.npending >= flushBatch {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
}

// lock takes the I/O token, unless ctx ends first.
func (s *shared) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case s.io <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *shared) unlock() { <-s.io }

func (h *Health) isDown() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sh.down
}

// run flushes every flushEvery (or when flushBatch observations are pending)
// and refreshes every refreshEvery. While Redis is down only the refresh
// probes it, so an outage costs one failed attempt per refreshEvery.
func (h *Health) run(ctx context.Context) {
	defer close(h.sh.done)
	h.Refresh(ctx)
	flush, refresh := time.NewTicker(flushEvery), time.NewTicker(refreshEvery)
	defer flush.Stop()
	defer refresh.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.sh.kick:
		case <-flush.C:
		case <-refresh.C:
			if h.isDown() {
				h.Refresh(ctx) // probe; the pending data follows once it answers
			} else if h.Flush(ctx) == nil {
				h.Refresh(ctx)
			}
			continue
		}
		if !h.isDown() {
			h.Flush(ctx)
		}
	}
}

// Close stops the background loop and flushes the pending observations; it
// returns within closeTimeout even if Redis hangs. In memory-only mode it does
// nothing. Record and Metrics keep working afterwards, locally. Call it before
// closing the Redis client.
func (h *Health) Close() error {
	s := h.sh
	if s == nil {
		return nil
	}
	s.closeOnce.Do(func() {
		if s.stop != nil {
			s.stop()
		}
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		errc := make(chan error, 1)
		go func() {
			if s.done != nil {
				<-s.done
			}
			h.mu.Lock()
			down, n := s.down, s.npending
			h.mu.Unlock()
			if down { // don't hold the shutdown up on a Redis known to be down
				errc <- fmt.Errorf("provider health: Redis unavailable, %d observations not shared", n)
				return
			}
			errc <- h.Flush(ctx)
		}()
		select {
		case s.closeErr = <-errc:
		case <-ctx.Done():
			s.closeErr = fmt.Errorf("provider health: final flush: %w", ctx.Err())
		}
	})
	return s.closeErr
}

func (s *shared) bucketKey(key string, minute int64) string {
	return s.prefix + key + ":" + strconv.FormatInt(minute, 10)
}

// Flush writes the pending observations to Redis in one pipeline. Deltas
// Redis did not take stay pending. Memory-only mode: no-op.
func (h *Health) Flush(ctx context.Context) error {
	s := h.sh
	if s == nil {
		return nil
	}
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.unlock()
	h.mu.Lock()
	minute := h.now().Unix() / 60
	batch := s.batch[:0]
	for k, ser := range s.pending {
		for i := range ser.b {
			if b := &ser.b[i]; !b.empty() {
				batch = append(batch, flushItem{key: k, b: *b})
				*b = bucket{}
			}
		}
	}
	s.npending = 0
	h.mu.Unlock()
	s.batch = batch
	if len(batch) == 0 {
		return nil
	}

	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, redisTimeout)
	defer cancel()
	cmds := make([][6]redis.Cmder, len(batch))
	var members []redis.Z
	seen := map[string]bool{}
	_, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, it := range batch {
			if !seen[it.key] {
				seen[it.key] = true
				members = append(members, redis.Z{Score: float64(minute), Member: it.key})
			}
		}
		p.ZAdd(ctx, s.prefix+"keys", members...)
		p.Expire(ctx, s.prefix+"keys", bucketTTL)
		for i, it := range batch {
			k := s.bucketKey(it.key, it.b.minute)
			for f, v := range fieldValues(&it.b) {
				switch {
				case v == 0:
				case f == 3 || f == 4: // gen_ms, ttft_sum_ms, to the microsecond
					cmds[i][f] = p.HIncrByFloat(ctx, k, healthFields[f], math.Round(v*1000)/1000)
				default:
					cmds[i][f] = p.HIncrBy(ctx, k, healthFields[f], int64(math.Round(v)))
				}
			}
			p.Expire(ctx, k, bucketTTL)
		}
		return nil
	})

	h.mu.Lock()
	for i, it := range batch {
		var ok, failed bucket
		ok.minute, failed.minute = it.b.minute, it.b.minute
		okv, failedv := fieldPtrs(&ok), fieldPtrs(&failed)
		for f, p := range fieldPtrs(&it.b) {
			if c := cmds[i][f]; c != nil && c.Err() == nil {
				*okv[f] += *p
			} else {
				*failedv[f] += *p
			}
		}
		merge(s.sent, it.key, &ok)
		merge(s.pending, it.key, &failed)
		s.npending += int(failed.requests)
	}
	h.mu.Unlock()
	if err != nil {
		h.fail(parent, err)
	}
	return err
}

func (b *bucket) empty() bool {
	return b.requests == 0 && b.errors == 0 && b.tokens == 0 && b.genSeconds == 0 && b.ttftSum == 0 && b.ttftCount == 0
}

// fieldValues are a bucket's figures in Redis units, in healthFields order.
func fieldValues(b *bucket) [6]float64 {
	return [6]float64{b.requests, b.errors, b.tokens, b.genSeconds * 1000, b.ttftSum * 1000, b.ttftCount}
}

// fieldPtrs address a bucket's figures in healthFields order, in local units
// (seconds where Redis holds milliseconds).
func fieldPtrs(b *bucket) [6]*float64 {
	return [6]*float64{&b.requests, &b.errors, &b.tokens, &b.genSeconds, &b.ttftSum, &b.ttftCount}
}

// merge adds delta to the bucket of its minute in m. A slot already holding a
// newer minute means the delta left the window: it is dropped.
func merge(m map[string]*series, key string, delta *bucket) {
	if delta.empty() {
		return
	}
	s := m[key]
	if s == nil {
		s = &series{}
		m[key] = s
	}
	b := &s.b[delta.minute%buckets]
	switch {
	case b.minute > delta.minute:
		return
	case b.minute < delta.minute:
		*b = bucket{minute: delta.minute}
	}
	b.requests += delta.requests
	b.errors += delta.errors
	b.tokens += delta.tokens
	b.genSeconds += delta.genSeconds
	b.ttftSum += delta.ttftSum
	b.ttftCount += delta.ttftCount
}

// Refresh reads the shared window (the 60 buckets of every key written in the
// last hour, by any instance, plus this instance's keys) in one pipeline.
// Memory-only mode: no-op.
func (h *Health) Refresh(ctx context.Context) error {
	s := h.sh
	if s == nil {
		return nil
	}
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.unlock()
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, redisTimeout)
	defer cancel()
	h.mu.Lock()
	minute := h.now().Unix() / 60
	keys := make(map[string]bool, len(h.m))
	for k := range h.m {
		keys[k] = true
	}
	h.mu.Unlock()

	members, err := s.c.ZRangeByScore(ctx, s.prefix+"keys", &redis.ZRangeBy{
		Min: strconv.FormatInt(minute-buckets, 10), Max: "+inf"}).Result()
	if err != nil {
		h.fail(parent, err)
		return err
	}
	for _, k := range members {
		keys[k] = true
	}
	type read struct {
		key    string
		minute int64
		cmd    *redis.SliceCmd
	}
	reads := make([]read, 0, len(keys)*buckets)
	_, err = s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.ZRemRangeByScore(ctx, s.prefix+"keys", "-inf", "("+strconv.FormatInt(minute-buckets, 10))
		for k := range keys {
			for m := minute - buckets + 1; m <= minute; m++ {
				reads = append(reads, read{k, m, p.HMGet(ctx, s.bucketKey(k, m), healthFields...)})
			}
		}
		return nil
	})
	if err != nil {
		h.fail(parent, err)
		return err
	}
	snap := make(map[string]*series, len(keys))
	for _, r := range reads {
		vals := r.cmd.Val()
		var b bucket
		found := false
		ptrs := fieldPtrs(&b)
		for f, raw := range vals {
			str, ok := raw.(string)
			if !ok || f >= len(ptrs) {
				continue
			}
			v, perr := strconv.ParseFloat(str, 64)
			if perr != nil {
				continue
			}
			if f == 3 || f == 4 {
				v /= 1000
			}
			*ptrs[f] = v
			found = true
		}
		if !found {
			continue
		}
		ser := snap[r.key]
		if ser == nil {
			ser = &series{}
			snap[r.key] = ser
		}
		b.minute = r.minute
		ser.b[r.minute%buckets] = b
	}

	h.mu.Lock()
	s.snap = snap
	s.sent = map[string]*series{}
	recovered := s.down
	s.down = false
	h.mu.Unlock()
	if recovered {
		s.log.Info("provider health: Redis reachable again; using the shared window")
	}
	return nil
}

// fail switches Metrics to local data, logging once per outage. A call
// cancelled by its caller (shutdown) says nothing about Redis.
func (h *Health) fail(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return
	}
	h.mu.Lock()
	was := h.sh.down
	h.sh.down = true
	h.mu.Unlock()
	if !was {
		h.sh.log.Warn("provider health: Redis unavailable; routing on this instance's own observations until it is back", "error", err)
	}
}
