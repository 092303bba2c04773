package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// watchdog notices streams on which no byte has moved, in either
// direction, for its timeout: it marks such a stream stalled and closes
// it. A stalled stream is a failure of the soak whatever else happens to
// it; closing it only frees what it holds.
type watchdog struct {
	timeout time.Duration
	// onStall, if set, runs (in the background) on every sweep that marks
	// streams stalled, before they are closed: the soak takes goroutine
	// dumps there, so that a stall can be read as a cycle.
	onStall func(n int)
	mu      sync.Mutex
	live    map[*watched]struct{}
}

func newWatchdog(timeout time.Duration) *watchdog {
	return &watchdog{timeout: timeout, live: make(map[*watched]struct{})}
}

// watched is one stream's connection under the watchdog. It counts a Read
// or Write that moved bytes as progress.
type watched struct {
	io.ReadWriteCloser
	w       *watchdog
	last    atomic.Int64 // unix nanoseconds of the last progress
	stalled atomic.Bool
	fired   chan struct{} // closed when marked stalled
}

// watch puts c under the watchdog until release.
func (w *watchdog) watch(c io.ReadWriteCloser) *watched {
	s := &watched{ReadWriteCloser: c, w: w, fired: make(chan struct{})}
	s.last.Store(time.Now().UnixNano())
	w.mu.Lock()
	w.live[s] = struct{}{}
	w.mu.Unlock()
	return s
}

func (s *watched) Read(p []byte) (int, error) {
	n, err := s.ReadWriteCloser.Read(p)
	if n > 0 {
		s.last.Store(time.Now().UnixNano())
	}
	return n, err
}

func (s *watched) Write(p []byte) (int, error) {
	n, err := s.ReadWriteCloser.Write(p)
	if n > 0 {
		s.last.Store(time.Now().UnixNano())
	}
	return n, err
}

// release takes the stream off the watchdog.
func (s *watched) release() {
	s.w.mu.Lock()
	delete(s.w.live, s)
	s.w.mu.Unlock()
}

// sweep marks every stream idle since before now-timeout as stalled,
// closes it (in the background: a Close can block on a stuck tube) and
// returns how many it marked.
func (w *watchdog) sweep(now time.Time) int {
	limit := now.Add(-w.timeout).UnixNano()
	var stalled []*watched
	w.mu.Lock()
	for s := range w.live {
		if s.last.Load() < limit {
			stalled = append(stalled, s)
			delete(w.live, s)
		}
	}
	w.mu.Unlock()
	for _, s := range stalled {
		s.stalled.Store(true)
		close(s.fired)
		go s.ReadWriteCloser.Close()
	}
	return len(stalled)
}

// run sweeps every second until ctx ends.
func (w *watchdog) run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if n := w.sweep(now); n > 0 && w.onStall != nil {
				w.onStall(n)
			}
		}
	}
}

// guard runs fn on s and returns its result; if the watchdog marks s
// stalled, it waits only a short grace for fn (which may be stuck for good
// on a frozen tube) and returns a stalled result.
func guard(s *watched, fn func(io.ReadWriter) result) result {
	done := make(chan result, 1)
	go func() {
		r := fn(s)
		s.release()
		s.ReadWriteCloser.Close()
		done <- r
	}()
	stalled := func(r result) result {
		r.outcome = outcomeStalled
		r.err = fmt.Errorf("no byte moved for %v (then: %v)", s.w.timeout, r.err)
		return r
	}
	select {
	case r := <-done:
		if s.stalled.Load() {
			return stalled(r)
		}
		return r
	case <-s.fired:
	}
	select {
	case r := <-done:
		return stalled(r)
	case <-time.After(5 * time.Second):
		return stalled(result{err: errors.New("stuck even after close")})
	}
}
