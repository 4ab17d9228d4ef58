package catalog

import (
	"sync"
	"sync/atomic"
)

// Holder holds the current catalog for concurrent readers. A request calls Get
// once and uses that snapshot throughout, so a reload (SIGHUP) never changes a
// catalog under a request in flight.
type Holder struct {
	cur      atomic.Pointer[Catalog]
	reloadMu sync.Mutex // serialises Reload so the last one to finish wins cleanly
}

// NewHolder returns a holder of c.
func NewHolder(c *Catalog) *Holder {
	h := &Holder{}
	h.cur.Store(c)
	return h
}

// Get returns the current catalog (nil only for a zero Holder never set).
func (h *Holder) Get() *Catalog { return h.cur.Load() }

// Set replaces the current catalog.
func (h *Holder) Set(c *Catalog) { h.cur.Store(c) }

// Reload loads the embedded catalog plus the models file at path ("" for none)
// and makes it current. On error the current catalog stays in place and the
// error says why, so a broken edit of the file cannot take models away. If the
// current catalog is PricedOnly (billing mode) the new one is made so too.
func (h *Holder) Reload(path string) error {
	h.reloadMu.Lock()
	defer h.reloadMu.Unlock()
	next, err := Load(path)
	if err != nil {
		return err
	}
	if cur := h.Get(); cur != nil && cur.PricedOnly() {
		next = next.DropUnpriced()
	}
	h.cur.Store(next)
	return nil
}
