// Package acceptloop keeps a listener accepting through errors that pass,
// as net/http.Server does: running out of descriptors (EMFILE, ENFILE) or
// kernel memory, or a connection aborted before it was accepted. Accept
// backs off (5 ms doubling to 1 s) and tries again instead of returning
// such an error, logs once per burst of them and counts each, so that no
// listener's hiccup ends a loop, an endpoint or the gateway.
package acceptloop

import (
	"errors"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

const (
	minDelay = 5 * time.Millisecond
	maxDelay = time.Second
)

// Counter counts one accept error of a listener kind ("http", "ssh",
// "forward"); the gateway feeds it to /metrics. A nil Counter counts
// nothing.
type Counter func(kind string)

func (c Counter) count(kind string) {
	if c != nil {
		c(kind)
	}
}

// Listener is a net.Listener whose Accept rides out temporary errors.
type Listener struct {
	net.Listener
	kind    string       // "http", "ssh", "forward": the metric's label
	log     *slog.Logger // without the listener's attributes: see logger
	metrics Counter

	closeOnce sync.Once
	closed    chan struct{}

	mu       sync.Mutex
	inBurst  int // errors since the last successful accept
	firstErr time.Time
}

// Wrap returns ln riding out temporary accept errors, logging to log (with
// the listener's address) and counting under kind.
func Wrap(ln net.Listener, kind string, log *slog.Logger, m Counter) *Listener {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Listener{
		Listener: ln,
		kind:     kind,
		log:      log,
		metrics:  m,
		closed:   make(chan struct{}),
	}
}

// Accept waits for the next connection. It returns an error only when the
// listener is closed or fails for good, or when a deadline set on it
// passes (that deadline is its caller's).
func (l *Listener) Accept() (net.Conn, error) {
	var delay time.Duration
	for {
		c, err := l.Listener.Accept()
		if err == nil {
			l.recovered()
			return c, nil
		}
		if errors.Is(err, os.ErrDeadlineExceeded) || !Temporary(err) {
			return nil, err
		}
		l.failed(err)
		delay = min(max(2*delay, minDelay), maxDelay)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-l.closed:
			t.Stop()
			return nil, net.ErrClosed
		}
	}
}

// Close closes the listener, also ending an Accept that is backing off.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

func (l *Listener) failed(err error) {
	l.metrics.count(l.kind)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inBurst++; l.inBurst == 1 {
		l.firstErr = time.Now()
		l.logger().Warn("accept failing; backing off and retrying", "err", err)
	}
}

func (l *Listener) recovered() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inBurst > 0 {
		l.logger().Info("accept recovered", "errors", l.inBurst, "after", time.Since(l.firstErr).Round(time.Millisecond))
		l.inBurst = 0
	}
}

// Temporary reports whether an accept error may pass: no descriptors or
// buffers left, a connection aborted or reset before it was accepted, or a
// timeout.
func Temporary(err error) bool {
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM,
		syscall.ECONNABORTED, syscall.ECONNRESET, syscall.EINTR, syscall.EAGAIN} {
		if errors.Is(err, e) {
			return true
		}
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// logger is the listener's logger with its kind and address. It is made
// only when there is something to log: a gateway holds two listeners for
// every published port, and the attributes would cost each of them half a
// KiB for its life.
func (l *Listener) logger() *slog.Logger {
	return l.log.With("listener", l.kind, "addr", l.Addr().String())
}
