package bridge

import (
	"net"
	"sync"
	"time"
)

// fragmentSize is the size of golang.org/x/crypto/ssh's transport write
// buffer (a default bufio.Writer). The transport writes each packet
// through it and flushes once per packet, so a packet larger than the
// buffer reaches the connection as a write of exactly fragmentSize bytes
// (the full buffer) at once followed by the rest. Sent as is, every large
// packet costs two WebSocket messages (or two TCP writes) and the syscalls
// of each.
const fragmentSize = 4096

// fragmentHold bounds how long a fragment waits for the rest of its
// packet. The rest comes within microseconds; the timer only matters for
// the rare packet whose whole encrypted form is exactly fragmentSize bytes.
const fragmentHold = 500 * time.Microsecond

// maxHeld caps the bytes held back, so the buffer stays small.
const maxHeld = 4 * fragmentSize

// closeFlushWait bounds how long Close spends sending held bytes to a peer
// that does not read.
const closeFlushWait = time.Second

// heldPool recycles the buffers of held fragments: a connection holds one
// only between a fragment and the write that completes it.
var heldPool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// coalescer joins the fragments of one SSH packet into a single write of
// the underlying connection. Writes that are not fragments go through at
// once, so latency is unchanged.
type coalescer struct {
	write func([]byte) (int, error)
	hold  time.Duration // how long a fragment waits for the rest (0: fragmentHold)

	mu     sync.Mutex
	held   *[]byte // nil when nothing is held
	timer  *time.Timer
	err    error // a failed timed flush, returned by the next Write
	closed bool
}

// Write sends p, or holds it if it is a fragment of a larger packet.
func (c *coalescer) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, net.ErrClosed
	}
	if c.err != nil {
		return 0, c.err
	}
	if len(p) == fragmentSize && (c.held == nil || len(*c.held)+len(p) <= maxHeld) {
		if c.held == nil {
			c.held = heldPool.Get().(*[]byte)
		}
		*c.held = append(*c.held, p...)
		hold := c.hold
		if hold == 0 {
			hold = fragmentHold
		}
		if c.timer == nil {
			c.timer = time.AfterFunc(hold, c.flushHeld)
		} else {
			c.timer.Reset(hold)
		}
		return len(p), nil
	}
	if c.held == nil {
		return c.write(p)
	}
	c.timer.Stop()
	*c.held = append(*c.held, p...)
	_, err := c.send()
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// send writes and releases the held bytes; c.mu is held.
func (c *coalescer) send() (int, error) {
	n, err := c.write(*c.held)
	*c.held = (*c.held)[:0]
	heldPool.Put(c.held)
	c.held = nil
	return n, err
}

// flushHeld sends held bytes whose packet did not continue in time.
func (c *coalescer) flushHeld() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.held == nil {
		return
	}
	if _, err := c.send(); err != nil && c.err == nil {
		c.err = err
	}
}

// flushForClose sends the held bytes, if any, before the connection
// closes, and makes later writes fail. It takes at most closeFlushWait
// (a write deadline, through setDeadline), even when a write under way is
// stuck on a peer that does not read.
func (c *coalescer) flushForClose(setDeadline func(time.Time) error) {
	deadline := false
	if !c.mu.TryLock() { // a write is under way: it gives up by the deadline
		setDeadline(time.Now().Add(closeFlushWait))
		deadline = true
		c.mu.Lock()
	}
	defer c.mu.Unlock()
	c.closed = true
	if c.timer != nil {
		c.timer.Stop()
	}
	if c.held == nil {
		return
	}
	if !deadline {
		setDeadline(time.Now().Add(closeFlushWait))
	}
	c.send()
}

// CoalescePackets returns c with its writes of SSH packets coalesced, one
// write per packet (see fragmentSize): what the gateway wraps around plain
// TCP tubes. The WebSocket conns of this package do it themselves.
func CoalescePackets(c net.Conn) net.Conn {
	cc := &coalescedConn{Conn: c}
	cc.co.write = c.Write
	return cc
}

type coalescedConn struct {
	net.Conn
	co coalescer
}

func (c *coalescedConn) Write(p []byte) (int, error) { return c.co.Write(p) }

// Close sends held bytes (see flushForClose) and closes the connection.
func (c *coalescedConn) Close() error {
	c.co.flushForClose(c.Conn.SetWriteDeadline)
	return c.Conn.Close()
}
