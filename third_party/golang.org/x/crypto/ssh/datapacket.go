// Copyright 2026 The Tubegate Authors. Patch to golang.org/x/crypto/ssh;
// see third_party/patches/x-crypto-0010-channel-data-written-from-its-packet.patch.

package ssh

import "io"

// minLentPacket is the smallest packet freshPacket lends a pooled buffer
// for: three quarters of one, so a peer's unread data never takes more than
// 4/3 of its size in buffers (bulk senders fill their packets: 32 KiB of
// data in a 33 KiB buffer).
const minLentPacket = pooledPacketBuf * 3 / 4

// A lent packet is a large channel data packet in a buffer lent by
// packetBufs, in its lent form: from the buffer's first byte, a copy of the
// message type, then the packet. The byte in front is where the padding
// length was when the packet was decrypted in the buffer (patch 0013), so
// that an AEAD cipher can hand over the buffer it opened the packet in
// (detachLent) instead of the packet being copied out of it. The mux takes
// the packet from its lent form (lentBody) and gives the buffer to the
// channel, whose reader gives it back (releaseLent).

// wantsLent reports whether packet is one to be passed on in a lent buffer.
func wantsLent(p []byte) bool {
	return len(p) >= minLentPacket && len(p) < pooledPacketBuf &&
		(p[0] == msgChannelData || p[0] == msgChannelExtendedData)
}

// freshPacket copies a packet read out of the cipher's buffer: a large
// channel data packet (wantsLent) into a lent buffer, in the lent form.
func freshPacket(p []byte) []byte {
	if wantsLent(p) {
		fresh := (*packetBufs.Get().(*[]byte))[:1+len(p)]
		fresh[0] = p[0]
		copy(fresh[1:], p)
		return fresh
	}
	// Any other packet's capacity is not a lent buffer's, or the mux
	// would take it for one.
	c := len(p)
	if c == pooledPacketBuf {
		c++
	}
	fresh := make([]byte, len(p), c)
	copy(fresh, p)
	return fresh
}

// packetDetacher is a packetCipher that can hand over the lent buffer it
// decrypted its last packet in (detachPacket), in the lent form, or nil
// when the packet is not at the buffer's second byte. It then keeps no
// reference to the buffer.
type packetDetacher interface {
	detachPacket(packet []byte) []byte
}

// detachLent returns packet's lent form in buf, a buffer it was decrypted
// in, if buf is lent and packet starts at its second byte; nil otherwise.
func detachLent(buf, packet []byte) []byte {
	if cap(buf) != pooledPacketBuf || len(packet) == 0 || len(buf) < 1+len(packet) || &buf[1] != &packet[0] {
		return nil
	}
	buf[0] = packet[0]
	return buf[:1+len(packet)]
}

// isLentPacket reports whether packet is in the lent form.
func isLentPacket(packet []byte) bool { return cap(packet) == pooledPacketBuf }

// lentBody returns the packet in p and, if p is in the lent form, the lent
// buffer (else nil).
func lentBody(p []byte) (packet, lent []byte) {
	if isLentPacket(p) {
		return p[1:], p
	}
	return p, nil
}

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
