// Package connlimit caps the connections a listener holds open at once,
// per source address and in total. Connections past a cap are closed as
// soon as they are accepted, logged once per burst and counted, so that one
// client (or many) cannot hold every descriptor and goroutine the gateway
// has with idle or slow connections.
package connlimit

import (
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Config sets the caps. Zero means no cap.
type Config struct {
	// PerSource caps the connections open at once from one IP address.
	PerSource int
	// Total caps the connections open at once from everyone.
	Total int
	// Exempt reports whether a source is not held to PerSource (a trusted
	// reverse proxy carries many clients). Nil: none is.
	Exempt func(netip.Addr) bool
	// Log receives one line per burst of refusals (nil: no log).
	Log *slog.Logger
	// Quiet is how long without refusals ends a burst (default 5s).
	Quiet time.Duration
}

// Reasons a connection is refused, as counted by Refused.
const (
	ReasonPerSource = "per_source"
	ReasonTotal     = "total"
)

// Listener is a net.Listener that holds to Config's caps. Make one with Wrap.
type Listener struct {
	net.Listener
	cfg Config

	mu       sync.Mutex
	open     int
	bySource map[netip.Addr]int
	burst    *burst // nil between bursts

	refusedPerSource atomic.Uint64
	refusedTotal     atomic.Uint64
}

// burst gathers the refusals logged as one line.
type burst struct {
	timer *time.Timer
	last  time.Time
	n     map[string]int // refusals by reason since the first, logged one
}

// Wrap returns ln with cfg's caps.
func Wrap(ln net.Listener, cfg Config) *Listener {
	if cfg.Quiet <= 0 {
		cfg.Quiet = 5 * time.Second
	}
	return &Listener{Listener: ln, cfg: cfg, bySource: make(map[netip.Addr]int)}
}

// Accept returns the next connection within the caps; connections past
// them are closed here and never returned. Errors of the underlying
// listener are returned as they are, so that the server's back-off on
// temporary errors applies.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		src := sourceOf(c.RemoteAddr())
		if reason := l.admit(src); reason != "" {
			l.refused(reason, src) // counted before the peer can see the close
			c.Close()
			continue
		}
		return &conn{Conn: c, l: l, src: src}, nil
	}
}

// Open returns the number of connections open now.
func (l *Listener) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// Refused returns how many connections were refused for reason
// (ReasonPerSource or ReasonTotal) since the start.
func (l *Listener) Refused(reason string) uint64 {
	switch reason {
	case ReasonPerSource:
		return l.refusedPerSource.Load()
	case ReasonTotal:
		return l.refusedTotal.Load()
	}
	return 0
}

// Close closes the listener and ends a burst's pending log line.
func (l *Listener) Close() error {
	l.mu.Lock()
	if l.burst != nil {
		l.burst.timer.Stop()
		l.burst = nil
	}
	l.mu.Unlock()
	return l.Listener.Close()
}

// admit counts a new connection from src, or says why it may not open.
// Both caps are checked and counted under one lock.
func (l *Listener) admit(src netip.Addr) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cfg.Total > 0 && l.open >= l.cfg.Total {
		return ReasonTotal
	}
	perSource := l.cfg.PerSource > 0 && (l.cfg.Exempt == nil || !l.cfg.Exempt(src))
	if perSource && l.bySource[src] >= l.cfg.PerSource {
		return ReasonPerSource
	}
	l.open++
	l.bySource[src]++
	return ""
}

func (l *Listener) release(src netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if l.bySource[src]--; l.bySource[src] <= 0 {
		delete(l.bySource, src)
	}
}

// refused counts a refusal and logs the first of a burst; the rest of the
// burst is summed up in one line once it has been quiet for cfg.Quiet.
func (l *Listener) refused(reason string, src netip.Addr) {
	if reason == ReasonTotal {
		l.refusedTotal.Add(1)
	} else {
		l.refusedPerSource.Add(1)
	}
	if l.cfg.Log == nil {
		return
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.burst != nil {
		l.burst.n[reason]++
		l.burst.last = now
		return
	}
	l.cfg.Log.Warn("connection refused: too many open connections", "reason", reason, "remote", src.String(),
		"max_per_source", l.cfg.PerSource, "max_total", l.cfg.Total)
	b := &burst{last: now, n: map[string]int{}}
	b.timer = time.AfterFunc(l.cfg.Quiet, func() { l.endBurst(b) })
	l.burst = b
}

// endBurst logs what a burst refused after its first line, once quiet.
func (l *Listener) endBurst(b *burst) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.burst != b {
		return
	}
	if wait := l.cfg.Quiet - time.Since(b.last); wait > 0 {
		b.timer.Reset(wait)
		return
	}
	l.burst = nil
	if n := b.n[ReasonPerSource] + b.n[ReasonTotal]; n > 0 {
		l.cfg.Log.Warn("connections refused in that burst, after the first", "per_source", b.n[ReasonPerSource],
			"total", b.n[ReasonTotal])
	}
}

// sourceOf is the IP a connection is counted by (an unspecified address
// for anything that has none, such as a Unix socket).
func sourceOf(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		if ip, ok := netip.AddrFromSlice(ta.IP); ok {
			return ip.Unmap()
		}
	}
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// conn gives its slot back when closed, once.
type conn struct {
	net.Conn
	l    *Listener
	src  netip.Addr
	once sync.Once
}

func (c *conn) Close() error {
	c.once.Do(func() { c.l.release(c.src) })
	return c.Conn.Close()
}

// NetConn returns the accepted connection underneath, for code that needs
// its concrete type.
func (c *conn) NetConn() net.Conn { return c.Conn }
