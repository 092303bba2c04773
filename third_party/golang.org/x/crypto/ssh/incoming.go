// Copyright 2026 The Tubegate Authors. Patch to golang.org/x/crypto/ssh;
// see third_party/patches/x-crypto-0020-incoming-without-a-waiting-goroutine.patch.

package ssh

// Upstream hands a server its new channels and global requests on two Go
// channels, so a server keeps a goroutine per connection waiting on them
// for the connection's life. NotifyIncoming lets it wait with none: it is
// told when there is something to take, and can take it on a goroutine
// that ends once both channels are empty.

// NotifyIncoming arranges for f to be called after each new channel or
// global request is queued on the Go channels NewServerConn returned, and
// once both are closed. f is called on the connection's reading goroutine,
// which reads nothing more until f returns: it must not block (start a
// goroutine to take what is queued). f is also called once before
// NotifyIncoming returns, for whatever was queued already. Each call
// comes after the send or close it tells of, so a taker that finds both
// Go channels empty may stop until the next call.
func (c *ServerConn) NotifyIncoming(f func()) {
	if conn, ok := c.Conn.(*connection); ok {
		conn.mux.incomingNotify.Store(&f)
	}
	f()
}

func (m *mux) notifyIncoming() {
	if f := m.incomingNotify.Load(); f != nil {
		(*f)()
	}
}
