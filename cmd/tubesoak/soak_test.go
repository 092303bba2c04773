package main

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestPacerIssuesRateTimesElapsed(t *testing.T) {
	p := &pacer{rate: 1000}
	var total int64
	// Irregular ticks, one late by a whole second, one going backwards.
	for _, ms := range []int{1, 3, 10, 11, 500, 1500, 1499, 1510, 2000} {
		n := p.due(time.Duration(ms) * time.Millisecond)
		if n < 0 {
			t.Fatalf("due(%dms) = %d", ms, n)
		}
		total += n
	}
	if total != 2000 {
		t.Errorf("issued %d after 2 s at 1000/s, want 2000", total)
	}
}

func TestPoolCountsJobsItCouldNotStart(t *testing.T) {
	release := make(chan struct{})
	var ran sync.WaitGroup
	p := &pool{rate: 10000, workers: 1, tick: time.Millisecond, run: func(context.Context, int64) {
		ran.Add(1)
		defer ran.Done()
		<-release // the one worker stays busy
	}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.serve(ctx); close(done) }()
	for p.missed.Load() < 100 { // bounded: jobs are due every millisecond
		time.Sleep(time.Millisecond)
	}
	// While the worker is busy: one job running and one queued at most,
	// everything else was missed.
	s := p.started.Load()
	cancel()
	close(release)
	<-done
	if s < 1 || s > 2 {
		t.Errorf("started %d with one busy worker and a queue of one", s)
	}
}

// middlebox joins a originator-side pipe to a target-side pipe, passing
// each direction through a transform that sees the running offset.
func middlebox(t *testing.T, up, down func(off int, b []byte) ([]byte, bool)) (orig, target net.Conn) {
	o1, o2 := net.Pipe()
	t1, t2 := net.Pipe()
	pump := func(dst, src net.Conn, f func(int, []byte) ([]byte, bool)) {
		buf := make([]byte, 4096)
		off := 0
		for {
			n, err := src.Read(buf)
			if n > 0 {
				out, ok := f(off, buf[:n])
				off += n
				if !ok {
					dst.Close()
					src.Close()
					return
				}
				if out != nil {
					if _, werr := dst.Write(out); werr != nil {
						return
					}
				}
			}
			if err != nil {
				dst.Close()
				return
			}
		}
	}
	go pump(t1, o2, up)
	go pump(o2, t1, down)
	t.Cleanup(func() { o1.Close(); o2.Close(); t1.Close(); t2.Close() })
	return o1, t2
}

func pass(_ int, b []byte) ([]byte, bool) { return b, true }

// flipAt changes the byte at offset at.
func flipAt(at int) func(int, []byte) ([]byte, bool) {
	return func(off int, b []byte) ([]byte, bool) {
		if at >= off && at < off+len(b) {
			b[at-off] ^= 0x40
		}
		return b, true
	}
}

func runPair(t *testing.T, orig, target net.Conn, spec streamSpec) (o, a result) {
	w := newWatchdog(time.Hour)
	ch := make(chan result, 1)
	go func() { ch <- guard(w.watch(target), answer) }()
	o = guard(w.watch(orig), func(rw io.ReadWriter) result { return originate(rw, spec) })
	select {
	case a = <-ch:
	case <-time.After(time.Minute): // liveness bound only
		t.Fatal("target never finished")
	}
	return o, a
}

func TestStreamCheckerPassesAnIntactStream(t *testing.T) {
	orig, target := middlebox(t, pass, pass)
	o, a := runPair(t, orig, target, streamSpec{size: 300 << 10, seed: 7})
	if o.outcome != outcomeOK || a.outcome != outcomeOK {
		t.Fatalf("originator %v (%v), target %v (%v)", o.outcome, o.err, a.outcome, a.err)
	}
	if o.echoed != 300<<10 {
		t.Errorf("echoed %d", o.echoed)
	}
}

func TestStreamCheckerFindsAChangedByte(t *testing.T) {
	const size = 100 << 10
	// On the way to the target (after the header): both ends see it.
	orig, target := middlebox(t, flipAt(headerLen+5000), pass)
	o, a := runPair(t, orig, target, streamSpec{size: size, seed: 8})
	if o.outcome != outcomeCorrupted || a.outcome != outcomeCorrupted {
		t.Errorf("byte changed going out: originator %v (%v), target %v (%v)", o.outcome, o.err, a.outcome, a.err)
	}
	// On the way back: the originator sees it in the echo.
	orig, target = middlebox(t, pass, flipAt(size-1))
	o, _ = runPair(t, orig, target, streamSpec{size: size, seed: 9})
	if o.outcome != outcomeCorrupted || !strings.Contains(o.err.Error(), "echo") {
		t.Errorf("byte changed coming back: originator %v (%v)", o.outcome, o.err)
	}
}

func TestStreamCheckerFailsACutStream(t *testing.T) {
	cut := func(off int, b []byte) ([]byte, bool) { return b, off < 20000 }
	orig, target := middlebox(t, cut, pass)
	o, a := runPair(t, orig, target, streamSpec{size: 100 << 10, seed: 10})
	if o.outcome != outcomeFailed || o.err == nil {
		t.Errorf("originator %v (%v), want failed with an error", o.outcome, o.err)
	}
	if a.outcome != outcomeFailed {
		t.Errorf("target %v (%v), want failed", a.outcome, a.err)
	}
}

func TestStreamCheckerCallsAFrozenStreamStalled(t *testing.T) {
	frozen := make(chan struct{})
	defer close(frozen)
	freeze := func(off int, b []byte) ([]byte, bool) {
		if off > 30000 {
			<-frozen // holds the bytes and never passes them on
		}
		return b, true
	}
	orig, target := middlebox(t, freeze, pass)
	go answer(target)
	w := newWatchdog(200 * time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.run(ctx)
	o := guard(w.watch(orig), func(rw io.ReadWriter) result { return originate(rw, streamSpec{size: 1 << 20, seed: 11}) })
	if o.outcome != outcomeStalled || !strings.Contains(o.err.Error(), "no byte moved") {
		t.Errorf("originator %v (%v), want stalled", o.outcome, o.err)
	}
}

func TestWithinTwoPercent(t *testing.T) {
	for _, c := range []struct {
		base, cur float64
		ok        bool
	}{
		{100, 100, true}, {100, 102, true}, {100, 98, true}, {100, 103, false}, {100, 97, false},
		{12, 12, true}, {12, 13, true}, {12, 11, true}, {12, 14, false}, {12, 10, false},
		{10000, 10150, true}, {10000, 10201, false},
	} {
		if got := within(c.base, c.cur, baselinePct); got != c.ok {
			t.Errorf("within(%v, %v, 2%%) = %v", c.base, c.cur, got)
		}
	}
}

func TestAwaitBaseline(t *testing.T) {
	base := usage{fds: 12, goroutines: 14}
	readings := []usage{{fds: 500, goroutines: 900}, {fds: 14, goroutines: 14}, {fds: 12, goroutines: 14}}
	i := 0
	read := func(context.Context) (usage, error) {
		u := readings[min(i, len(readings)-1)]
		i++
		return u, nil
	}
	got, err := awaitBaseline(context.Background(), base, read, time.Minute, time.Millisecond)
	if err != nil || got != base || i != 3 {
		t.Errorf("got %v, %v after %d readings; want the baseline after 3", got, err, i)
	}

	stuck := func(context.Context) (usage, error) { return usage{fds: 12, goroutines: 16}, nil }
	_, err = awaitBaseline(context.Background(), base, stuck, 20*time.Millisecond, time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "baseline 12 fds, 14 goroutines, now 12 fds, 16 goroutines") {
		t.Errorf("err = %v, want both numbers", err)
	}

	broken := func(context.Context) (usage, error) { return usage{}, errors.New("refused") }
	if _, err = awaitBaseline(context.Background(), base, broken, 5*time.Millisecond, time.Millisecond); err == nil {
		t.Error("no error when /metrics cannot be read")
	}
}

func TestHeapLimitAllowsPeakGoroutinesAndSlack(t *testing.T) {
	base := float64(4 << 20)
	if got, want := heapLimit(base, 0), base+heapSlack; got != want {
		t.Errorf("heapLimit(4 MiB, 0) = %.0f, want %.0f", got, want)
	}
	// 10,000 peak goroutines allow 10,000 KiB more.
	if got, want := heapLimit(base, 10000), base+heapSlack+10000*1024; got != want {
		t.Errorf("heapLimit(4 MiB, 10000) = %.0f, want %.0f", got, want)
	}
}
