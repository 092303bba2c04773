// Package procs sizes the Go runtime's GOMAXPROCS to the process's load.
//
// A gateway whose tubes keep less than a core busy runs its Go code best
// on one P: with more, each goroutine the runtime readies (a packet
// handed from one goroutine to the next) also wakes a second thread to
// look for work, and data sealed on one core is written from another,
// a quarter of the CPU per byte on a busy tube (docs/performance.md, the
// sixteenth round of issue 15). A gateway with more work than a core
// needs its cores. Adapt starts at one P and doubles the Ps while the
// process keeps them busy, and gives them back when the load would fit
// in fewer.
package procs

import (
	"context"
	"log/slog"
	"math"
	"os"
	"runtime"
	"time"
)

// Options tunes Adapt. The zero value is what the gateway uses.
type Options struct {
	// Max is the most Ps (default: GOMAXPROCS when Adapt starts, the
	// runtime's default of one per CPU or the cgroup's limit).
	Max int
	// Interval is how often the load is read (default 500 ms).
	Interval time.Duration
	// Hold is how long after adding Ps none are given back (default 5 s).
	Hold time.Duration
	// Log gets a line at debug level for each change (default: none).
	Log *slog.Logger
}

const (
	// upBusy: Ps busy above this share of their time are too few.
	upBusy = 0.9
	// downBusy: a load below this share of fewer Ps' time fits in them.
	downBusy = 0.75
)

// thresholds are the shares of the Ps' time that add Ps (up) and give
// them back (down).
type thresholds struct{ up, down float64 }

// next returns the Ps for a load of busy CPU seconds per second (the
// process's, system calls included) with cur Ps, at most most: twice as
// many when busy is at least th.up of cur, as few as hold busy at th.down
// of them when that is fewer (and Ps may be given back), else cur.
func next(cur, most int, busy float64, th thresholds, mayGiveBack bool) int {
	switch {
	case busy >= th.up*float64(cur) && cur < most:
		return min(2*cur, most)
	case mayGiveBack && cur > 1 && busy < th.down*float64(cur-1):
		return max(1, int(math.Ceil(busy/th.down)))
	}
	return cur
}

// Adapt sizes GOMAXPROCS to the load until ctx ends (see the package
// comment), and then leaves it as it is. It changes nothing when
// GOMAXPROCS is set in the environment (the operator's choice), on a
// single CPU, or where the process's CPU time cannot be read. Setting
// GOMAXPROCS ends the runtime's own tracking of a container's CPU limit,
// so the most Ps are the runtime's default when Adapt starts.
func Adapt(ctx context.Context, o Options) {
	if envSet() {
		return
	}
	if _, ok := cpuTime(); !ok {
		return
	}
	newAdapter(o, cpuTime, runtime.GOMAXPROCS).run(ctx)
}

// run is Adapt's loop.
func (a *adapter) run(ctx context.Context) {
	if a.max < 2 {
		return
	}
	t := time.NewTicker(a.interval)
	defer t.Stop()
	a.start(time.Now())
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			a.tick(now)
		}
	}
}

// adapter is Adapt's state, with the process's CPU time and GOMAXPROCS
// as functions for tests.
type adapter struct {
	max      int
	interval time.Duration
	hold     time.Duration
	log      *slog.Logger
	th       thresholds
	cpu      func() (time.Duration, bool)
	setProcs func(int) int

	cur     int
	lastCPU time.Duration
	lastAt  time.Time
	upAt    time.Time
}

func newAdapter(o Options, cpu func() (time.Duration, bool), setProcs func(int) int) *adapter {
	a := &adapter{max: o.Max, interval: o.Interval, hold: o.Hold, log: o.Log, cpu: cpu, setProcs: setProcs,
		th: thresholds{up: upBusy, down: downBusy}}
	if a.max <= 0 {
		a.max = setProcs(0)
	}
	if a.interval <= 0 {
		a.interval = 500 * time.Millisecond
	}
	if a.hold <= 0 {
		a.hold = 5 * time.Second
	}
	return a
}

// start sets one P and takes the first reading.
func (a *adapter) start(now time.Time) {
	a.cur = 1
	a.setProcs(1)
	a.lastCPU, _ = a.cpu()
	a.lastAt = now
}

// tick reads the load since the last tick and sets the Ps it needs.
func (a *adapter) tick(now time.Time) {
	c, ok := a.cpu()
	wall := now.Sub(a.lastAt)
	if !ok || wall <= 0 {
		return
	}
	busy := float64(c-a.lastCPU) / float64(wall)
	a.lastCPU, a.lastAt = c, now
	n := next(a.cur, a.max, busy, a.th, now.Sub(a.upAt) >= a.hold)
	if n == a.cur {
		return
	}
	if n > a.cur {
		a.upAt = now
	}
	if a.log != nil {
		a.log.Debug("GOMAXPROCS", "from", a.cur, "to", n, "busy", math.Round(busy*100)/100)
	}
	a.cur = n
	a.setProcs(n)
}

// envSet reports whether GOMAXPROCS is set in the environment: the
// operator's choice, which neither Adapt nor One overrides.
func envSet() bool { return os.Getenv("GOMAXPROCS") != "" }

// One runs the process's Go code on one P, unless GOMAXPROCS is set in
// the environment. A client carries one tube, whose goroutines are bound
// by system calls and hand work to each other: with more Ps, each
// hand-off also wakes a second thread to look for work, CPU spent for
// nothing on a busy machine. OpenSSH's ssh is one thread too.
// Measured in docs/performance.md (`gateway connect`, the eighth round
// of issue 15; `gateway tunnel`, the sixteenth).
func One() {
	if !envSet() {
		runtime.GOMAXPROCS(1)
	}
}
