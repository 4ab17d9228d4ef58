package respcache

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmgw/gateway/app/schema"
)

// Outcome says how Do answered.
type Outcome int

const (
	// Miss: this caller ran fill (one upstream call).
	Miss Outcome = iota
	// Hit: answered from the store.
	Hit
	// Coalesced: this caller waited for another caller's fill of the same key
	// and got a copy of its answer (no upstream call of its own).
	Coalesced
)

func (o Outcome) String() string {
	switch o {
	case Hit:
		return "hit"
	case Coalesced:
		return "coalesced"
	default:
		return "miss"
	}
}

// Options tune a Cache. Zero values mean the defaults.
type Options struct {
	// LookupTimeout bounds one store read; a slower store is a miss. Default 250ms.
	LookupTimeout time.Duration
	// WriteTimeout bounds one store write. Default 2s.
	WriteTimeout time.Duration
	// MaxPendingWrites bounds Put's background writes; beyond it a write is
	// dropped (counted), never queued. Default 256.
	MaxPendingWrites int
	// MaxEntryBytes: larger encoded entries are not stored. Default 4 MiB.
	MaxEntryBytes int
	// OnError, if set, is told about store errors, corrupt entries and fill
	// panics (op is "get", "set", "decode", "encode" or "fill"), for logging.
	// It must be safe for concurrent use and fast.
	OnError func(op string, err error)
	// Now is the clock of Entry.StoredAt. Default time.Now.
	Now func() time.Time
}

// Stats are counters since New.
type Stats struct {
	Hits, Misses, Coalesced uint64
	// StoreErrors: store reads/writes that failed or timed out, and corrupt entries.
	StoreErrors uint64
	// Writes: entries written. NotStored: responses refused (Storable false,
	// too large, encoding failed). WritesDropped: Put writes dropped because
	// MaxPendingWrites were in flight.
	Writes, NotStored, WritesDropped uint64
}

// Cache is the response cache over a Store. It is safe for concurrent use.
type Cache struct {
	store Store
	opts  Options
	sem   chan struct{}
	wg    sync.WaitGroup

	mu      sync.Mutex
	flights map[string]*flight

	hits, misses, coalesced, storeErrors, writes, notStored, dropped atomic.Uint64
}

// flight is one running fill that identical callers share.
type flight struct {
	done   chan struct{}
	cancel context.CancelFunc

	// Under Cache.mu.
	waiters  int  // callers still waiting
	finished bool // fill returned

	// Set before done is closed, read-only after.
	resp     *schema.ChatResponse // the leader's answer
	data     []byte               // its encoded entry, each waiter decodes its own copy
	err      error                // fill's error
	shareErr error                // the answer could not be encoded for waiters
}

// New returns a cache over store (which must not be nil).
func New(store Store, opts Options) *Cache {
	if store == nil {
		panic("respcache: nil store")
	}
	if opts.LookupTimeout <= 0 {
		opts.LookupTimeout = 250 * time.Millisecond
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 2 * time.Second
	}
	if opts.MaxPendingWrites <= 0 {
		opts.MaxPendingWrites = 256
	}
	if opts.MaxEntryBytes <= 0 {
		opts.MaxEntryBytes = 4 << 20
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Cache{store: store, opts: opts, sem: make(chan struct{}, opts.MaxPendingWrites), flights: make(map[string]*flight)}
}

// Stats returns the counters.
func (c *Cache) Stats() Stats {
	return Stats{Hits: c.hits.Load(), Misses: c.misses.Load(), Coalesced: c.coalesced.Load(),
		StoreErrors: c.storeErrors.Load(), Writes: c.writes.Load(), NotStored: c.notStored.Load(),
		WritesDropped: c.dropped.Load()}
}

// Lookup returns the cached response of key: a new object each call, usage as
// stored (the caller reports zero). A store error is a miss (counted).
func (c *Cache) Lookup(ctx context.Context, key string) (*schema.ChatResponse, bool) {
	e, ok := c.LookupEntry(ctx, key)
	if !ok {
		return nil, false
	}
	return e.Response, true
}

// LookupEntry is Lookup with the time the entry was stored.
func (c *Cache) LookupEntry(ctx context.Context, key string) (Entry, bool) {
	e, ok := c.get(ctx, key)
	if ok {
		c.hits.Add(1)
	} else {
		c.misses.Add(1)
	}
	return e, ok
}

func (c *Cache) get(ctx context.Context, key string) (Entry, bool) {
	gctx, cancel := context.WithTimeout(ctx, c.opts.LookupTimeout)
	defer cancel()
	b, ok, err := c.store.Get(gctx, key)
	if err != nil {
		if ctx.Err() == nil { // the caller going away is not the store's fault
			c.fail("get", err)
		}
		return Entry{}, false
	}
	if !ok {
		return Entry{}, false
	}
	e, err := DecodeEntry(b)
	if err != nil {
		c.fail("decode", err)
		return Entry{}, false
	}
	return e, true
}

// Put stores resp under key for ttl (ttl <= 0 means DefaultTTL) if Storable.
// The response is encoded before Put returns (the caller may then modify it);
// the write happens in the background, bounded by MaxPendingWrites and
// WriteTimeout, and outlives ctx's cancellation.
func (c *Cache) Put(ctx context.Context, key string, resp *schema.ChatResponse, ttl time.Duration) {
	data, ok := c.encode(resp)
	if !ok {
		return
	}
	select {
	case c.sem <- struct{}{}:
	default:
		c.dropped.Add(1)
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer func() { <-c.sem }()
		c.write(context.WithoutCancel(ctx), key, data, ttl)
	}()
}

// Wait blocks until the background writes and fills started so far are done
// (for graceful shutdown, after traffic stopped, and tests).
func (c *Cache) Wait() { c.wg.Wait() }

// encode returns the entry of a storable response.
func (c *Cache) encode(resp *schema.ChatResponse) ([]byte, bool) {
	if !Storable(resp) {
		c.notStored.Add(1)
		return nil, false
	}
	data, err := EncodeEntry(Entry{Response: resp, StoredAt: c.opts.Now()})
	if err != nil {
		c.notStored.Add(1)
		c.report("encode", err)
		return nil, false
	}
	if len(data) > c.opts.MaxEntryBytes {
		c.notStored.Add(1)
		return nil, false
	}
	return data, true
}

func (c *Cache) write(ctx context.Context, key string, data []byte, ttl time.Duration) {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	wctx, cancel := context.WithTimeout(ctx, c.opts.WriteTimeout)
	defer cancel()
	switch err := c.store.Set(wctx, key, data, ttl); {
	case err == nil:
		c.writes.Add(1)
	case errors.Is(err, ErrTooLarge):
		c.notStored.Add(1)
	default:
		c.fail("set", err)
	}
}

func (c *Cache) fail(op string, err error) {
	c.storeErrors.Add(1)
	c.report(op, err)
}

func (c *Cache) report(op string, err error) {
	if c.opts.OnError != nil {
		c.opts.OnError(op, err)
	}
}

// Do answers key from the store, or else by fill, storing fill's answer for ttl
// (ttl <= 0 means DefaultTTL) when it is Storable. The caller checked
// Cacheable.
//
// Concurrent misses of the same key on this Cache run fill once: the first
// caller leads (Miss), the others wait for it (Coalesced) and each gets its own
// copy of the answer (or the same error), so every caller may modify what it
// gets. Errors are never stored: the next call runs fill again.
//
// fill runs in its own goroutine with a context that keeps ctx's values but not
// its cancellation: a caller whose ctx ends — the leader included — returns
// ctx.Err() at once while the fill goes on for the others. Only when every
// waiting caller has gone is the fill's context cancelled (and the key freed, so
// a later caller starts afresh instead of inheriting the cancelled call). fill
// must bound its own duration. A panic in fill is returned as an error.
func (c *Cache) Do(ctx context.Context, key string, ttl time.Duration, fill func(context.Context) (*schema.ChatResponse, error)) (*schema.ChatResponse, Outcome, error) {
	if e, ok := c.get(ctx, key); ok {
		c.hits.Add(1)
		return e.Response, Hit, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, Miss, err
	}
	c.mu.Lock()
	f, joined := c.flights[key]
	if joined {
		f.waiters++
		c.coalesced.Add(1)
	} else {
		fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		f = &flight{done: make(chan struct{}), cancel: cancel, waiters: 1}
		c.flights[key] = f
		c.misses.Add(1)
		c.wg.Add(1)
		go c.run(fctx, key, ttl, f, fill)
	}
	c.mu.Unlock()
	outcome := Miss
	if joined {
		outcome = Coalesced
	}

	select {
	case <-f.done:
	default:
		select {
		case <-f.done:
		case <-ctx.Done():
			c.leave(key, f)
			return nil, outcome, ctx.Err()
		}
	}
	if f.err != nil {
		return nil, outcome, f.err
	}
	if !joined {
		return f.resp, Miss, nil
	}
	if f.shareErr != nil {
		return nil, outcome, f.shareErr
	}
	e, err := DecodeEntry(f.data)
	if err != nil { // cannot happen: the bytes were just encoded
		return nil, outcome, err
	}
	return e.Response, Coalesced, nil
}

// leave withdraws a caller that stopped waiting; the last one out cancels the
// unfinished fill and frees the key.
func (c *Cache) leave(key string, f *flight) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f.waiters--
	if f.waiters == 0 && !f.finished {
		f.cancel()
		if c.flights[key] == f {
			delete(c.flights, key)
		}
	}
}

func (c *Cache) run(ctx context.Context, key string, ttl time.Duration, f *flight, fill func(context.Context) (*schema.ChatResponse, error)) {
	defer c.wg.Done()
	defer f.cancel()
	resp, err := callFill(ctx, fill)
	if err == nil && resp == nil {
		err = errors.New("respcache: fill returned no response and no error")
	}
	var data []byte
	storable := false
	if err == nil {
		var eerr error
		data, eerr = EncodeEntry(Entry{Response: resp, StoredAt: c.opts.Now()})
		if eerr != nil {
			f.shareErr = fmt.Errorf("respcache: the coalesced answer cannot be shared: %w", eerr)
			c.report("encode", eerr)
		}
		storable = eerr == nil && Storable(resp) && len(data) <= c.opts.MaxEntryBytes
		if !storable {
			c.notStored.Add(1)
		}
	} else {
		var pe panicError
		if errors.As(err, &pe) {
			c.report("fill", err)
		}
	}
	f.resp, f.data, f.err = resp, data, err

	c.mu.Lock()
	f.finished = true
	// Nothing to store: free the key now, so that a later caller runs fill
	// again rather than reading this (possibly failed) answer. Otherwise the
	// flight keeps answering newcomers until the entry is in the store.
	if !storable && c.flights[key] == f {
		delete(c.flights, key)
	}
	c.mu.Unlock()
	close(f.done)

	if storable {
		c.write(context.WithoutCancel(ctx), key, data, ttl)
		c.mu.Lock()
		if c.flights[key] == f {
			delete(c.flights, key)
		}
		c.mu.Unlock()
	}
}

type panicError struct {
	v     any
	stack []byte
}

func (p panicError) Error() string {
	return fmt.Sprintf("respcache: fill panicked: %v\n%s", p.v, p.stack)
}

func callFill(ctx context.Context, fill func(context.Context) (*schema.ChatResponse, error)) (resp *schema.ChatResponse, err error) {
	defer func() {
		if r := recover(); r != nil {
			resp, err = nil, panicError{v: r, stack: debug.Stack()}
		}
	}()
	return fill(ctx)
}
