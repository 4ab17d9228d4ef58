package respcache

import (
	"context"
	"sync"
	"time"
)

// memEntryOverhead approximates the bytes an entry costs besides its key and
// value (map slot, list node, headers), so many tiny entries still count.
const memEntryOverhead = 128

// DefaultMemoryBytes is the bound NewMemory uses when given maxBytes <= 0.
const DefaultMemoryBytes = 64 << 20

// Memory is an in-process Store: least-recently-used entries are evicted to
// stay within maxBytes, and each entry expires after its TTL. An expired entry
// is never returned; it is dropped when read, when it reaches the LRU end,
// or under memory pressure. An entry above maxBytes/8 is not stored
// (ErrTooLarge), so one huge answer cannot flush the cache. Every operation
// is O(1) and safe for concurrent use.
type Memory struct {
	mu       sync.Mutex
	max      int64
	maxEntry int64
	size     int64
	items    map[string]*memEntry
	root     memEntry // sentinel: root.next is the most recently used, root.prev the least
	now      func() time.Time
}

type memEntry struct {
	key        string
	val        []byte
	expires    int64 // unix nanoseconds
	size       int64
	prev, next *memEntry
}

// NewMemory returns an empty store bounded to about maxBytes (keys, values and
// per-entry overhead); maxBytes <= 0 means DefaultMemoryBytes.
func NewMemory(maxBytes int64) *Memory {
	if maxBytes <= 0 {
		maxBytes = DefaultMemoryBytes
	}
	m := &Memory{max: maxBytes, maxEntry: maxBytes / 8, items: make(map[string]*memEntry), now: time.Now}
	m.root.next, m.root.prev = &m.root, &m.root
	return m
}

// Get returns the live value of key. The bytes must not be modified.
func (m *Memory) Get(_ context.Context, key string) ([]byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.items[key]
	if e == nil {
		return nil, false, nil
	}
	if m.now().UnixNano() >= e.expires {
		m.remove(e)
		return nil, false, nil
	}
	m.unlink(e)
	m.pushFront(e)
	return e.val, true, nil
}

// Set stores a copy of val for ttl, evicting the least recently used entries
// as needed. A ttl <= 0 removes key.
func (m *Memory) Set(_ context.Context, key string, val []byte, ttl time.Duration) error {
	size := int64(len(key)+len(val)) + memEntryOverhead
	m.mu.Lock()
	defer m.mu.Unlock()
	if old := m.items[key]; old != nil {
		m.remove(old)
	}
	if ttl <= 0 {
		return nil
	}
	if size > m.maxEntry {
		return ErrTooLarge
	}
	now := m.now().UnixNano()
	e := &memEntry{key: key, val: append([]byte(nil), val...), expires: now + int64(ttl), size: size}
	if e.expires < now { // overflow: a ttl of centuries
		e.expires = 1<<63 - 1
	}
	m.items[key] = e
	m.pushFront(e)
	m.size += size
	// Expired entries at the LRU end go first, then least recently used ones
	// while over the bound.
	for t := m.root.prev; t != &m.root && t != e && (m.size > m.max || now >= t.expires); t = m.root.prev {
		m.remove(t)
	}
	return nil
}

// Len returns the number of entries held (expired ones included until dropped).
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.items)
}

// Bytes returns the accounted size of the entries held.
func (m *Memory) Bytes() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.size
}

func (m *Memory) remove(e *memEntry) {
	m.unlink(e)
	delete(m.items, e.key)
	m.size -= e.size
}

func (m *Memory) unlink(e *memEntry) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

func (m *Memory) pushFront(e *memEntry) {
	e.prev, e.next = &m.root, m.root.next
	m.root.next.prev = e
	m.root.next = e
}
