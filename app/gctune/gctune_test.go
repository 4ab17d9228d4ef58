package gctune

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	for _, c := range []struct {
		live, min  uint64
		base, want int
	}{
		{10 << 20, 64 << 20, 100, 540},
		{32 << 20, 64 << 20, 100, 100},
		{40 << 20, 64 << 20, 100, 100}, // 60%: the base wins
		{80 << 20, 64 << 20, 100, 100},
		{80 << 20, 64 << 20, 200, 200},
		{1 << 10, 64 << 20, 100, maxPercent},
		{0, 64 << 20, 100, maxPercent},
	} {
		if got := Percent(c.live, c.min, c.base); got != c.want {
			t.Errorf("Percent(%d, %d, %d) = %d, want %d", c.live, c.min, c.base, got, c.want)
		}
	}
}

func gogc() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}

// waitGOGC collects until the tuner's finalizer has set GOGC as cond wants.
func waitGOGC(t *testing.T, cond func(int) bool) int {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		runtime.GC()
		time.Sleep(10 * time.Millisecond) // the finalizer goroutine runs after the cycle
		if g := gogc(); cond(g) {
			return g
		}
	}
	t.Fatalf("GOGC stayed %d", gogc())
	return 0
}

// TestTunerFollowsLiveHeap: with a small live heap GOGC is raised; with a
// live heap above the minimum it is the base again; Stop restores the base.
func TestTunerFollowsLiveHeap(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	tu := Start(256<<20, 100)
	defer tu.Stop()
	if g := waitGOGC(t, func(g int) bool { return g > 100 }); g != tu.Percent() {
		t.Fatalf("GOGC %d, tuner says %d", g, tu.Percent())
	}
	live := make([][]byte, 0, 40)
	for range 40 { // 320 MB live, above the minimum
		b := make([]byte, 8<<20)
		for i := range b {
			b[i] = 1
		}
		live = append(live, b)
	}
	waitGOGC(t, func(g int) bool { return g == 100 })
	runtime.KeepAlive(live)
	live = nil
	waitGOGC(t, func(g int) bool { return g > 100 })
	tu.Stop()
	if g := gogc(); g != 100 {
		t.Fatalf("after Stop GOGC = %d", g)
	}
}

func TestStartDisabled(t *testing.T) {
	if Start(0, 100) != nil || Start(64<<20, -1) != nil {
		t.Fatal("a disabled tuner started")
	}
	var nilTuner *Tuner
	nilTuner.Stop()
}
