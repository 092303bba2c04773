// Copyright 2026 The Tubegate Authors. Patch to golang.org/x/crypto/internal/poly1305;
// same license as the Go source it patches (see LICENSE).

package poly1305

import (
	"fmt"
	"testing"
)

// BenchmarkMAC measures the MAC as this platform wires it (New, one Write,
// Sum), at the sizes of a small and of a full SSH packet.
func BenchmarkMAC(b *testing.B) {
	for _, size := range []int{1024, 32 * 1024} {
		b.Run(fmt.Sprintf("%dK", size/1024), func(b *testing.B) {
			var key [32]byte
			for i := range key {
				key[i] = byte(i)
			}
			msg := make([]byte, size)
			var tag [TagSize]byte
			b.SetBytes(int64(size))
			for b.Loop() {
				h := New(&key)
				h.Write(msg)
				h.Sum(tag[:0])
			}
		})
	}
}
