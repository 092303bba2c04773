// Copyright 2026 The Tubegate Authors. Patch to golang.org/x/crypto/ssh;
// see third_party/patches/x-crypto-0009-chacha20-content-by-the-aead-assembly.patch.

package ssh

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"testing"

	"golang.org/x/crypto/chacha20"
)

// TestXORContentIsTheStream checks xorContent against ChaCha20 alone, for
// bodies of every length up to past the AEAD's threshold and large ones,
// in place and not: the same bytes, whichever way they were made.
func TestXORContentIsTheStream(t *testing.T) {
	key := make([]byte, 64)
	rand.Read(key)
	ci, err := newChaCha20Cipher(key, nil, nil, DirectionAlgorithms{})
	if err != nil {
		t.Fatal(err)
	}
	c := ci.(*chacha20Poly1305Cipher)
	if c.contentAEAD == nil {
		t.Logf("no AEAD on this platform: the generic stream is checked against itself")
	}
	lengths := []int{}
	for n := 0; n <= 2*contentAEADMin+70; n++ {
		lengths = append(lengths, n)
	}
	lengths = append(lengths, 4096, 32768+5, 256<<10)
	for i, n := range lengths {
		nonce := make([]byte, 12)
		binary.BigEndian.PutUint32(nonce[8:], uint32(i))
		src := make([]byte, n, n+16)
		rand.Read(src)

		want := make([]byte, n)
		ref, _ := chacha20.NewUnauthenticatedCipher(c.contentKey[:], nonce)
		ref.SetCounter(1)
		ref.XORKeyStream(want, src)

		s, _ := chacha20.NewUnauthenticatedCipher(c.contentKey[:], nonce)
		s.SetCounter(1)
		dst := make([]byte, n, n+16)
		c.xorContent(s, nonce, dst, src)
		if !bytes.Equal(dst, want) {
			t.Fatalf("length %d: xorContent differs from the stream", n)
		}

		s, _ = chacha20.NewUnauthenticatedCipher(c.contentKey[:], nonce)
		s.SetCounter(1)
		c.xorContent(s, nonce, src, src)
		if !bytes.Equal(src, want) {
			t.Fatalf("length %d: xorContent in place differs from the stream", n)
		}
	}
}
