// Package gctune keeps the garbage collector from running too often while
// the live heap is small.
//
// With GOGC=100 the collector runs each time the heap doubles. A gateway's
// live heap is small (10 MB or so between bursts) while every request
// allocates tens of KB, so at a thousand requests a second it collected
// three times a second, and each cycle's mark phase (a quarter of the CPUs
// for several milliseconds, plus assists) was where the slowest requests
// were. Start raises GOGC just enough that the heap may reach a minimum
// size before the next cycle, and gives the default back once the live heap
// is large (many concurrent streams), so it never raises memory there.
package gctune

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
)

// Tuner adjusts GOGC after each collection. Stop it with Stop.
type Tuner struct {
	minHeap uint64
	base    int
	stopped atomic.Bool
	percent atomic.Int64
}

// Start tunes GOGC so that the heap goal is at least minHeap bytes and never
// below base percent (the operator's GOGC, usually 100). It returns nil, and
// tunes nothing, when minHeap <= 0 or base < 0 (GOGC=off).
func Start(minHeap int64, base int) *Tuner {
	if minHeap <= 0 || base < 0 {
		return nil
	}
	t := &Tuner{minHeap: uint64(minHeap), base: base}
	t.adjust()
	t.arm()
	return t
}

// Stop gives GOGC back to base. Safe on a nil Tuner.
func (t *Tuner) Stop() {
	if t == nil || t.stopped.Swap(true) {
		return
	}
	debug.SetGCPercent(t.base)
}

// Percent is the GOGC the tuner last set.
func (t *Tuner) Percent() int { return int(t.percent.Load()) }

// sentinel is an object whose finalizer runs after each collection that
// found it unreachable: the usual way to be called once per GC cycle. It is
// larger than the tiny allocator's 16 bytes, whose objects may never be
// finalized.
type sentinel struct{ _ [32]byte }

func (t *Tuner) arm() {
	runtime.SetFinalizer(&sentinel{}, func(*sentinel) {
		if t.stopped.Load() {
			return
		}
		t.adjust()
		t.arm()
	})
}

// adjust sets GOGC so that live*(1+GOGC/100) >= minHeap.
func (t *Tuner) adjust() {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	live := uint64(0)
	if s[0].Value.Kind() == metrics.KindUint64 {
		live = s[0].Value.Uint64()
	}
	p := Percent(live, t.minHeap, t.base)
	if int64(p) != t.percent.Load() {
		debug.SetGCPercent(p)
		t.percent.Store(int64(p))
	}
}

// maxPercent bounds GOGC for a nearly empty heap.
const maxPercent = 2000

// Percent is the GOGC that lets a heap of live bytes grow to minHeap before
// the next collection, never below base.
func Percent(live, minHeap uint64, base int) int {
	if live == 0 {
		return maxPercent
	}
	if live >= minHeap {
		return base
	}
	p := int((minHeap - live) * 100 / live)
	return max(base, min(p, maxPercent))
}

// CurrentPercent is the GOGC in effect (the GOGC environment variable's, or
// 100), or -1 when collection is off.
func CurrentPercent() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 || s[0].Value.Uint64() > maxPercent*1000 {
		return -1
	}
	return int(s[0].Value.Uint64())
}
