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
//
// Over a Streamer transport the reader writes each payload to w itself
// (stream.go) once the bytes queued before are written; w then sees no
// more than one write at a time, in order, and may be written to by the
// reader until the stream's transport is closed, even after WriteTo has
// returned for the stream's end.
func (e *endpoint) WriteTo(w io.Writer) (int64, error) {
	var total int64
	e.mu.Lock()
	defer e.mu.Unlock()
	e.releaseHeldLocked()
	e.sink, e.sinkErr = w, nil
	sunk := e.sunk
	defer func() { e.sink = nil }()
	for {
		if len(e.readQ) > 0 && !e.delivering {
			q := e.readQ[0]
			e.readQ[0] = queued{}
			e.readQ = e.readQ[1:]
			if len(e.readQ) == 0 {
				e.readQ = nil
			}
			e.draining = true
			e.mu.Unlock()
			n, err := w.Write(q.b)
			if q.release != nil {
				q.release(q.msg)
			}
			e.mu.Lock()
			e.draining = false
			total += int64(n)
			e.readQLen -= len(q.b)
			e.broadcast() // a stalled reader, or one waiting to deliver
			if err == nil && n < len(q.b) {
				err = io.ErrShortWrite
			}
			if err != nil {
				return total + e.sunk - sunk, err
			}
			continue
		}
		if e.sinkErr != nil {
			return total + e.sunk - sunk, e.sinkErr
		}
		if e.err != nil && len(e.readQ) == 0 {
			if errors.Is(e.err, io.EOF) {
				return total + e.sunk - sunk, nil
			}
			return total + e.sunk - sunk, e.err
		}
		if expired(e.rdl) || !e.waitLocked(e.rdl) {
			return total + e.sunk - sunk, os.ErrDeadlineExceeded
		}
	}
}

// WriteTo writes the gateway's bytes to w as they arrive (see Read); it
// returns nil once the gateway has ended the stream.
func (c *Conn) WriteTo(w io.Writer) (int64, error) { return c.e.WriteTo(w) }
