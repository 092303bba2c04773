// Package listenset serves many TCP listeners with one goroutine while they
// are idle.
//
// A gateway holds a listener for every published port (two for a loopback
// one), and most of them are idle most of the time. A goroutine blocked in
// Accept on each costs its stack and its g, about 2.5 KiB a listener, which
// at 10,000 tubes is a tenth of what the gateway holds. On Linux a Set keeps
// its idle listeners in one epoll instance, which one goroutine waits on
// through Go's own network poller. When a listener has a connection
// waiting, the set starts a goroutine that accepts with the listener's
// ordinary Accept (the caller's limits and back-off included) for as long
// as connections keep coming, and hands the listener back to the set once
// it has been idle for the set's linger. A busy listener is served exactly
// as a plain accept loop would serve it.
//
// Elsewhere, or with a nil Set, each listener has its own goroutine.
package listenset

import (
	"errors"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"
)

// DefaultLinger is how long a listener's goroutine waits for another
// connection before the listener goes back to the set.
const DefaultLinger = time.Second

// Set serves listeners with one goroutine while they are idle. A nil *Set
// is valid: each of its listeners has its own goroutine.
type Set struct {
	log    *slog.Logger
	linger time.Duration
	poll   *poller // nil: a goroutine per listener

	mu     sync.Mutex
	byID   map[uint64]*Listener
	nextID uint64
	closed bool
}

// New starts a set whose listeners go back to it after linger without a
// connection (DefaultLinger when 0). Where the platform has no epoll, or one
// cannot be made, the set gives each listener its own goroutine and logs
// why.
func New(log *slog.Logger, linger time.Duration) *Set {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if linger <= 0 {
		linger = DefaultLinger
	}
	s := &Set{log: log, linger: linger, byID: make(map[uint64]*Listener)}
	p, err := newPoller()
	if err != nil {
		log.Warn("idle listeners each keep a goroutine", "err", err)
		return s
	}
	s.poll = p
	go s.loop()
	return s
}

// Watched returns the number of listeners in the set now, busy or idle;
// with no poller, always 0.
func (s *Set) Watched() int {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byID)
}

// Close ends the set's goroutine. Listeners idle in the set are no longer
// served (close them too); those in a burst carry on until they go idle.
func (s *Set) Close() error {
	if s == nil || s.poll == nil {
		return nil
	}
	s.mu.Lock()
	s.closed = true
	s.byID = make(map[uint64]*Listener)
	s.mu.Unlock()
	return s.poll.close()
}

// loop waits for listeners with a connection waiting and starts a burst
// on each, until the set is closed. Should the poller fail, every listener
// it held is given its own goroutine.
func (s *Set) loop() {
	for {
		ids, err := s.poll.wait()
		if err != nil {
			s.mu.Lock()
			closed, held := s.closed, s.byID
			s.closed, s.byID = true, make(map[uint64]*Listener)
			s.mu.Unlock()
			if !closed {
				s.log.Error("idle listeners' poller failed; each listener now keeps a goroutine", "err", err)
				for _, l := range held {
					go l.run(false)
				}
			}
			return
		}
		for _, id := range ids {
			s.mu.Lock()
			l := s.byID[id]
			s.mu.Unlock()
			if l != nil {
				go l.burst()
			}
		}
	}
}

// Listener is a TCP listener served by a Set. Close it, not the
// listener it was made from.
type Listener struct {
	*net.TCPListener
	set *Set
	id  uint64 // 0: not in the set's poller (see Serve)

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
	s := l.set
	if s == nil || s.poll == nil {
		go l.run(false)
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		go l.run(false)
		return
	}
	s.nextID++
	l.id = s.nextID
	s.byID[l.id] = l
	s.mu.Unlock()
	if err := l.arm(true); err != nil && s.forget(l) {
		go l.run(false) // closed already (it ends at once), or the poller refuses it
	}
}

// burst serves l from the set's wake-up until it is idle, then gives it
// back to the set.
func (l *Listener) burst() {
	if !l.run(true) {
		l.set.forget(l)
		return
	}
	if err := l.arm(false); err != nil && l.set.forget(l) {
		l.run(false) // closed meanwhile (it ends at once), or the poller refuses it
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

// arm puts l in the set's poller (first) or back in it after a burst.
func (l *Listener) arm(first bool) error {
	rc, err := l.TCPListener.SyscallConn()
	if err != nil {
		return err
	}
	var aerr error
	if err := rc.Control(func(fd uintptr) { aerr = l.set.poll.arm(fd, l.id, first) }); err != nil {
		return err
	}
	return aerr
}

// forget takes l out of the set's poller while its descriptor is still
// open, so that it is l's registration, and no other's, that goes. It
// reports whether the set held l.
func (s *Set) forget(l *Listener) bool {
	s.mu.Lock()
	in := l.id != 0 && s.byID[l.id] == l
	delete(s.byID, l.id)
	s.mu.Unlock()
	if !in {
		return false
	}
	if rc, err := l.TCPListener.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) { s.poll.remove(fd) })
	}
	return true
}

// Close takes l out of its set and closes it; a burst serving it ends.
func (l *Listener) Close() error {
	if l.set != nil && l.set.poll != nil {
		l.set.forget(l)
	}
	return l.TCPListener.Close()
}
