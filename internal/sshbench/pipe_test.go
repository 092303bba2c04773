package sshbench

import (
	"io"
	"net"
	"sync"
	"time"
)

// halfPipe is one direction of bufPipe: writes never wait for the reader,
// as over a socket, so both SSH ends can send their version at once (over
// net.Pipe they would wait for each other forever).
type halfPipe struct {
	mu     sync.Mutex
	cond   *sync.Cond
	buf    []byte
	closed bool
}

func newHalfPipe() *halfPipe {
	h := &halfPipe{}
	h.cond = sync.NewCond(&h.mu)
	return h
}

func (h *halfPipe) read(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for len(h.buf) == 0 && !h.closed {
		h.cond.Wait()
	}
	if len(h.buf) == 0 {
		return 0, io.EOF
	}
	n := copy(p, h.buf)
	h.buf = h.buf[n:]
	return n, nil
}

func (h *halfPipe) write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return 0, io.ErrClosedPipe
	}
	h.buf = append(h.buf, p...)
	h.cond.Broadcast()
	return len(p), nil
}

func (h *halfPipe) close() {
	h.mu.Lock()
	h.closed = true
	h.cond.Broadcast()
	h.mu.Unlock()
}

// pipeConn is one end of bufPipe.
type pipeConn struct{ in, out *halfPipe }

func (c *pipeConn) Read(p []byte) (int, error)       { return c.in.read(p) }
func (c *pipeConn) Write(p []byte) (int, error)      { return c.out.write(p) }
func (c *pipeConn) Close() error                     { c.in.close(); c.out.close(); return nil }
func (c *pipeConn) LocalAddr() net.Addr              { return pipeAddr{} }
func (c *pipeConn) RemoteAddr() net.Addr             { return pipeAddr{} }
func (c *pipeConn) SetDeadline(time.Time) error      { return nil }
func (c *pipeConn) SetReadDeadline(time.Time) error  { return nil }
func (c *pipeConn) SetWriteDeadline(time.Time) error { return nil }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// bufPipe is an in-memory, buffered, full-duplex connection, which works
// under js/wasm too (no sockets there).
func bufPipe() (net.Conn, net.Conn) {
	a, b := newHalfPipe(), newHalfPipe()
	return &pipeConn{in: a, out: b}, &pipeConn{in: b, out: a}
}
