package usage

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/llmgw/gateway/app/store"
	"github.com/llmgw/gateway/models"
)

// loopState is owned by the writer goroutine; nothing else touches it.
type loopState struct {
	buf     []*models.RequestLog // FIFO: taken from q, not yet written
	waiters []waiter             // Flush calls, in queue order
	due     bool                 // FlushInterval elapsed: write even a partial batch
	closing bool                 // Close called: write everything, then exit

	failures  int       // consecutive failed writes
	retryAt   time.Time // no write before this (backoff)
	lastErr   error
	lastDrops int64     // Dropped() at the last drop report
	reportAt  time.Time // earliest next drop report
}

// waiter is a Flush call; it is answered once the ahead rows before it in
// buf have been written or dropped.
type waiter struct {
	ahead int
	lost  bool // some of those rows were dropped
	ch    chan error
}

func (w *Writer) run() {
	defer close(w.done)
	st := &loopState{buf: make([]*models.RequestLog, 0, w.opts.BatchSize)}
	ticker := time.NewTicker(w.opts.FlushInterval)
	defer ticker.Stop()
	retry := time.NewTimer(0)
	<-retry.C
	stop := w.stop

	for {
		w.drain(st, w.opts.BatchSize)
		if st.closing && len(st.buf) == 0 && len(w.q) == 0 {
			// No Enqueue can send any more (closed is set), so this is final.
			w.resolveAll(st, nil)
			return
		}
		if w.shouldWrite(st) {
			if !time.Now().Before(st.retryAt) {
				w.writeHead(st)
				if st.failures > 0 {
					retry.Reset(time.Until(st.retryAt))
				}
				// Under sustained load the loop may not reach the select
				// (and its ticker) for a while, yet that is when rows drop.
				w.reportDrops(st)
				continue
			}
		}
		select {
		case it := <-w.q:
			w.add(st, it)
		case <-ticker.C:
			st.due = len(st.buf) > 0
			w.reportDrops(st)
		case <-retry.C:
			// retryAt has passed; the loop re-evaluates.
		case <-stop:
			st.closing = true
			stop = nil // a nil channel is never ready: stop selecting it
		case <-w.abort:
			w.giveUp(st)
			return
		}
	}
}

// shouldWrite: a full batch is always written; a partial one once the
// interval elapsed, a Flush waits, or Close was called.
func (w *Writer) shouldWrite(st *loopState) bool {
	n := len(st.buf)
	return n >= w.opts.BatchSize || (n > 0 && (st.due || st.closing || len(st.waiters) > 0))
}

// drain moves up to max queued items into the state without blocking, so
// a busy queue fills whole batches instead of one select per row.
func (w *Writer) drain(st *loopState, max int) {
	for range max {
		select {
		case it := <-w.q:
			w.add(st, it)
		default:
			return
		}
	}
}

func (w *Writer) add(st *loopState, it item) {
	if it.flush != nil {
		if len(st.buf) == 0 {
			it.flush <- nil
			return
		}
		st.waiters = append(st.waiters, waiter{ahead: len(st.buf), ch: it.flush})
		return
	}
	st.buf = append(st.buf, it.log)
	// While writes fail the buffer grows; past the bound, drop the oldest
	// rows: recent usage is worth more, and memory must stay bounded.
	if over := len(st.buf) - w.opts.QueueSize; over > 0 {
		w.complete(st, over, true)
	}
}

// writeHead writes the first batch of buf. On a data error (the database
// rejects the rows themselves, so a retry can never succeed) it writes the
// rows one by one and drops only the rejected ones; on any other error it
// keeps the rows and backs off.
func (w *Writer) writeHead(st *loopState) {
	n := min(len(st.buf), w.opts.BatchSize)
	err := w.bw.write(w.ctx, st.buf[:n])
	if err == nil {
		w.succeeded(st, n)
		return
	}
	if store.IsDataError(err) {
		w.log.Error("usage: database rejected a batch, writing its rows one by one", "err", err, "rows", n)
		for i := 0; i < n; i++ {
			row := st.buf[0]
			err := w.bw.write(w.ctx, st.buf[:1])
			switch {
			case err == nil:
				w.succeeded(st, 1)
			case store.IsDataError(err):
				w.log.Error("usage: dropping a request log row the database rejects",
					"log_id", row.ID, "request_id", truncate(row.RequestID, 64), "err", err)
				w.complete(st, 1, true)
			default:
				w.failed(st, err)
				return
			}
		}
		return
	}
	w.failed(st, err)
}

func (w *Writer) succeeded(st *loopState, n int) {
	if st.failures > 0 {
		w.log.Info("usage: database writes recovered", "failed_attempts", st.failures)
	}
	st.failures, st.retryAt, st.lastErr = 0, time.Time{}, nil
	w.written.Add(int64(n))
	w.complete(st, n, false)
	if len(st.buf) == 0 {
		st.due = false
	}
}

func (w *Writer) failed(st *loopState, err error) {
	st.failures++
	st.lastErr = err
	// Exponential backoff with jitter, so replicas do not retry in step.
	d := min(minBackoff<<min(st.failures-1, 16), maxBackoff)
	d = d/2 + rand.N(d/2+1)
	st.retryAt = time.Now().Add(d)
	if w.ctx.Err() != nil {
		return // Close gave up: the in-flight write was cancelled on purpose
	}
	w.log.Error("usage: writing request logs failed, will retry",
		"err", err, "attempt", st.failures, "retry_in", d, "pending", w.pending.Load())
}

// complete removes n rows from the head of buf as written (dropped=false)
// or dropped, updating counters and answering the Flush calls they block.
func (w *Writer) complete(st *loopState, n int, dropped bool) {
	m := copy(st.buf, st.buf[n:])
	clear(st.buf[m:]) // drop stale pointers so the GC can have the rows
	st.buf = st.buf[:m]
	w.pending.Add(-int64(n))
	if dropped {
		w.dropped.Add(int64(n))
	}
	kept := st.waiters[:0]
	for _, wt := range st.waiters {
		if dropped {
			wt.lost = true // n > 0 rows ahead of it were dropped
		}
		wt.ahead -= n
		if wt.ahead > 0 {
			kept = append(kept, wt)
			continue
		}
		if wt.lost {
			wt.ch <- ErrDropped
		} else {
			wt.ch <- nil
		}
	}
	st.waiters = kept
}

func (w *Writer) resolveAll(st *loopState, err error) {
	for _, wt := range st.waiters {
		wt.ch <- err
	}
	st.waiters = nil
}

// giveUp runs when Close's deadline expired: every row still held is
// dropped, counted and reported.
func (w *Writer) giveUp(st *loopState) {
	n := len(st.buf)
	for len(w.q) > 0 { // closed is set: nothing new can arrive
		if it := <-w.q; it.log != nil {
			n++
		} else {
			it.flush <- ErrDropped
		}
	}
	w.pending.Add(-int64(n))
	w.dropped.Add(int64(n))
	st.buf = nil
	w.resolveAll(st, ErrDropped)
	if n > 0 {
		w.closeErr = fmt.Errorf("usage: shutdown deadline expired with %d request log rows unwritten: %w", n, ErrDropped)
		w.log.Error("usage: dropping unwritten request logs at shutdown", "rows", n, "last_err", st.lastErr)
	}
}

// reportDrops logs, at most every dropReportEvery, how many rows were
// dropped since the last report: Enqueue itself must stay silent and fast.
func (w *Writer) reportDrops(st *loopState) {
	d := w.dropped.Load()
	if d == st.lastDrops || time.Now().Before(st.reportAt) {
		return
	}
	w.log.Warn("usage: request log rows dropped", "since_last_report", d-st.lastDrops,
		"total", d, "pending", w.pending.Load(), "last_err", errString(st.lastErr))
	st.lastDrops = d
	st.reportAt = time.Now().Add(dropReportEvery)
}

// truncate bounds a client-supplied value before it reaches a log line.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
