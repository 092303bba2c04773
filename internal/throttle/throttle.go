// Package throttle limits failed password attempts per source address, so
// that guessing is slow and every wrong guess (a bcrypt each) cannot be
// used to exhaust the gateway's CPU: the web login, share links' basic
// auth and SSH password auth all count here.
package throttle

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ErrThrottled is returned by Check when the source has used up its
// wrong passwords for the window.
var ErrThrottled = errors.New("too many wrong passwords from this address")

// Failures counts failed attempts per source within a window. The zero
// value is not usable; make one with New.
type Failures struct {
	max    int
	window time.Duration

	checks    *prometheus.CounterVec // nil: not measured
	throttled *prometheus.CounterVec

	mu    sync.Mutex
	fails map[string]*window
}

type window struct {
	n     int
	start time.Time
}

// Option configures a Failures.
type Option func(*Failures)

// WithMetrics counts password checks and refusals, by path, in reg:
// tubegate_password_checks_total and tubegate_password_throttled_total.
func WithMetrics(reg prometheus.Registerer) Option {
	return func(f *Failures) {
		f.checks = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tubegate_password_checks_total",
			Help: "Password checks run (one bcrypt each), by path: web, share, ssh.",
		}, []string{"path"})
		f.throttled = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tubegate_password_throttled_total",
			Help: "Password attempts refused without a check (too many wrong passwords from the source), by path.",
		}, []string{"path"})
		reg.MustRegister(f.checks, f.throttled)
	}
}

// New allows max failures per source in each window.
func New(max int, per time.Duration, opts ...Option) *Failures {
	f := &Failures{max: max, window: per, fails: make(map[string]*window)}
	for _, o := range opts {
		o(f)
	}
	return f
}

// Check runs check, a password check that reports whether the password
// was right, on behalf of source, unless source has no attempts left.
// path names the caller in metrics ("web", "share", "ssh"). It returns
// ErrThrottled when the check was not run.
func (f *Failures) Check(ctx context.Context, path, source string, check func() bool) (bool, error) {
	if !f.allowed(source, time.Now()) {
		f.count(f.throttled, path)
		return false, ErrThrottled
	}
	f.count(f.checks, path)
	if check() {
		return true, nil
	}
	f.failed(source, time.Now())
	return false, nil
}

func (f *Failures) count(c *prometheus.CounterVec, path string) {
	if c != nil {
		c.WithLabelValues(path).Inc()
	}
}

// allowed reports whether source may try again at now.
func (f *Failures) allowed(source string, now time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := f.fails[source]
	return w == nil || now.Sub(w.start) > f.window || w.n < f.max
}

// failed records a failed attempt from source at now.
func (f *Failures) failed(source string, now time.Time) {
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
