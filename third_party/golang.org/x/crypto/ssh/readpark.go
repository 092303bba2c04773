// Copyright 2026 The Tubegate Authors. Patch to golang.org/x/crypto/ssh;
// see third_party/patches/x-crypto-0023-reader-parked-while-the-peer-is-idle.patch.

package ssh

// readParker is implemented by a connection whose reader can let go of
// its goroutine while the peer is idle: the gateway's end of a WebSocket
// tube waits in an epoll instance with every other idle one. ParkRead is
// called between packets, with nothing of the next one read. It returns
// false when the caller should read on as usual (bytes are buffered, or
// came soon enough), true when the peer has been idle: resume is then
// called, once and from a goroutine of its own, when the connection is
// readable again, hung up or closed.
//
// Upstream's reader blocks in Read for the connection's whole life: at
// 10,000 idle tubes its stacks, 8 KiB each once a key exchange has grown
// them, were a quarter of what the gateway held.
type readParker interface {
	ParkRead(resume func()) bool
}

// parkRead parks the reader where the connection can (see readParker),
// with nothing read and buffered.
func (t *transport) parkRead(resume func()) bool {
	if len(t.bufReader.data) > 0 || t.bufReader.err != nil {
		return false
	}
	rp, ok := t.bufReader.r.(readParker)
	return ok && rp.ParkRead(resume)
}

// parkRead parks readFrom's goroutine while the peer is idle; readFrom
// is called again when it sends. Only readFrom may call it, with no
// packet queued and the first key exchange done.
func (t *handshakeTransport) parkRead() bool {
	p, ok := t.conn.(interface{ parkRead(func()) bool })
	if !ok {
		return false
	}
	if t.resumeRead == nil {
		t.resumeRead = func() { t.readFrom(false) }
	}
	return p.parkRead(t.resumeRead)
}
