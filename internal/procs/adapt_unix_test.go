//go:build unix

package procs

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// TestAdaptRealLoad runs Adapt on this process: goroutines that burn
// CPU bring a second P, and it goes once they stop. The thresholds are
// low, so that a share of a loaded machine's core is enough.
func TestAdaptRealLoad(t *testing.T) {
	t.Setenv("GOMAXPROCS", "")
	was := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(was) })
	if _, ok := cpuTime(); !ok {
		t.Fatal("no process CPU time (getrusage)")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	a := newAdapter(Options{Max: 2, Interval: 50 * time.Millisecond, Hold: 200 * time.Millisecond}, cpuTime, runtime.GOMAXPROCS)
	a.th = thresholds{up: 0.3, down: 0.2}
	go func() { defer close(done); a.run(ctx) }()
	defer func() { cancel(); <-done }()

	waitProcs := func(want int, why string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for runtime.GOMAXPROCS(0) != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s: GOMAXPROCS %d after 20 s, want %d", why, runtime.GOMAXPROCS(0), want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitProcs(1, "at start")
	var stop atomic.Bool
	burned := make(chan struct{})
	for range 2 {
		go func() {
			defer func() { burned <- struct{}{} }()
			x := 0
			for !stop.Load() {
				x++
			}
			_ = x
		}()
	}
	waitProcs(2, "with two goroutines burning CPU")
	stop.Store(true)
	<-burned
	<-burned
	waitProcs(1, "idle again")
}
