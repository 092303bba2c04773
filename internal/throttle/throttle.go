// Package throttle limits password checks, so that guessing is slow and
// guesses (a bcrypt each) cannot be used to exhaust the gateway's CPU: the
// web login, share links' basic auth and SSH password auth all go through
// one Failures. Each source address has a budget of wrong passwords per
// window; an attempt takes its slot of the budget before its check runs
// (so parallel guesses cannot all pass a check of the count made before
// any of them failed) and gives it back when the password was right. And
// however many sources guess at once, only as many checks run at a time
// as the machine has CPUs.
package throttle

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ErrThrottled is returned by Check when the source has used up its
// wrong passwords for the window.
var ErrThrottled = errors.New("too many wrong passwords from this address")

// Failures counts failed attempts per source within a window and bounds
// the checks that run at once. The zero value is not usable; make one
// with New.
type Failures struct {
	max    int
	window time.Duration
	slots  chan struct{} // one token per check running

	shared Shared // nil: counted in fails

	checks    *prometheus.CounterVec // nil: not measured
	throttled *prometheus.CounterVec

	mu        sync.Mutex
	fails     map[string]*window
	lastPrune time.Time
}

// Shared keeps the counts of a cluster's nodes in one place, so that
// guesses sent to several nodes add up to one budget. It has the
// semantics of the in-process count: a window starts with a source's first
// attempt and lasts the window; Reserve takes one attempt of source's
// budget (ok false when none is left) and names the window it counted in;
// Refund gives the attempt back, unless that window has ended since.
type Shared interface {
	Reserve(ctx context.Context, source string, max int, window time.Duration) (id string, ok bool, err error)
	Refund(ctx context.Context, source, id string) error
}

// ErrUncounted is returned by Check when the shared count cannot be
// reached (the cluster's Redis is down): the password is not checked, as
// an attempt that could not be counted might be one guess too many.
var ErrUncounted = errors.New("password attempts cannot be counted")

// WithShared counts attempts in s (a cluster's Redis) rather than in this
// process. The bound on checks running at once stays this process's.
func WithShared(s Shared) Option {
	return func(f *Failures) { f.shared = s }
}

// Local returns a Failures with f's budget, bound on checks running at
// once and metrics, that counts in this process only: for checks that only
// this node can answer (a resume token is good only on the node holding
// its tube), which should go on while the shared count is unreachable.
func (f *Failures) Local() *Failures {
	return &Failures{max: f.max, window: f.window, slots: f.slots, checks: f.checks, throttled: f.throttled,
		fails: make(map[string]*window)}
}

// sharedTimeout bounds each call to the shared count.
const sharedTimeout = 3 * time.Second

// window is one source's attempts since start: the wrong ones and the
// ones being checked.
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
			Help: "Password checks run (one bcrypt each), by path: web, share, ssh; and resume token checks (path resume).",
		}, []string{"path"})
		f.throttled = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tubegate_password_throttled_total",
			Help: "Password attempts refused without a check (too many wrong passwords from the source), by path.",
		}, []string{"path"})
		reg.MustRegister(f.checks, f.throttled)
	}
}

// WithConcurrency lets n checks run at once (default: runtime.NumCPU()).
func WithConcurrency(n int) Option {
	return func(f *Failures) { f.slots = make(chan struct{}, max(n, 1)) }
}

// DefaultMax wrong passwords per source in each DefaultWindow is the
// gateway's default budget (OpenSSH's MaxAuthTries is per connection; this
// one is per address, across connections and paths).
const (
	DefaultMax    = 10
	DefaultWindow = time.Minute
)

// Default is New(DefaultMax, DefaultWindow, opts...): the throttle a
// component uses when it is given none to share.
func Default(opts ...Option) *Failures {
	return New(DefaultMax, DefaultWindow, opts...)
}

// New allows max failures per source in each window.
func New(max int, per time.Duration, opts ...Option) *Failures {
	f := &Failures{max: max, window: per, fails: make(map[string]*window)}
	WithConcurrency(runtime.NumCPU())(f)
	for _, o := range opts {
		o(f)
	}
	return f
}

// Check runs check, a password check that reports whether the password
// was right, on behalf of source. The attempt is counted against source
// before check runs, and refunded if the password was right; when source
// has no attempts left, check does not run and Check returns
// ErrThrottled. A check waits for its turn among all the gateway's checks
// for as long as ctx allows. path names the caller in metrics ("web",
// "share", "ssh").
func (f *Failures) Check(ctx context.Context, path, source string, check func() bool) (bool, error) {
	if f.shared != nil {
		return f.checkShared(ctx, path, source, check)
	}
	w := f.reserve(source, time.Now())
	if w == nil {
		f.count(f.throttled, path)
		return false, ErrThrottled
	}
	select {
	case f.slots <- struct{}{}:
	case <-ctx.Done():
		f.refund(source, w)
		return false, fmt.Errorf("waiting to check a password: %w", context.Cause(ctx))
	}
	ok := f.run(path, check)
	if ok {
		f.refund(source, w)
	}
	return ok, nil
}

// checkShared is Check with the count in f.shared.
func (f *Failures) checkShared(ctx context.Context, path, source string, check func() bool) (bool, error) {
	rctx, cancel := context.WithTimeout(ctx, sharedTimeout)
	id, ok, err := f.shared.Reserve(rctx, source, f.max, f.window)
	cancel()
	if err != nil {
		f.count(f.throttled, path)
		return false, fmt.Errorf("%w: %w", ErrUncounted, err)
	}
	if !ok {
		f.count(f.throttled, path)
		return false, ErrThrottled
	}
	refund := func() {
		// The caller may be gone; the refund is still owed. A refund
		// that fails leaves one attempt counted: the safe side.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sharedTimeout)
		defer cancel()
		f.shared.Refund(rctx, source, id)
	}
	select {
	case f.slots <- struct{}{}:
	case <-ctx.Done():
		refund()
		return false, fmt.Errorf("waiting to check a password: %w", context.Cause(ctx))
	}
	ok = f.run(path, check)
	if ok {
		refund()
	}
	return ok, nil
}

// run runs check in the slot taken for it.
func (f *Failures) run(path string, check func() bool) bool {
	defer func() { <-f.slots }()
	f.count(f.checks, path)
	return check()
}

func (f *Failures) count(c *prometheus.CounterVec, path string) {
	if c != nil {
		c.WithLabelValues(path).Inc()
	}
}

// reserve takes one attempt of source's budget at now and returns the
// window it counts in, or nil when none is left.
func (f *Failures) reserve(source string, now time.Time) *window {
	f.mu.Lock()
	defer f.mu.Unlock()
	if now.Sub(f.lastPrune) > f.window { // keep the map small
		for k, w := range f.fails {
			if now.Sub(w.start) > f.window {
				delete(f.fails, k)
			}
		}
		f.lastPrune = now
	}
	w := f.fails[source]
	if w == nil || now.Sub(w.start) > f.window {
		w = &window{start: now}
		f.fails[source] = w
	}
	if w.n >= f.max {
		return nil
	}
	w.n++
	return w
}

// refund gives back an attempt reserved in w, unless w has ended since.
func (f *Failures) refund(source string, w *window) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fails[source] != w {
		return
	}
	if w.n--; w.n <= 0 {
		delete(f.fails, source)
	}
}

// Source is the address attempts and handshakes are counted by, for every
// path (web, share links, SSH): the IP of a host:port such as
// http.Request.RemoteAddr or net.Addr.String(), or the whole string when
// it is not one.
func Source(remote string) string {
	if host, _, err := net.SplitHostPort(remote); err == nil {
		return host
	}
	return remote
}
