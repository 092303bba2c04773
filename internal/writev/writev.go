// Package writev finds the socket beneath a connection's wrappers, so that
// a writer can hand it several buffers in one system call (writev) where a
// plain Write would take one call per buffer.
//
// A wrapper opts in by implementing Wrapper: it promises that its Write
// hands the bytes unchanged to the connection WriteThrough returns (a cap
// that only counts a connection's slot on Close does; TLS does not, and
// has no WriteThrough).
package writev

import (
	"io"
	"net"
)

// Wrapper is a connection whose Write passes its bytes unchanged to
// another connection: the one WriteThrough returns (nil while it may not,
// as for a connection that has not shown a valid header yet).
type Wrapper interface {
	WriteThrough() net.Conn
}

// Socket returns the net package's socket beneath w's pass-through
// wrappers, or nil if there is none (TLS, an in-memory pipe): the one to
// write a net.Buffers to. Its writes then go around the wrappers' Write,
// which pass them on unchanged anyway.
func Socket(w io.Writer) net.Conn {
	for range 16 { // wrappers are few; a cycle is a bug, not a loop
		switch c := w.(type) {
		case *net.TCPConn:
			return c
		case *net.UnixConn:
			return c
		case Wrapper:
			inner := c.WriteThrough()
			if inner == nil {
				return nil
			}
			w = inner
		default:
			return nil
		}
	}
	return nil
}
