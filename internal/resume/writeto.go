package resume

import (
	"errors"
	"io"
	"os"
)

// WriteTo writes the received bytes to w as they arrive, each message from
// the buffer it was received in, until the peer ends the stream (it then
// returns a nil error) or w or the tube fails. It is what io.Copy uses:
// a relay saves the copy that Read makes into its own buffer.
func (e *endpoint) WriteTo(w io.Writer) (int64, error) {
	var total int64
	e.mu.Lock()
	defer e.mu.Unlock()
	e.releaseHeldLocked()
	for {
		if len(e.readQ) > 0 {
			q := e.readQ[0]
			e.readQ[0] = queued{}
			e.readQ = e.readQ[1:]
			if len(e.readQ) == 0 {
				e.readQ = nil
			}
			e.mu.Unlock()
			n, err := w.Write(q.b)
			if q.release != nil {
				q.release(q.msg)
			}
			e.mu.Lock()
			total += int64(n)
			e.readQLen -= len(q.b)
			if e.stall {
				e.broadcast()
			}
			if err == nil && n < len(q.b) {
				err = io.ErrShortWrite
			}
			if err != nil {
				return total, err
			}
			continue
		}
		if e.err != nil {
			if errors.Is(e.err, io.EOF) {
				return total, nil
			}
			return total, e.err
		}
		if expired(e.rdl) || !e.waitLocked(e.rdl) {
			return total, os.ErrDeadlineExceeded
		}
	}
}

// WriteTo writes the gateway's bytes to w as they arrive (see Read); it
// returns nil once the gateway has ended the stream.
func (c *Conn) WriteTo(w io.Writer) (int64, error) { return c.e.WriteTo(w) }
