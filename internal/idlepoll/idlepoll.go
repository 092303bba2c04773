// Package idlepoll lets idle sockets wait with no goroutine of their own.
//
// A goroutine blocked reading an idle socket costs its stack (2 to 8 KiB)
// and its g, for as long as the socket is idle; at 10,000 tubes, each with
// a published port, that was a third of what the gateway held. A Poller
// is one epoll instance holding such sockets, which one goroutine waits
// on through Go's own network poller. A socket is armed for one wake-up;
// when it becomes readable (or hangs up, or fails) its wake function runs
// in a goroutine of its own, which reads it the usual way and arms it
// again once it is idle. Users: listenset (published ports' listeners)
// and the gateway's end of a WebSocket tube (bridge).
//
// It is Linux's: elsewhere New fails and callers keep a goroutine per
// socket.
package idlepoll

import (
	"errors"
	"log/slog"
	"sync"
	"syscall"
)

// ErrStopped is Arm's error once the poller is closed or has failed: the
// caller should wait for the socket the usual way.
var ErrStopped = errors.New("idlepoll: poller stopped")

// Poller wakes functions when idle sockets become readable.
type Poller struct {
	log *slog.Logger
	ep  *epoll

	mu      sync.Mutex
	watches map[uint64]*Watch
	nextID  uint64
	stopped bool
}

// New starts a poller and its goroutine; Close stops them.
func New(log *slog.Logger) (*Poller, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ep, err := newEpoll()
	if err != nil {
		return nil, err
	}
	p := &Poller{log: log, ep: ep, watches: make(map[uint64]*Watch)}
	go p.loop()
	return p, nil
}

// Close stops the poller. Sockets armed in it are woken, so that whoever
// waits for them reads them the usual way.
func (p *Poller) Close() error {
	if p == nil {
		return nil
	}
	p.stop()
	return p.ep.close()
}

// Watched returns the number of sockets in the poller: armed, or woken
// and not yet stopped or armed again.
func (p *Poller) Watched() int {
	if p == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.watches)
}

// stop marks the poller stopped and wakes every socket armed in it.
func (p *Poller) stop() (wasStopped bool) {
	p.mu.Lock()
	was, held := p.stopped, p.watches
	p.stopped, p.watches = true, make(map[uint64]*Watch)
	var woken []*Watch
	for _, w := range held {
		if w.armed {
			w.armed = false
			woken = append(woken, w)
		}
	}
	p.mu.Unlock()
	for _, w := range woken {
		go w.wake()
	}
	return was
}

// loop runs the wake function of each socket that becomes readable,
// until the poller is closed or fails.
func (p *Poller) loop() {
	for {
		ids, err := p.ep.wait()
		if err != nil {
			if !p.stop() {
				p.log.Error("idle sockets' poller failed; each now waits with a goroutine", "err", err)
			}
			return
		}
		p.mu.Lock()
		for _, id := range ids {
			if w := p.watches[id]; w != nil && w.armed {
				w.armed = false
				go w.wake()
			}
		}
		p.mu.Unlock()
	}
}

// Watch is one socket in a Poller.
type Watch struct {
	p    *Poller
	rc   syscall.RawConn
	wake func()
	id   uint64 // under p.mu
	// armed: a wake-up is asked for and has not run (under p.mu).
	armed bool

	mu    sync.Mutex // serializes the epoll_ctl calls
	added bool       // in the epoll instance
}

// Watch returns a watch of the socket under rc: each time it is armed and
// the socket is readable, hung up or failed, wake runs in a goroutine of
// its own. Stop it before the socket is closed.
func (p *Poller) Watch(rc syscall.RawConn, wake func()) *Watch {
	return &Watch{p: p, rc: rc, wake: wake}
}

// Arm asks for one wake-up, at once if the socket is readable now; wake
// runs once for each Arm that returns nil. Arm fails when the socket is
// closed, or with ErrStopped when the poller is: wake will not run, and
// the caller should wait for the socket the usual way.
func (w *Watch) Arm() error {
	p := w.p
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return ErrStopped
	}
	if w.id == 0 {
		p.nextID++
		w.id = p.nextID
	}
	p.watches[w.id] = w
	w.armed = true
	p.mu.Unlock()
	w.mu.Lock()
	var err error
	cerr := w.rc.Control(func(fd uintptr) {
		err = p.ep.arm(fd, w.id, !w.added)
		if err == nil {
			w.added = true
		}
	})
	w.mu.Unlock()
	if cerr == nil && err == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !w.armed {
		return nil // the poller stopped meanwhile, and woke it
	}
	w.armed = false
	if p.watches[w.id] == w {
		delete(p.watches, w.id)
	}
	if cerr != nil {
		return cerr
	}
	return err
}

// Stop takes the socket out of the poller while it is still open, so that
// it is this socket's registration that goes, not that of another socket
// given its descriptor later. It reports whether the socket was armed:
// if so, its wake-up will not run.
func (w *Watch) Stop() (wasArmed bool) {
	p := w.p
	p.mu.Lock()
	wasArmed, w.armed = w.armed, false
	if p.watches[w.id] == w {
		delete(p.watches, w.id)
	}
	p.mu.Unlock()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.added {
		w.rc.Control(func(fd uintptr) { p.ep.remove(fd) })
		w.added = false
	}
	return wasArmed
}
