// Copyright 2026 The Tubegate Authors. Patch to golang.org/x/crypto/ssh;
// see third_party/patches/x-crypto-0009-chacha20-content-by-the-aead-assembly.patch.

//go:build !amd64 || !gc || purego

package ssh

import "crypto/cipher"

// newContentAEAD returns nil: here ChaCha20 alone is as fast as the AEAD,
// or faster (arm64, ppc64, s390x and loong64 have assembly for it).
func newContentAEAD([]byte) cipher.AEAD { return nil }
