// Package throttle limits failed password attempts per source address, so
// that guessing is slow and every wrong guess (a bcrypt each) cannot be
// used to exhaust the gateway's CPU: the web login, share links' basic
// auth and SSH password auth all count here.
package throttle

import (
	"net"
	"sync"
	"time"
)

// Failures counts failed attempts per source within a window. The zero
// value is not usable; make one with New.
type Failures struct {
	max    int
	window time.Duration

	mu    sync.Mutex
	fails map[string]*window
}

type window struct {
	n     int
	start time.Time
}

// New allows max failures per source in each window.
func New(max int, per time.Duration) *Failures {
	return &Failures{max: max, window: per, fails: make(map[string]*window)}
}

// Allowed reports whether source may try again at now.
func (f *Failures) Allowed(source string, now time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := f.fails[source]
	return w == nil || now.Sub(w.start) > f.window || w.n < f.max
}

// Failed records a failed attempt from source at now.
func (f *Failures) Failed(source string, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, w := range f.fails { // keep the map small
		if now.Sub(w.start) > f.window {
			delete(f.fails, k)
		}
	}
	w := f.fails[source]
	if w == nil {
		w = &window{start: now}
		f.fails[source] = w
	}
	w.n++
}

// Source is the address attempts are counted by: the IP of a host:port,
// or the whole string when it is not one.
func Source(remote string) string {
	if host, _, err := net.SplitHostPort(remote); err == nil {
		return host
	}
	return remote
}
