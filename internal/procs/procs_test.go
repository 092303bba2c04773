package procs

import (
	"slices"
	"testing"
	"time"
)

func TestNext(t *testing.T) {
	th := thresholds{up: upBusy, down: downBusy}
	for _, c := range []struct {
		cur, max    int
		busy        float64
		mayGiveBack bool
		want        int
	}{
		{1, 8, 0.0, true, 1},   // idle: one P
		{1, 8, 0.75, true, 1},  // a busy tube at one P (0.69–0.77 in the bench): stays
		{1, 8, 0.95, true, 2},  // one P kept busy: two
		{2, 8, 1.9, true, 4},   // two kept busy: four
		{4, 6, 3.8, true, 6},   // no more than max
		{6, 6, 6.0, true, 6},   // at max
		{2, 8, 0.8, true, 2},   // two Ps, less than a core but more than 0.75 of one: stays
		{2, 8, 0.5, true, 1},   // fits in one P: one
		{8, 8, 2.0, true, 3},   // fits in three at 0.75: three
		{8, 8, 2.0, false, 8},  // but not while Ps may not be given back
		{4, 8, 2.5, true, 4},   // fits in four, not in three at 0.75: stays
		{1, 1, 5.0, true, 1},   // a single CPU
		{3, 8, 0.0, true, 1},   // idle again
		{2, 8, 1.85, false, 4}, // Ps are added during a hold
	} {
		if got := next(c.cur, c.max, c.busy, th, c.mayGiveBack); got != c.want {
			t.Errorf("next(cur %d, max %d, busy %.2f, mayGiveBack %v) = %d, want %d", c.cur, c.max, c.busy, c.mayGiveBack, got, c.want)
		}
	}
}

// fakeLoad is a process whose CPU time the test sets.
type fakeLoad struct {
	cpu   time.Duration
	procs int
	sets  []int
}

func (f *fakeLoad) cpuTime() (time.Duration, bool) { return f.cpu, true }

func (f *fakeLoad) setProcs(n int) int {
	was := f.procs
	if n > 0 {
		f.procs = n
		f.sets = append(f.sets, n)
	}
	return was
}

func TestAdapterFollowsTheLoad(t *testing.T) {
	f := &fakeLoad{procs: 8}
	a := newAdapter(Options{Interval: time.Second, Hold: 3 * time.Second}, f.cpuTime, f.setProcs)
	if a.max != 8 {
		t.Fatalf("max %d, want the GOMAXPROCS at start (8)", a.max)
	}
	now := time.Unix(1000, 0)
	a.start(now)
	if f.procs != 1 {
		t.Fatalf("started with %d Ps, want 1", f.procs)
	}
	step := func(busy float64, want int) {
		t.Helper()
		now = now.Add(time.Second)
		f.cpu += time.Duration(busy * float64(time.Second))
		a.tick(now)
		if f.procs != want {
			t.Fatalf("after a second at %.2f cores busy: %d Ps, want %d (set so far: %v)", busy, f.procs, want, f.sets)
		}
	}
	step(0.7, 1) // a tube in bulk
	step(0.95, 2)
	step(1.9, 4)
	step(3.9, 8)
	step(0.1, 8) // held: the load may come back at once
	step(0.1, 8)
	step(0.1, 1) // the hold is over: one P
	step(0.1, 1)
	step(1.0, 2)
	if want := []int{1, 2, 4, 8, 1, 2}; !slices.Equal(f.sets, want) {
		t.Fatalf("GOMAXPROCS set %v, want %v (each change once)", f.sets, want)
	}
}
