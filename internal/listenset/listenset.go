// Package listenset serves many TCP listeners with one goroutine while they
// are idle.
//
// A gateway holds a listener for every published port (two for a loopback
// one), and most of them are idle most of the time. A goroutine blocked in
// Accept on each costs its stack and its g, about 2.5 KiB a listener, which
// at 10,000 tubes is a tenth of what the gateway holds. A Set keeps its
// idle listeners in an idlepoll.Poller, whose one goroutine waits for all
// of them. When a listener has a connection waiting, a goroutine is
// started that accepts with the listener's ordinary Accept (the caller's
// limits and back-off included) for as long as connections keep coming,
// and the listener goes back to the poller once it has been idle for the
// set's linger. A busy listener is served exactly as a plain accept loop
// would serve it.
//
// Elsewhere than Linux, or with a nil Set or Poller, each listener has its
// own goroutine.
package listenset

import (
	"errors"
	"net"
	"os"
	"time"

	"github.com/tubegate/tubegate/internal/idlepoll"
)

// DefaultLinger is how long a listener's goroutine waits for another
// connection before the listener goes back to the set.
const DefaultLinger = time.Second

// Set serves listeners with one goroutine while they are idle. A nil *Set
// is valid: each of its listeners has its own goroutine.
type Set struct {
	poll   *idlepoll.Poller // nil: a goroutine per listener
	linger time.Duration
}

// New returns a set whose idle listeners wait in poll (nil: each keeps a
// goroutine), going back to it after linger without a connection
// (DefaultLinger when 0).
func New(poll *idlepoll.Poller, linger time.Duration) *Set {
	if linger <= 0 {
		linger = DefaultLinger
	}
	return &Set{poll: poll, linger: linger}
}

// Listener is a TCP listener served by a Set. Close it, not the
// listener it was made from.
type Listener struct {
	*net.TCPListener
	set   *Set
	watch *idlepoll.Watch // nil: served by a goroutine of its own

	accept func() (net.Conn, error)
	handle func(net.Conn)
	failed func(error)
}

// Add makes raw a listener of s; Serve starts serving it.
func (s *Set) Add(raw *net.TCPListener) *Listener {
	return &Listener{TCPListener: raw, set: s}
}

// Serve starts serving l, once. accept is l's Accept as the caller wraps
// it (connection limits, back-off on errors that pass); it must return
// the error of l's own Accept when that is a deadline's. Each connection
// accept returns is passed to handle in the accepting goroutine, which
// should hand it on and return. failed is called, once, with the error
// that ended the listener, unless that was its being closed.
func (l *Listener) Serve(accept func() (net.Conn, error), handle func(net.Conn), failed func(error)) {
	l.accept, l.handle, l.failed = accept, handle, failed
	if l.set == nil || l.set.poll == nil {
		go l.run(false)
		return
	}
	rc, err := l.TCPListener.SyscallConn()
	if err != nil {
		go l.run(false)
		return
	}
	l.watch = l.set.poll.Watch(rc, l.burst)
	if err := l.watch.Arm(); err != nil {
		go l.run(false) // closed already (it ends at once), or the poller stopped
	}
}

// burst serves l from a wake-up until it is idle, then arms it again.
func (l *Listener) burst() {
	if !l.run(true) {
		l.watch.Stop()
		return
	}
	if err := l.watch.Arm(); err != nil {
		l.run(false) // closed meanwhile (it ends at once), or the poller stopped
	}
}

// run accepts until l is closed or fails (false) or, lingering, until it
// has had no connection for the set's linger (true).
func (l *Listener) run(linger bool) (idle bool) {
	for {
		if linger {
			l.TCPListener.SetDeadline(time.Now().Add(l.set.linger))
		} else {
			l.TCPListener.SetDeadline(time.Time{}) // after a burst's
		}
		accepted := false
		for {
			c, err := l.accept()
			if err == nil {
				accepted = true
				l.handle(c)
				continue
			}
			if linger && errors.Is(err, os.ErrDeadlineExceeded) {
				break
			}
			if !errors.Is(err, net.ErrClosed) {
				l.failed(err)
			}
			return false
		}
		if !accepted {
			return true
		}
	}
}

// Close takes l out of its set and closes it; a burst serving it ends.
func (l *Listener) Close() error {
	if l.watch != nil {
		l.watch.Stop()
	}
	return l.TCPListener.Close()
}
