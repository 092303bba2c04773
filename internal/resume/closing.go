package resume

import (
	"net"
	"time"
)

// closeAfterAcked ends the stream as end(net.ErrClosed, code, reason)
// does, but only once the peer has acknowledged every byte written, or
// after wait, whichever comes first. A stream closed while its peer is
// away (or behind on its acks) would otherwise lose the bytes it had not
// yet received, and the peer coming back would find its tube gone. The
// owner's reads and writes fail with net.ErrClosed from now on.
func (e *endpoint) closeAfterAcked(code int, reason string, wait time.Duration) {
	e.mu.Lock()
	if e.err != nil || e.closedLocally {
		e.mu.Unlock()
		return
	}
	e.closedLocally = true
	e.broadcast() // the owner's reader and writers, waiting
	pending := e.sendBase < e.sendNext
	parked := e.unparkLocked()
	e.mu.Unlock()
	resumeParked(parked)
	if !pending {
		e.end(net.ErrClosed, code, reason)
		return
	}
	go func() {
		deadline := time.Now().Add(wait)
		e.mu.Lock()
		e.waitWr++ // acks wake the waiters of writes
		for e.err == nil && e.sendBase < e.sendNext && e.waitLocked(deadline) {
		}
		e.waitWr--
		e.mu.Unlock()
		e.end(net.ErrClosed, code, reason)
	}()
}
