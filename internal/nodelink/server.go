package nodelink

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/tubegate/tubegate/internal/forward"
)

// Routes of the link, under the node's own HTTP listener.
const (
	PathOpen  = "/cluster/v1/open"
	PathProbe = "/cluster/v1/probe"
	PathClose = "/cluster/v1/close"
)

// Query parameters: what the request is about (signed, with the headers).
const (
	qKey       = "key"
	qTube      = "tube"
	qOriginNet = "onet"
	qOrigin    = "origin"
)

// Mount adds the link's routes to r: GET /cluster/v1/open (the stream),
// POST /cluster/v1/probe and POST /cluster/v1/close. No route reads a
// body, so an unauthenticated request costs its headers only, whose read
// the HTTP server bounds (ReadHeaderTimeout).
func (l *Link) Mount(r chi.Router) {
	r.Get(PathOpen, l.serveOpen)
	r.Post(PathProbe, l.serveProbe)
	r.Post(PathClose, l.serveClose)
}

// Handler is the link's routes alone (tests, or a listener of their own).
func (l *Link) Handler() http.Handler {
	r := chi.NewRouter()
	l.Mount(r)
	return r
}

// claimOf is the claim of r before its auth headers are read.
func claimOf(r *http.Request) claim {
	q := r.URL.Query()
	return claim{method: r.Method, path: r.URL.Path, key: q.Get(qKey), tube: q.Get(qTube),
		originNet: q.Get(qOriginNet), origin: q.Get(qOrigin)}
}

// refuse answers a refused request, logs it and counts it.
func (l *Link) refuse(w http.ResponseWriter, r *http.Request, c claim, rf *refusal) {
	l.m.refuse(rf.reason)
	l.log.Warn("node link request refused", "reason", rf.reason, "status", rf.status, "path", r.URL.Path,
		"remote", r.RemoteAddr, "from", c.from, "key", c.key, "tube", c.tube, "err", rf.msg)
	http.Error(w, rf.msg, rf.status)
}

// authorize verifies r, answering and returning false if it is refused.
func (l *Link) authorize(w http.ResponseWriter, r *http.Request, c *claim) bool {
	if rf := l.verify(r, c, l.now()); rf != nil {
		l.refuse(w, r, *c, rf)
		return false
	}
	if l.cfg.Local == nil {
		l.refuse(w, r, *c, &refusal{http.StatusServiceUnavailable, reasonNoLocal, "node link: this node serves no endpoints"})
		return false
	}
	return true
}

// serveOpen delivers a peer's stream into the tube that holds the
// endpoint: it re-checks (through Local) that the tube still holds it,
// opens the forwarded-tcpip channel, and only then switches protocols,
// so that the caller learns of a refusal as an HTTP answer.
func (l *Link) serveOpen(w http.ResponseWriter, r *http.Request) {
	c := claimOf(r)
	if !l.authorize(w, r, &c) {
		return
	}
	if !headerHas(r.Header, "Connection", "upgrade") || !headerHas(r.Header, "Upgrade", Proto) {
		l.refuse(w, r, c, &refusal{http.StatusUpgradeRequired, reasonMalformed, "node link: open needs Upgrade: " + Proto})
		return
	}
	if !l.reserve(c.from) {
		l.refuse(w, r, c, &refusal{http.StatusTooManyRequests, reasonCap,
			fmt.Sprintf("node link: node %s holds %d streams here already (the cap)", c.from, l.cfg.MaxStreamsPerPeer)})
		return
	}
	defer l.release(c.from)
	log := l.log.With("from", c.from, "key", c.key, "tube", c.tube, "origin", c.origin)

	// The stream's context lives as long as the stream (Local may tie the
	// connection to it); only the open itself is timed.
	ctx, cancel := context.WithCancel(l.ctx)
	defer cancel()
	timer := time.AfterFunc(l.cfg.OpenTimeout, cancel)
	local, err := l.cfg.Local.OpenLocal(ctx, c.key, c.tube, originAddr(c.originNet, c.origin))
	timedOut := !timer.Stop()
	if err == nil && timedOut {
		local.Close()
		err = fmt.Errorf("delivery into tube %s took more than %v", c.tube, l.cfg.OpenTimeout)
	}
	if err != nil {
		status := http.StatusBadGateway
		if errors.Is(err, forward.ErrRefused) {
			status = http.StatusConflict
		}
		log.Info("node link stream not delivered", "status", status, "err", err)
		http.Error(w, err.Error(), status)
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		local.Close()
		log.Warn("node link stream: hijack failed", "err", err)
		http.Error(w, "node link: cannot switch protocols on this connection", http.StatusInternalServerError)
		return
	}
	// The request's deadlines are not the stream's (net/http clears them
	// on hijack too).
	conn.SetDeadline(time.Time{})
	brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " + Proto + "\r\n\r\n")
	if err := brw.Flush(); err != nil {
		conn.Close()
		local.Close()
		log.Info("node link stream: peer gone before the switch", "err", err)
		return
	}
	l.m.open("in")
	defer l.m.closed("in")
	log.Debug("node link stream in")
	pipe(ctx, newStreamConn(conn, brw.Reader, nil), local)
}

// pipe copies both ways until both are done (forward.Pipe, which
// half-closes and closes both), or ctx ends.
func pipe(ctx context.Context, a, b net.Conn) {
	stop := context.AfterFunc(ctx, func() { a.Close(); b.Close() })
	defer stop()
	forward.Pipe(a, b)
}

// reserve takes one of peer's stream slots.
func (l *Link) reserve(peer string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.perPeer[peer] >= l.cfg.MaxStreamsPerPeer {
		return false
	}
	l.perPeer[peer]++
	return true
}

func (l *Link) release(peer string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.perPeer[peer]--; l.perPeer[peer] <= 0 {
		delete(l.perPeer, peer)
	}
}

// serveProbe answers whether the tube still answers: 200 "alive" or
// "silent".
func (l *Link) serveProbe(w http.ResponseWriter, r *http.Request) {
	c := claimOf(r)
	if !l.authorize(w, r, &c) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), l.cfg.ProbeTimeout)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if l.cfg.Local.ProbeLocal(ctx, c.tube) {
		w.Write([]byte("alive\n"))
		return
	}
	w.Write([]byte("silent\n"))
}

// serveClose ends the tube: 204, or 500 with why not.
func (l *Link) serveClose(w http.ResponseWriter, r *http.Request) {
	c := claimOf(r)
	if !l.authorize(w, r, &c) {
		return
	}
	if err := l.cfg.Local.CloseLocal(c.tube); err != nil {
		l.log.Warn("node link: close tube failed", "from", c.from, "tube", c.tube, "err", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	l.log.Info("tube closed at a peer's request", "from", c.from, "tube", c.tube)
	w.WriteHeader(http.StatusNoContent)
}

// originAddr is the origin a peer sent: a TCP address when it is one.
func originAddr(network, addr string) net.Addr {
	if addr == "" {
		return nil
	}
	if ap, err := netip.ParseAddrPort(addr); err == nil && strings.HasPrefix(network, "tcp") {
		return net.TCPAddrFromAddrPort(ap)
	}
	return forward.Addr{Net: network, Address: addr}
}

// headerHas reports whether one of the comma-separated values of header
// name is token (case-insensitive).
func headerHas(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// streamConn is one end of a stream: the hijacked or dialled connection,
// first reading what its bufio.Reader already holds, and able to
// half-close through the wrappers the listener puts around it.
type streamConn struct {
	net.Conn
	r       *bufio.Reader // nil once drained
	onClose func()
	once    sync.Once
}

func newStreamConn(c net.Conn, r *bufio.Reader, onClose func()) *streamConn {
	s := &streamConn{Conn: c, onClose: onClose}
	if r != nil && r.Buffered() > 0 {
		s.r = r
	}
	return s
}

func (c *streamConn) Read(p []byte) (int, error) {
	if c.r != nil {
		if c.r.Buffered() > 0 {
			return c.r.Read(p)
		}
		c.r = nil
	}
	return c.Conn.Read(p)
}

// CloseWrite half-closes: a TCP FIN, or TLS close_notify. A connection
// that cannot is closed.
func (c *streamConn) CloseWrite() error {
	var nc net.Conn = c.Conn
	for {
		if cw, ok := nc.(interface{ CloseWrite() error }); ok {
			return cw.CloseWrite()
		}
		u, ok := nc.(interface{ NetConn() net.Conn })
		if !ok {
			return c.Close()
		}
		nc = u.NetConn()
	}
}

func (c *streamConn) Close() error {
	err := c.Conn.Close()
	if c.onClose != nil {
		c.once.Do(c.onClose)
	}
	return err
}
