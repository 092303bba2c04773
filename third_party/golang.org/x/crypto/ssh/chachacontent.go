// Copyright 2026 The Tubegate Authors. Patch to golang.org/x/crypto/ssh;
// see third_party/patches/x-crypto-0009-chacha20-content-by-the-aead-assembly.patch.

package ssh

import "golang.org/x/crypto/chacha20"

// contentAEADMin is the smallest packet body whose stream is taken from
// the AEAD (see xorContent): below it, the AEAD's setup costs more than
// the generic stream.
const contentAEADMin = 256

// xorContent sets dst to src XOR the content key's ChaCha20 stream from
// block 1 on, the stream of a chacha20-poly1305@openssh.com packet body
// (s is that stream, at block 1). Where x/crypto has assembly for the
// ChaCha20-Poly1305 AEAD but none for ChaCha20 alone (amd64), the stream
// is taken from the AEAD's Seal with the same key and nonce, which
// encrypts from block 1 too; the AEAD's own tag is not used. Seal writes
// its 16-byte tag after the body: the caller's buffer must have those 16
// bytes past len(src) in dst's capacity, free to overwrite (the body's
// MAC, already checked or not yet written). dst and src are the same bytes
// or do not overlap.
func (c *chacha20Poly1305Cipher) xorContent(s *chacha20.Cipher, nonce, dst, src []byte) {
	if c.contentAEAD == nil || len(src) < contentAEADMin || cap(dst) < len(src)+16 {
		s.XORKeyStream(dst, src)
		return
	}
	c.contentAEAD.Seal(dst[:0], nonce, src, nil)
}
