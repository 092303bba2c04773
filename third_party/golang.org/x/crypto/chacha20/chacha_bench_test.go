// Copyright 2026 The Tubegate Authors. Patch to golang.org/x/crypto/chacha20;
// same license as the Go source it patches (see LICENSE).

package chacha20

import (
	"fmt"
	"testing"
)

// BenchmarkXORKeyStream measures XORKeyStream as this platform wires it, at
// the sizes of a small and of a full SSH packet.
func BenchmarkXORKeyStream(b *testing.B) {
	for _, size := range []int{1024, 32 * 1024} {
		b.Run(fmt.Sprintf("%dK", size/1024), func(b *testing.B) {
			key := make([]byte, KeySize)
			nonce := make([]byte, NonceSize)
			buf := make([]byte, size)
			b.SetBytes(int64(size))
			for b.Loop() {
				c, _ := NewUnauthenticatedCipher(key, nonce)
				c.XORKeyStream(buf, buf)
			}
		})
	}
}
