// Copyright 2026 The Tubegate Authors. Patch to golang.org/x/crypto/ssh;
// see third_party/patches/x-crypto-0017-packet-opened-where-it-was-received.patch.

package ssh

import "io"

// contiguousReader is a connection that keeps what it received in
// buffers of its own (a tube whose carrier delivers whole messages), so
// that the transport need not copy a packet out before opening it.
type contiguousReader interface {
	io.Reader
	// ReadContiguous returns the next n bytes, consumed, where they lie
	// whole in one of its buffers, valid until its next read. It waits
	// as Read does while nothing has been received, and returns nil,
	// consuming nothing, when the next n bytes are not whole in one
	// buffer.
	ReadContiguous(n int) ([]byte, error)
}

// readPacketBody returns the n bytes of a packet's body (what follows its
// length field): where they lie whole in r's buffer, without a copy;
// otherwise read into buf[:n]. The AEAD ciphers open a packet from there
// into their own buffer, the copy and the decryption in one pass.
func readPacketBody(r io.Reader, buf []byte, n int) ([]byte, error) {
	if cr, ok := r.(*lentReader); ok {
		src, err := cr.readContiguous(n)
		if src != nil || err != nil {
			return src, err
		}
	}
	if _, err := io.ReadFull(r, buf[:n]); err != nil {
		return nil, err
	}
	return buf[:n], nil
}

// readContiguous passes on the connection's ReadContiguous when it has
// one and nothing is buffered here (a contiguousReader is read without
// buffering: see Read).
func (b *lentReader) readContiguous(n int) ([]byte, error) {
	if b.direct == nil || len(b.data) > 0 || b.err != nil {
		return nil, nil
	}
	return b.direct.ReadContiguous(n)
}
