// Copyright 2026 The Tubegate Authors. Patch to golang.org/x/crypto/chacha20;
// same license as the Go source it patches (see LICENSE).

package chacha20

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"math/bits"
	"math/rand"
	"testing"
)

// refBlock is RFC 8439's ChaCha20 block function, written as the RFC reads
// (state in an array, rounds by index), to check the optimized code against.
func refBlock(key *[8]uint32, counter uint32, nonce *[3]uint32) [64]byte {
	var st [16]uint32
	st[0], st[1], st[2], st[3] = j0, j1, j2, j3
	copy(st[4:12], key[:])
	st[12] = counter
	copy(st[13:16], nonce[:])
	x := st
	qr := func(a, b, c, d int) {
		x[a] += x[b]
		x[d] = bits.RotateLeft32(x[d]^x[a], 16)
		x[c] += x[d]
		x[b] = bits.RotateLeft32(x[b]^x[c], 12)
		x[a] += x[b]
		x[d] = bits.RotateLeft32(x[d]^x[a], 8)
		x[c] += x[d]
		x[b] = bits.RotateLeft32(x[b]^x[c], 7)
	}
	for i := 0; i < 10; i++ {
		qr(0, 4, 8, 12)
		qr(1, 5, 9, 13)
		qr(2, 6, 10, 14)
		qr(3, 7, 11, 15)
		qr(0, 5, 10, 15)
		qr(1, 6, 11, 12)
		qr(2, 7, 8, 13)
		qr(3, 4, 9, 14)
	}
	var out [64]byte
	for i := range x {
		binary.LittleEndian.PutUint32(out[4*i:], x[i]+st[i])
	}
	return out
}

// refXOR is XORKeyStream by refBlock, from block counter.
func refXOR(key, nonce []byte, counter uint32, msg []byte) []byte {
	var k [8]uint32
	var n [3]uint32
	for i := range k {
		k[i] = binary.LittleEndian.Uint32(key[4*i:])
	}
	for i := range n {
		n[i] = binary.LittleEndian.Uint32(nonce[4*i:])
	}
	out := make([]byte, len(msg))
	for i := 0; i < len(msg); i += 64 {
		ks := refBlock(&k, counter, &n)
		counter++
		for j := 0; j < 64 && i+j < len(msg); j++ {
			out[i+j] = msg[i+j] ^ ks[j]
		}
	}
	return out
}

// TestRFC8439Vector is RFC 8439 section 2.4.2's encryption.
func TestRFC8439Vector(t *testing.T) {
	key, _ := hex.DecodeString("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
	nonce, _ := hex.DecodeString("000000000000004a00000000")
	plain := []byte("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.")
	want, _ := hex.DecodeString("6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0bf91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d807ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab77937365af90bbf74a35be6b40b8eedf2785e42874d")
	c, err := NewUnauthenticatedCipher(key, nonce)
	if err != nil {
		t.Fatal(err)
	}
	c.SetCounter(1)
	got := make([]byte, len(plain))
	c.XORKeyStream(got, plain)
	if !bytes.Equal(got, want) {
		t.Errorf("XORKeyStream: %x, want %x", got, want)
	}
	if ref := refXOR(key, nonce, 1, plain); !bytes.Equal(ref, want) {
		t.Errorf("refXOR: %x, want %x", ref, want)
	}
}

// TestAgainstReference compares XORKeyStream with refXOR on random keys,
// nonces and counters and messages of every length 0..300 and a few large
// ones, whole, in place, unaligned, and in random pieces.
func TestAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	lengths := []int{1024, 4096 + 7, 32*1024 + 13, 65536}
	for n := 0; n <= 300; n++ {
		lengths = append(lengths, n)
	}
	for _, n := range lengths {
		key := make([]byte, KeySize)
		nonce := make([]byte, NonceSize)
		rng.Read(key)
		rng.Read(nonce)
		counter := rng.Uint32() >> 1
		msg := make([]byte, n)
		rng.Read(msg)
		want := refXOR(key, nonce, counter, msg)

		c, _ := NewUnauthenticatedCipher(key, nonce)
		c.SetCounter(counter)
		got := make([]byte, n)
		c.XORKeyStream(got, msg)
		if !bytes.Equal(got, want) {
			t.Fatalf("len %d: XORKeyStream differs from the reference", n)
		}

		// In place, one byte off any alignment.
		buf := make([]byte, n+1)[1:]
		copy(buf, msg)
		c, _ = NewUnauthenticatedCipher(key, nonce)
		c.SetCounter(counter)
		c.XORKeyStream(buf, buf)
		if !bytes.Equal(buf, want) {
			t.Fatalf("len %d: unaligned, in place XORKeyStream differs from the reference", n)
		}

		c, _ = NewUnauthenticatedCipher(key, nonce)
		c.SetCounter(counter)
		got = got[:0]
		for rest := msg; len(rest) > 0; {
			k := rng.Intn(len(rest)) + 1
			piece := make([]byte, k)
			c.XORKeyStream(piece, rest[:k])
			got = append(got, piece...)
			rest = rest[k:]
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("len %d: XORKeyStream in pieces differs from the reference", n)
		}
	}
}
