// Package proxyprotocol reads the PROXY protocol (v1 and v2, as HAProxy
// and cloud load balancers send it) on a TCP listener, from trusted proxies
// only: a connection from a trusted proxy must open with a PROXY header, and
// its client address becomes the connection's RemoteAddr; a connection from
// anyone else that opens with one is refused, so that nobody can claim
// another address. Headers are parsed by github.com/pires/go-proxyproto.
package proxyprotocol

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	pp "github.com/pires/go-proxyproto"
)

// Signatures of a PROXY header: v1 is text, v2 binary.
var (
	sigV1 = []byte("PROXY ")
	sigV2 = []byte("\r\n\r\n\x00\r\nQUIT\n")
)

// ErrUntrusted is the error reading a connection that opened with a PROXY
// header although its peer is not a trusted proxy.
var ErrUntrusted = errors.New("PROXY protocol header from an address that is not a trusted proxy")

// Listener applies the rules above to the connections of a net.Listener.
// Make one with Wrap.
type Listener struct {
	net.Listener
	trusted func(netip.Addr) bool
	timeout time.Duration
	log     *slog.Logger
}

// Wrap returns ln reading PROXY headers from the peers trusted approves.
// A trusted peer has timeout to send its header.
func Wrap(ln net.Listener, trusted func(netip.Addr) bool, timeout time.Duration, log *slog.Logger) *Listener {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Listener{Listener: ln, trusted: trusted, timeout: timeout, log: log}
}

// Accept returns the next connection. Nothing is read here: the header
// is read by the connection's first RemoteAddr, Read or Write, in the
// goroutine that serves it, so a slow peer never holds up the others.
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	peer := addrOf(c.RemoteAddr())
	if peer.IsValid() && l.trusted(peer) {
		inner := pp.NewConn(c, pp.WithPolicy(pp.REQUIRE), pp.SetReadHeaderTimeout(l.timeout))
		return &fromProxy{Conn: inner, pc: inner, proxy: c.RemoteAddr(), log: l.log}, nil
	}
	return &direct{Conn: c, log: l.log}, nil
}

func addrOf(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(ta.IP)
		return ip.Unmap()
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// fromProxy is a connection from a trusted proxy.
type fromProxy struct {
	net.Conn
	pc    *pp.Conn
	proxy net.Addr
	log   *slog.Logger

	once sync.Once
	err  error
}

// check reads the header once; without a valid one the connection is
// closed and the refusal logged.
func (c *fromProxy) check() error {
	c.once.Do(func() {
		if c.pc.ProxyHeader() != nil {
			return
		}
		// The header could not be had: its error is what every read returns.
		if _, err := c.pc.Read(nil); err != nil {
			c.err = fmt.Errorf("PROXY protocol header from trusted proxy %s: %w", c.proxy, err)
		} else {
			c.err = fmt.Errorf("PROXY protocol header from trusted proxy %s: none", c.proxy)
		}
		c.log.Warn("ssh connection refused: a trusted proxy sent no valid PROXY header (--ssh-proxy-protocol)",
			"proxy", c.proxy.String(), "err", c.err)
		c.pc.Close()
	})
	return c.err
}

// RemoteAddr is the client's address from the header (the proxy's own for
// a LOCAL header, as its health checks send).
func (c *fromProxy) RemoteAddr() net.Addr {
	if c.check() != nil {
		return c.proxy
	}
	return c.pc.RemoteAddr()
}

func (c *fromProxy) Read(b []byte) (int, error) {
	if err := c.check(); err != nil {
		return 0, err
	}
	return c.pc.Read(b)
}

func (c *fromProxy) Write(b []byte) (int, error) {
	if err := c.check(); err != nil {
		return 0, err
	}
	return c.pc.Write(b)
}

// direct is a connection from anyone else: it must not open with a PROXY
// header. Its first reads are looked at until they cannot be one.
type direct struct {
	net.Conn
	log *slog.Logger

	mu      sync.Mutex
	decided bool
	pending []byte // read while deciding, not yet returned
	err     error
}

func (c *direct) Read(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pending) > 0 {
		n := copy(b, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	if c.err != nil {
		return 0, c.err
	}
	if c.decided {
		return c.Conn.Read(b)
	}
	var buf [len("\r\n\r\n\x00\r\nQUIT\n")]byte
	for !c.decided {
		n, err := c.Conn.Read(buf[:len(buf)-len(c.pending)])
		c.pending = append(c.pending, buf[:n]...)
		switch {
		case bytes.HasPrefix(c.pending, sigV1) || bytes.HasPrefix(c.pending, sigV2):
			c.err, c.pending = ErrUntrusted, nil
			c.log.Warn("ssh connection refused: PROXY header from an address that is not a trusted proxy (--trusted-proxy)",
				"remote", c.Conn.RemoteAddr().String())
			c.Conn.Close()
			return 0, c.err
		case !bytes.HasPrefix(sigV1, c.pending[:min(len(c.pending), len(sigV1))]) &&
			!bytes.HasPrefix(sigV2, c.pending):
			c.decided = true
		}
		if err != nil {
			c.decided, c.err = true, err // what came first, then the error
		}
	}
	if len(c.pending) == 0 {
		return 0, c.err
	}
	n := copy(b, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}
