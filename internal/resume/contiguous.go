package resume

import (
	"net"
	"os"
)

// ReadContiguous returns the next n received bytes where they lie whole
// in one received message, consumed, without a copy: the SSH transport
// opens a packet from there into its own buffer (x/crypto patch 0017)
// instead of reading it out first. It waits as Read does while nothing has
// been received; it returns nil, consuming nothing, when the next n bytes
// are not whole in the first message (Read them then). The bytes stay
// valid until the next Read, ReadContiguous or WriteTo: the message they
// are in goes back to its pool then.
func (e *endpoint) ReadContiguous(n int) ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.releaseHeldLocked()
	for {
		if e.closedLocally {
			return nil, net.ErrClosed
		}
		if len(e.readQ) > 0 {
			q := &e.readQ[0]
			if n <= 0 || len(q.b) < n {
				return nil, nil
			}
			b := q.b[:n:n]
			if n == len(q.b) {
				e.held = *q
				*q = queued{}
				if e.readQ = e.readQ[1:]; len(e.readQ) == 0 {
					e.readQ = nil
				}
			} else {
				q.b = q.b[n:]
			}
			e.readQLen -= n
			if e.stall {
				e.broadcast()
			}
			return b, nil
		}
		if e.err != nil {
			return nil, e.err
		}
		if expired(e.rdl) || !e.waitLocked(e.rdl) {
			return nil, os.ErrDeadlineExceeded
		}
	}
}

// releaseHeldLocked gives back the message ReadContiguous returned the
// end of, now that its bytes are done with; e.mu is held.
func (e *endpoint) releaseHeldLocked() {
	if e.held.release != nil {
		e.held.release(e.held.msg)
	}
	e.held = queued{}
}

// ReadContiguous returns the gateway's next n bytes without a copy where
// they lie whole in one message (see endpoint.ReadContiguous).
func (c *Conn) ReadContiguous(n int) ([]byte, error) { return c.e.ReadContiguous(n) }

// ReadContiguous returns the client's next n bytes without a copy where
// they lie whole in one message (see endpoint.ReadContiguous).
func (s *Session) ReadContiguous(n int) ([]byte, error) { return s.e.ReadContiguous(n) }
