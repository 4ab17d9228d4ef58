package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// userHZ is the unit of the CPU times in /proc/<pid>/stat (USER_HZ, fixed at
// 100 on Linux for user space).
const userHZ = 100

// procCPU is the user+system CPU time a process has used so far.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may contain spaces: fields are counted after ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	return time.Duration(utime+stime) * time.Second / userHZ, nil
}

// procRSS is the resident set size of a process in bytes.
func procRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// usage is what a process used during a measured phase.
type usage struct {
	cpu      time.Duration
	rssStart int64 // bytes, when the phase began
	rssPeak  int64 // bytes, highest sample during the phase
}

// meter samples a process's RSS while a phase runs and diffs its CPU time.
type meter struct {
	pid      int
	cpu0     time.Duration
	rss0     int64
	peak     int64
	mu       sync.Mutex
	stop     chan struct{}
	finished chan struct{}
}

// startMeter begins measuring pid (pid ≤ 0: a no-op meter).
func startMeter(pid int) *meter {
	m := &meter{pid: pid, stop: make(chan struct{}), finished: make(chan struct{})}
	if pid <= 0 {
		close(m.finished)
		return m
	}
	m.cpu0, _ = procCPU(pid)
	m.rss0, _ = procRSS(pid)
	m.peak = m.rss0
	go func() {
		defer close(m.finished)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-t.C:
				if r, err := procRSS(pid); err == nil {
					m.mu.Lock()
					m.peak = max(m.peak, r)
					m.mu.Unlock()
				}
			}
		}
	}()
	return m
}

// done ends the phase; nil for a no-op meter.
func (m *meter) done() *usage {
	if m.pid <= 0 {
		return nil
	}
	close(m.stop)
	<-m.finished
	u := &usage{rssStart: m.rss0, rssPeak: m.peak}
	if r, err := procRSS(m.pid); err == nil {
		u.rssPeak = max(u.rssPeak, r)
	}
	if c, err := procCPU(m.pid); err == nil {
		u.cpu = c - m.cpu0
	}
	return u
}
