// Copyright 2026 The Tubegate Authors. Patch to golang.org/x/crypto/ssh;
// see third_party/patches/x-crypto-0009-chacha20-content-by-the-aead-assembly.patch.

//go:build gc && !purego

package ssh

import (
	"crypto/cipher"

	"golang.org/x/crypto/chacha20poly1305"
)

// newContentAEAD returns the ChaCha20-Poly1305 AEAD for the content key:
// on amd64 x/crypto has assembly for it and none for ChaCha20 alone.
func newContentAEAD(key []byte) cipher.AEAD {
	a, err := chacha20poly1305.New(key)
	if err != nil {
		return nil
	}
	return a
}
