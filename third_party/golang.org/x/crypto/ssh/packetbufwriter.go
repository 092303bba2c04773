// Copyright 2026 The Tubegate Authors. Patch to golang.org/x/crypto/ssh;
// see third_party/patches/x-crypto-0014-packet-sealed-in-the-writers-buffer.patch.

package ssh

import "io"

// packetBufferWriter is a connection that queues its writes and can lend
// the room for the next one at the end of its queue: an AEAD cipher then
// assembles and seals the packet there, and the Write that follows takes
// it without a copy (the gateway's send queue, which joins the packets
// written while one batch is sent into the next).
//
// PacketBuffer returns n bytes to fill, or nil when it lends none (then the
// packet is written as usual). After a non-nil PacketBuffer the caller's
// next call is Write, of that buffer filled or of a zero-length slice of it
// to give the room back unused.
type packetBufferWriter interface {
	io.Writer
	PacketBuffer(n int) []byte
}

// directWriter writes a connection's packets without the bufio.Writer when
// the connection lends buffers (packetBufferWriter): the AEAD ciphers write
// each packet once (patch 0006), so there is nothing to buffer or flush.
type directWriter struct{ packetBufferWriter }

func (directWriter) Flush() error { return nil }

// writerBuffer returns n bytes of w's to assemble a packet in, or nil.
func writerBuffer(w io.Writer, n int) []byte {
	if pw, ok := w.(packetBufferWriter); ok {
		if b := pw.PacketBuffer(n); len(b) == n {
			return b
		}
	}
	return nil
}

// giveBack returns unused the buffer writerBuffer lent (a Write of none of
// it), after a failure before the packet's Write.
func giveBack(w io.Writer, buf []byte) { w.Write(buf[:0]) }
