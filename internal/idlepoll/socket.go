package idlepoll

import (
	"net"
	"syscall"
)

// ReadWrapper is a connection whose Read passes straight to another
// connection's, buffering nothing: the one ReadThrough returns (nil while
// it may not). A cap that only counts a connection's slot on Close is
// one; TLS, or a reader of a proxy protocol header, is not.
type ReadWrapper interface {
	ReadThrough() net.Conn
}

// Socket returns the socket beneath c's pass-through readers, whose
// readiness is c's, or nil if there is none.
func Socket(c net.Conn) syscall.Conn {
	for range 16 { // wrappers are few; a cycle is a bug, not a loop
		switch s := c.(type) {
		case *net.TCPConn:
			return s
		case *net.UnixConn:
			return s
		case ReadWrapper:
			if c = s.ReadThrough(); c == nil {
				return nil
			}
		default:
			return nil
		}
	}
	return nil
}
