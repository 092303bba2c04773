//go:build !js

package bridge

// Masking (RFC 6455 §5.3): the client masks what it writes, the gateway
// unmasks what it reads.

import (
	"crypto/subtle"
	"encoding/binary"
	"math/bits"
	"sync"
)

// maskChunk is how many bytes maskCopy masks per call of XORBytes.
const maskChunk = 1024

// maskCopy writes src masked with key (its bytes in little-endian order
// are the four masking bytes) to dst: the key repeated over a chunk, then
// crypto/subtle's XORBytes (vector instructions where the CPU has them)
// a chunk at a time; a byte-at-a-time or word-at-a-time loop took as long
// as the AES-GCM of the same bytes.
func maskCopy(dst, src []byte, key uint32) {
	var pat [maskChunk]byte
	binary.LittleEndian.PutUint32(pat[:], key)
	for n := 4; n < min(len(src), maskChunk); n *= 2 {
		copy(pat[n:], pat[:n])
	}
	dst = dst[:len(src)]
	for len(src) > 0 {
		n := min(len(src), maskChunk)
		subtle.XORBytes(dst[:n], src[:n], pat[:n])
		dst, src = dst[n:], src[n:]
	}
}

// unmaskPooledMin is the least length unmask XORs through a pooled
// pattern with crypto/subtle's XORBytes; a shorter run is XORed a word at
// a time.
const unmaskPooledMin = 256

// maskPatterns are the patterns unmask XORs long runs with, held only
// while a run is unmasked: the reading goroutine's stack stays small (an
// idle tube's reader waits on it), where a pattern of its own on the stack
// would grow it by a KiB.
var maskPatterns = sync.Pool{New: func() any { return new([maskChunk]byte) }}

// unmask XORs b in place with the masking key (its bytes in little-endian
// order are the four masking bytes, the first for b[0]) and returns the key
// rotated for the byte after b.
func unmask(b []byte, key uint32) uint32 {
	next := bits.RotateLeft32(key, -8*(len(b)%4))
	if len(b) >= unmaskPooledMin {
		pat := maskPatterns.Get().(*[maskChunk]byte)
		binary.LittleEndian.PutUint32(pat[:], key)
		for n := 4; n < min(len(b), maskChunk); n *= 2 {
			copy(pat[n:], pat[:n])
		}
		for len(b) > 0 {
			n := min(len(b), maskChunk)
			subtle.XORBytes(b[:n], b[:n], pat[:n])
			b = b[n:]
		}
		maskPatterns.Put(pat)
		return next
	}
	k := uint64(key) | uint64(key)<<32
	for len(b) >= 8 {
		binary.LittleEndian.PutUint64(b, binary.LittleEndian.Uint64(b)^k)
		b = b[8:]
	}
	for i := range b {
		b[i] ^= byte(key)
		key = bits.RotateLeft32(key, -8)
	}
	return next
}
