package main

import (
	"bytes"
	"context"
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
func procCPU(pid int) (time.Duration, error) { return procTicks(pid, 14, 15) }

// procCPUWithChildren adds the CPU time of its children that have exited.
func procCPUWithChildren(pid int) (time.Duration, error) { return procTicks(pid, 14, 15, 16, 17) }

// procTicks sums fields (1-based, as in proc(5)) of /proc/<pid>/stat.
func procTicks(pid int, fields ...int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may contain spaces: fields are counted after ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:])) // f[0] is field 3
	var sum int64
	for _, n := range fields {
		if n-3 >= len(f) {
			return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
		}
		v, err := strconv.ParseInt(f[n-3], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
		}
		sum += v
	}
	return time.Duration(sum) * time.Second / userHZ, nil
}

// machineCPU is the busy and total CPU time of all cores since boot (/proc/stat).
func machineCPU() (busy, total time.Duration, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return 0, 0, fmt.Errorf("unexpected /proc/stat")
	}
	var idle int64
	for i, x := range f[1:] {
		v, _ := strconv.ParseInt(x, 10, 64)
		if i >= 8 { // guest time is already counted in user time
			break
		}
		total += time.Duration(v)
		if i == 3 || i == 4 { // idle, iowait
			idle += v
		}
	}
	busy = total - time.Duration(idle)
	return busy * time.Second / userHZ, total * time.Second / userHZ, nil
}

// cpuWatch tells how busy the machine was while a scenario ran, and how much
// of that was the benchmark's own processes (this one and its children,
// counted once they have exited).
type cpuWatch struct{ busy, total, ours, pg time.Duration }

func watchCPU() cpuWatch {
	var w cpuWatch
	w.busy, w.total, _ = machineCPU()
	w.ours, _ = procCPUWithChildren(os.Getpid())
	w.pg = postgresCPU()
	return w
}

// postgresCPU is the CPU time of a local PostgreSQL server: its live
// processes plus, through the postmaster, the backends that have exited.
func postgresCPU() time.Duration {
	dirs, _ := os.ReadDir("/proc")
	comm := map[int]string{}
	parent := map[int]int{}
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		lp, rp := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
		if lp < 0 || rp < lp {
			continue
		}
		comm[pid] = string(b[lp+1 : rp])
		if f := strings.Fields(string(b[rp+1:])); len(f) > 1 {
			parent[pid], _ = strconv.Atoi(f[1])
		}
	}
	var sum time.Duration
	for pid, c := range comm {
		if c != "postgres" {
			continue
		}
		fields := []int{14, 15}
		if comm[parent[pid]] != "postgres" { // the postmaster
			fields = append(fields, 16, 17)
		}
		if t, err := procTicks(pid, fields...); err == nil {
			sum += t
		}
	}
	return sum
}

// note describes the time since w; "" if /proc could not be read.
func (w cpuWatch) note() string {
	now := watchCPU()
	busy, total, ours, pg := now.busy-w.busy, now.total-w.total, now.ours-w.ours, now.pg-w.pg
	if total <= 0 || w.total == 0 {
		return ""
	}
	return fmt.Sprintf("Machine CPU during the scenario: %.0f%% busy (%.1f of %.1f core-seconds): the benchmark's processes %.1f, "+
		"PostgreSQL (all its databases) %.1f, anything else (noise) %.1f.", 100*float64(busy)/float64(total), busy.Seconds(), total.Seconds(),
		ours.Seconds(), pg.Seconds(), max(busy-ours-pg, 0).Seconds())
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

// add folds another phase of the same process into u (rounds of one target).
func (u *usage) add(v *usage) *usage {
	if u == nil {
		return v
	}
	if v != nil {
		u.cpu += v.cpu
		u.rssPeak = max(u.rssPeak, v.rssPeak)
	}
	return u
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

// busyShare is the share (0..1) of all cores busy during d.
func busyShare(d time.Duration) float64 {
	b0, t0, err := machineCPU()
	if err != nil {
		return 0
	}
	time.Sleep(d)
	b1, t1, err := machineCPU()
	if err != nil || t1 <= t0 {
		return 0
	}
	return float64(b1-b0) / float64(t1-t0)
}

// waitQuiet waits, up to limit, until other processes leave the machine
// mostly idle (at most threshold of all cores busy over 2 s): timings taken
// while something else compiles are mostly noise. It returns the last
// measured share.
func waitQuiet(ctx context.Context, threshold float64, limit time.Duration) float64 {
	deadline := time.Now().Add(limit)
	for {
		share := busyShare(2 * time.Second)
		if share <= threshold || time.Now().After(deadline) || ctx.Err() != nil {
			return share
		}
		progress("machine is %.0f%% busy with other work; waiting for it to calm down (up to %s)", 100*share, time.Until(deadline).Round(time.Second))
	}
}
