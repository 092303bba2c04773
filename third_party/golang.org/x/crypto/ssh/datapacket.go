// Copyright 2026 The Tubegate Authors. Patch to golang.org/x/crypto/ssh;
// see third_party/patches/x-crypto-0010-channel-data-written-from-its-packet.patch.

package ssh

import "io"

// minLentPacket is the smallest packet freshPacket lends a pooled buffer
// for: three quarters of one, so a peer's unread data never takes more than
// 4/3 of its size in buffers (bulk senders fill their packets: 32 KiB of
// data in a 33 KiB buffer).
const minLentPacket = pooledPacketBuf * 3 / 4

// freshPacket copies a packet read out of the cipher's buffer. A large
// channel data packet (minLentPacket or more) goes into a buffer lent by
// packetBufs, which the channel's buffer gives back once its reader has
// consumed the data.
func freshPacket(p []byte) []byte {
	var fresh []byte
	if len(p) >= minLentPacket && len(p) <= pooledPacketBuf &&
		(p[0] == msgChannelData || p[0] == msgChannelExtendedData) {
		fresh = (*packetBufs.Get().(*[]byte))[:len(p)]
	} else {
		fresh = make([]byte, len(p))
	}
	copy(fresh, p)
	return fresh
}

// isLentPacket reports whether packet is in a buffer lent by freshPacket.
func isLentPacket(packet []byte) bool { return cap(packet) == pooledPacketBuf }

// releaseLent gives back a packet buffer lent by freshPacket; nil is a no-op.
func releaseLent(packet []byte) {
	if packet != nil {
		packet = packet[:cap(packet)]
		packetBufs.Put(&packet)
	}
}

// writeLent makes data, part of a packet lent by freshPacket, available for
// Read and WriteTo, which give the packet back once data is consumed.
func (b *buffer) writeLent(data, packet []byte) {
	b.Cond.L.Lock()
	e := &element{buf: data, lent: packet}
	b.tail.next = e
	b.tail = e
	b.Cond.Signal()
	b.Cond.L.Unlock()
}

// writeTo writes the buffered data to w as it arrives, straight from each
// packet, until the buffer is closed and drained or a write fails.
// consumed is called with the size of each successful write (the channel
// gives that much window back); an error from it ends writeTo, io.EOF
// excepted, as in ReadExtended.
func (b *buffer) writeTo(w io.Writer, consumed func(n int) error) (total int64, err error) {
	b.Cond.L.Lock()
	for {
		if len(b.head.buf) == 0 {
			if b.head != b.tail {
				b.head = b.head.next
				continue
			}
			if b.closed {
				b.Cond.L.Unlock()
				return total, nil
			}
			b.Cond.Wait()
			continue
		}
		e := b.head
		data, lent := e.buf, e.lent
		e.buf, e.lent = nil, nil
		b.Cond.L.Unlock()

		n, werr := w.Write(data)
		releaseLent(lent) // a Writer keeps nothing of what it was given
		total += int64(n)
		if n > 0 {
			if cerr := consumed(n); cerr != nil && cerr != io.EOF {
				return total, cerr
			}
		}
		if werr != nil {
			return total, werr
		}
		if n < len(data) {
			return total, io.ErrShortWrite
		}
		b.Cond.L.Lock()
	}
}

// WriteTo writes the channel's data (not its extended data) to w until the
// peer's EOF, each packet's bytes straight from the packet: one copy fewer
// than Read, and a large packet's buffer is reused. It gives the window
// back as Read does.
func (c *channel) WriteTo(w io.Writer) (int64, error) {
	return c.pending.writeTo(w, func(n int) error { return c.adjustWindow(uint32(n)) })
}

// WriteTo writes the channel's data to w (see channel.WriteTo).
func (t *chanConn) WriteTo(w io.Writer) (int64, error) {
	if wt, ok := t.Channel.(io.WriterTo); ok {
		return wt.WriteTo(w)
	}
	return io.Copy(w, struct{ io.Reader }{t.Channel})
}
