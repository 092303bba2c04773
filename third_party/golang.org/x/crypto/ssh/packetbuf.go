// Copyright 2026 The Tubegate Authors. Patch to golang.org/x/crypto/ssh;
// see third_party/patches/x-crypto-0002-lend-large-packet-buffers.patch.

package ssh

import "sync"

// keptPacketBuf is the largest buffer an AEAD cipher keeps between
// packets. A larger packet (bulk channel data, up to channelMaxPacket) is
// sealed or opened in a buffer lent by packetBufs and given back once the
// packet is written or copied out. Without this, every connection that
// ever carried bulk data keeps one packet-sized buffer per direction (about
// 64 KiB) for the rest of its life, however idle it becomes.
const keptPacketBuf = 4 << 10

// pooledPacketBuf is the size of the buffers packetBufs lends: a full
// channel data packet with its framing, padding and tag. Larger packets
// (up to maxPacket) get a buffer of their own, dropped after use.
const pooledPacketBuf = channelMaxPacket + 1<<10

var packetBufs = sync.Pool{New: func() any { b := make([]byte, pooledPacketBuf); return &b }}

// packetBuf returns a buffer of n bytes for one packet: buf when it is
// large enough and n is at most keptPacketBuf, a lent or new buffer
// otherwise. The cipher gives it back with releasePacketBuf.
func packetBuf(buf []byte, n int) []byte {
	switch {
	case n <= keptPacketBuf && cap(buf) >= n:
		return buf[:n]
	case n <= keptPacketBuf:
		return make([]byte, n)
	case n <= pooledPacketBuf:
		return (*packetBufs.Get().(*[]byte))[:n]
	default:
		return make([]byte, n)
	}
}

// releasePacketBuf gives back buf if packetBuf lent it, and returns what
// the cipher keeps for its next packet: buf if it is small, else nothing.
func releasePacketBuf(buf []byte) []byte {
	if cap(buf) <= keptPacketBuf {
		return buf
	}
	if cap(buf) == pooledPacketBuf {
		buf = buf[:cap(buf)]
		packetBufs.Put(&buf)
	}
	return nil
}

// packetBufReleaser is a packetCipher whose last packet read may be in a
// lent buffer, to be given back (releaseBuf) once it is copied out.
type packetBufReleaser interface{ releaseBuf() }
