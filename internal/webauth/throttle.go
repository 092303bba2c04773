package webauth

import (
	"net"
	"sync"
	"time"
)

const (
	// maxFailures is how many wrong passwords one source may send per
	// failureWindow before its logins are refused for the rest of it.
	maxFailures   = 10
	failureWindow = time.Minute
)

// throttle counts failed logins per source address.
type throttle struct {
	mu    sync.Mutex
	fails map[string]*failures
}

type failures struct {
	n     int
	start time.Time
}

// allowed reports whether source may try a password now.
func (t *throttle) allowed(source string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.fails[source]
	return f == nil || now.Sub(f.start) > failureWindow || f.n < maxFailures
}

// failed records a wrong password from source.
func (t *throttle) failed(source string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.fails == nil {
		t.fails = make(map[string]*failures)
	}
	for k, f := range t.fails { // keep the map small
		if now.Sub(f.start) > failureWindow {
			delete(t.fails, k)
		}
	}
	f := t.fails[source]
	if f == nil {
		f = &failures{start: now}
		t.fails[source] = f
	}
	f.n++
}

// sourceOf is the IP of a request's remote address.
func sourceOf(remote string) string {
	if host, _, err := net.SplitHostPort(remote); err == nil {
		return host
	}
	return remote
}
