package routing

import (
	"sync"
	"sync/atomic"
	"time"
)

// Key-pool policy. A key that failed keyFailN of its last keyWindow calls rests
// for a back-off that doubles on each new rest (keyRestMin..keyRestMax) and is
// forgotten on its first success. A 429 is not a failure of the key: the
// provider asks us to spread load, so for keyCoolDefault other keys go first;
// only when it said how long (Retry-After) is the key held back entirely until
// then. A 401/403 means the key
// itself is wrong: it is out of the pool until the process restarts.
const (
	keyWindow      = 5
	keyFailN       = 3
	keyRestMin     = 30 * time.Second
	keyRestMax     = 5 * time.Minute
	keyCoolDefault = 2 * time.Second
	keyCoolMax     = time.Minute
)

// KeyOutcome classifies one upstream call for the key that made it.
type KeyOutcome int

const (
	KeyOK        KeyOutcome = iota // success, or a client error the key is not to blame for
	KeyFailed                      // 5xx, timeout, broken connection, garbage
	KeyThrottled                   // 429: spread load
	KeyRejected                    // 401/403: the credential is bad
)

// PoolKey is one credential of a provider's pool with its recent outcomes.
type PoolKey struct {
	Secret string
	// Label names the key in logs without revealing it (last 4 characters).
	Label string

	mu        sync.Mutex
	recent    uint8 // bit i set = failure, newest in bit 0
	n         int   // outcomes recorded, capped at keyWindow
	restUntil time.Time
	rest      time.Duration
	coolUntil time.Time // Retry-After: not used before
	softUntil time.Time // a 429 without Retry-After: others first
	rejected  bool
}

// KeyPool is a provider's credentials, used round-robin over the healthy ones.
type KeyPool struct {
	keys []*PoolKey
	next atomic.Uint64
	now  func() time.Time
}

// NewKeyPool builds a pool. prev, when given, carries the state of keys that
// are still configured (a reload must not bring back a rejected key).
func NewKeyPool(secrets []string, prev *KeyPool) *KeyPool {
	p := &KeyPool{now: time.Now}
	old := map[string]*PoolKey{}
	if prev != nil {
		for _, k := range prev.keys {
			old[k.Secret] = k
		}
	}
	for _, s := range secrets {
		if k, ok := old[s]; ok {
			p.keys = append(p.keys, k)
			continue
		}
		p.keys = append(p.keys, &PoolKey{Secret: s, Label: label(s)})
	}
	return p
}

func label(s string) string {
	if len(s) <= 4 {
		return "…"
	}
	return "…" + s[len(s)-4:]
}

// SetClock replaces the pool's clock (tests).
func (p *KeyPool) SetClock(now func() time.Time) { p.now = now }

// Len is the number of configured keys.
func (p *KeyPool) Len() int { return len(p.keys) }

// Pick returns the next usable key, round-robin, skipping the keys in tried.
// Healthy keys come first; when every remaining key rests after failures the
// one free soonest is used (a tired key beats no answer). A key cooling down
// after a 429 is not used at all: the provider asked us to wait (CoolingUntil
// tells how long). Rejected keys are never used. nil means the pool has
// nothing left to try now.
func (p *KeyPool) Pick(tried ...*PoolKey) *PoolKey {
	n := len(p.keys)
	if n == 0 {
		return nil
	}
	now := p.now()
	start := p.next.Add(1) - 1
	var fallback *PoolKey
	var fallbackAt time.Time
	for i := 0; i < n; i++ {
		k := p.keys[(start+uint64(i))%uint64(n)]
		if contains(tried, k) {
			continue
		}
		free, at, ok := k.state(now)
		if !ok || k.cooling(now) {
			continue
		}
		if free {
			return k
		}
		if fallback == nil || at.Before(fallbackAt) {
			fallback, fallbackAt = k, at
		}
	}
	return fallback
}

// HasOther reports whether a key other than those tried could still be used.
func (p *KeyPool) HasOther(tried ...*PoolKey) bool {
	for _, k := range p.keys {
		if contains(tried, k) {
			continue
		}
		k.mu.Lock()
		rejected := k.rejected
		k.mu.Unlock()
		if !rejected {
			return true
		}
	}
	return false
}

func contains(ks []*PoolKey, k *PoolKey) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

// CoolingUntil reports when the first key cooling down after a 429 is free
// again, when every usable key of the pool is cooling (ok false otherwise).
func (p *KeyPool) CoolingUntil() (until time.Time, ok bool) {
	now := p.now()
	for _, k := range p.keys {
		k.mu.Lock()
		rejected, cool := k.rejected, k.coolUntil
		k.mu.Unlock()
		if rejected {
			continue
		}
		if !cool.After(now) {
			return time.Time{}, false
		}
		if until.IsZero() || cool.Before(until) {
			until = cool
		}
	}
	return until, !until.IsZero()
}

func (k *PoolKey) cooling(now time.Time) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.coolUntil.After(now)
}

// state tells whether the key is free now, else when it will be; ok is false
// for a rejected key.
func (k *PoolKey) state(now time.Time) (free bool, at time.Time, ok bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.rejected {
		return false, time.Time{}, false
	}
	at = k.restUntil
	for _, t := range []time.Time{k.coolUntil, k.softUntil} {
		if t.After(at) {
			at = t
		}
	}
	return !at.After(now), at, true
}

// Report records the outcome of a call made with the key. retryAfter is the
// provider's Retry-After for a 429 (0 when absent).
func (p *KeyPool) Report(k *PoolKey, o KeyOutcome, retryAfter time.Duration) {
	if k == nil {
		return
	}
	now := p.now()
	k.mu.Lock()
	defer k.mu.Unlock()
	switch o {
	case KeyRejected:
		k.rejected = true
	case KeyThrottled:
		if retryAfter > 0 {
			k.coolUntil = now.Add(min(retryAfter, keyCoolMax))
		} else {
			k.softUntil = now.Add(keyCoolDefault)
		}
	case KeyOK:
		k.push(false)
		k.rest = 0
	case KeyFailed:
		k.push(true)
		if k.failures() >= keyFailN && !k.restUntil.After(now) {
			k.rest = min(max(2*k.rest, keyRestMin), keyRestMax)
			k.restUntil = now.Add(k.rest)
			k.recent, k.n = 0, 0 // back from rest with a clean slate
		}
	}
}

func (k *PoolKey) push(failed bool) {
	k.recent <<= 1
	if failed {
		k.recent |= 1
	}
	k.recent &= 1<<keyWindow - 1
	k.n = min(k.n+1, keyWindow)
}

func (k *PoolKey) failures() int {
	c := 0
	for b := k.recent; b != 0; b &= b - 1 {
		c++
	}
	return c
}

// KeyStatus is a key's state for operators (never the secret).
type KeyStatus struct {
	Label     string    `json:"label"`
	Rejected  bool      `json:"rejected"`
	RestUntil time.Time `json:"restUntil,omitzero"`
	CoolUntil time.Time `json:"coolUntil,omitzero"`
}

// Status lists the pool's keys and their state.
func (p *KeyPool) Status() []KeyStatus {
	out := make([]KeyStatus, len(p.keys))
	for i, k := range p.keys {
		k.mu.Lock()
		out[i] = KeyStatus{Label: k.Label, Rejected: k.rejected, RestUntil: k.restUntil, CoolUntil: k.coolUntil}
		k.mu.Unlock()
	}
	return out
}
