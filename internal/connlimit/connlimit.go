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

// Limiter counts the connections of one or more listeners against
// Config's caps: listeners wrapped by the same Limiter share its counts (a
// gateway's published ports, say, so that one source is capped across all
// of them). Make one with New.
type Limiter struct {
	cfg Config

	mu       sync.Mutex
	open     int
	bySource map[netip.Addr]int
	burst    *burst // nil between bursts

	refusedPerSource atomic.Uint64
	refusedTotal     atomic.Uint64
}

// Listener is a net.Listener that holds to its Limiter's caps. Make one
// with Wrap, or with a shared Limiter's Wrap.
type Listener struct {
	net.Listener
	*Limiter
	own bool // the Limiter is this listener's alone: Close ends its burst
}

// burst gathers the refusals logged as one line.
type burst struct {
	timer *time.Timer
	last  time.Time
	n     map[string]int // refusals by reason since the first, logged one
}

// New returns a Limiter with cfg's caps and nothing counted.
func New(cfg Config) *Limiter {
	if cfg.Quiet <= 0 {
		cfg.Quiet = 5 * time.Second
	}
	return &Limiter{cfg: cfg, bySource: make(map[netip.Addr]int)}
}

// Wrap returns ln with cfg's caps, counted for ln alone.
func Wrap(ln net.Listener, cfg Config) *Listener {
	return &Listener{Listener: ln, Limiter: New(cfg), own: true}
}

// Wrap returns ln held to l's caps, counted with every other listener l
// wraps.
func (l *Limiter) Wrap(ln net.Listener) *Listener {
	return &Listener{Listener: ln, Limiter: l}
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
		return &conn{Conn: c, l: l.Limiter, src: src}, nil
	}
}

// Close closes the listener and, if its Limiter is its own, ends a
// burst's pending log line. Connections it accepted stay counted until
// they close.
func (l *Listener) Close() error {
	if l.own {
		l.Stop()
	}
	return l.Listener.Close()
}

// Open returns the number of connections open now.
func (l *Limiter) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// Refused returns how many connections were refused for reason
// (ReasonPerSource or ReasonTotal) since the start.
func (l *Limiter) Refused(reason string) uint64 {
	switch reason {
	case ReasonPerSource:
		return l.refusedPerSource.Load()
	case ReasonTotal:
		return l.refusedTotal.Load()
	}
	return 0
}

// Stop ends a burst's pending log line (its timer) without logging it.
func (l *Limiter) Stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.burst != nil {
		l.burst.timer.Stop()
		l.burst = nil
	}
}

// admit counts a new connection from src, or says why it may not open.
// Both caps are checked and counted under one lock.
func (l *Limiter) admit(src netip.Addr) string {
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

func (l *Limiter) release(src netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if l.bySource[src]--; l.bySource[src] <= 0 {
		delete(l.bySource, src)
	}
}

// refused counts a refusal and logs the first of a burst; the rest of the
// burst is summed up in one line once it has been quiet for cfg.Quiet.
func (l *Limiter) refused(reason string, src netip.Addr) {
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
func (l *Limiter) endBurst(b *burst) {
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
	l    *Limiter
	src  netip.Addr
	once sync.Once
}

func (c *conn) Close() error {
	c.once.Do(func() { c.l.release(c.src) })
	return c.Conn.Close()
}

// CloseWrite half-closes the connection where the one underneath can
// (TCP), so that a forward carries a request/response protocol's end.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Close()
}

// NetConn returns the accepted connection underneath, for code that needs
// its concrete type.
func (c *conn) NetConn() net.Conn { return c.Conn }

// WriteThrough returns the connection its Write passes bytes to unchanged
// (writev.Wrapper): a writer may hand that one several buffers at once.
func (c *conn) WriteThrough() net.Conn { return c.Conn }

// ReadThrough returns the connection its Read passes straight to
// (idlepoll.ReadWrapper): an idle reader may wait for that one's socket.
func (c *conn) ReadThrough() net.Conn { return c.Conn }
