// Copyright 2026 The Tubegate Authors. Patch to golang.org/x/crypto/internal/poly1305;
// same license as the Go source it patches (see LICENSE).

package poly1305

import (
	"bytes"
	"encoding/hex"
	"math/rand"
	"testing"
)

// limbs26Vectors are RFC 8439's Poly1305 test vectors: section 2.5.2 and
// appendix A.3 (#1-#11), as key, message, tag in hex.
var limbs26Vectors = []struct{ key, msg, tag string }{
	{"85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b",
		hex.EncodeToString([]byte("Cryptographic Forum Research Group")),
		"a8061dc1305136c6c22b8baf0c0127a9"},
	{"0000000000000000000000000000000000000000000000000000000000000000",
		"00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
		"00000000000000000000000000000000"},
	{"0000000000000000000000000000000036e5f6b5c5e06070f0efca96227a863e",
		hex.EncodeToString([]byte(rfcIETF)),
		"36e5f6b5c5e06070f0efca96227a863e"},
	{"36e5f6b5c5e06070f0efca96227a863e00000000000000000000000000000000",
		hex.EncodeToString([]byte(rfcIETF)),
		"f3477e7cd95417af89a6b8794c310cf0"},
	{"1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0",
		"2754776173206272696c6c69672c20616e642074686520736c6974687920746f7665730a446964206779726520616e642067696d626c6520696e2074686520776162653a0a416c6c206d696d737920776572652074686520626f726f676f7665732c0a416e6420746865206d6f6d65207261746873206f757467726162652e",
		"4541669a7eaaee61e708dc7cbcc5eb62"},
	{"0200000000000000000000000000000000000000000000000000000000000000",
		"ffffffffffffffffffffffffffffffff",
		"03000000000000000000000000000000"},
	{"02000000000000000000000000000000ffffffffffffffffffffffffffffffff",
		"02000000000000000000000000000000",
		"03000000000000000000000000000000"},
	{"0100000000000000000000000000000000000000000000000000000000000000",
		"fffffffffffffffffffffffffffffffff0ffffffffffffffffffffffffffffff11000000000000000000000000000000",
		"05000000000000000000000000000000"},
	{"0100000000000000000000000000000000000000000000000000000000000000",
		"fffffffffffffffffffffffffffffffffbfefefefefefefefefefefefefefefe01010101010101010101010101010101",
		"00000000000000000000000000000000"},
	{"0200000000000000000000000000000000000000000000000000000000000000",
		"fdffffffffffffffffffffffffffffff",
		"faffffffffffffffffffffffffffffff"},
	{"0100000000000000040000000000000000000000000000000000000000000000",
		"e33594d7505e43b900000000000000003394d7505e4379cd01000000000000000000000000000000000000000000000001000000000000000000000000000000",
		"14000000000000005500000000000000"},
	{"0100000000000000040000000000000000000000000000000000000000000000",
		"e33594d7505e43b900000000000000003394d7505e4379cd010000000000000000000000000000000000000000000000",
		"13000000000000000000000000000000"},
}

const rfcIETF = "Any submission to the IETF intended by the Contributor for publication as all or part of an IETF Internet-Draft or RFC and any statement made within the context of an IETF activity is considered an \"IETF Contribution\". Such statements include oral statements in IETF sessions, as well as written and electronic communications made at any time or place, which are addressed to"

// sumLimbs26 is sumGeneric with updateLimbs26.
func sumLimbs26(out *[TagSize]byte, msg []byte, key *[32]byte) {
	h := macLimbs26{newMACGeneric(key)}
	h.Write(msg)
	h.Sum(out)
}

// sumWired is Sum, through the implementation this platform wires in.
func sumWired(out *[TagSize]byte, msg []byte, key *[32]byte) { Sum(out, msg, key) }

var limbs26Impls = []struct {
	name string
	sum  func(out *[TagSize]byte, msg []byte, key *[32]byte)
}{{"generic", sumGeneric}, {"limbs26", sumLimbs26}, {"wired", sumWired}}

func TestLimbs26Vectors(t *testing.T) {
	for i, v := range limbs26Vectors {
		key, msg, want := mustHex(t, v.key), mustHex(t, v.msg), mustHex(t, v.tag)
		var k [32]byte
		copy(k[:], key)
		for _, impl := range limbs26Impls {
			var tag [TagSize]byte
			impl.sum(&tag, msg, &k)
			if !bytes.Equal(tag[:], want) {
				t.Errorf("vector %d, %s: tag %x, want %x", i, impl.name, tag, want)
			}
		}
	}
}

// TestLimbs26Differential compares updateLimbs26 with updateGeneric on
// random and extreme keys and messages of every length 0..300 and a few
// large ones, whole and written in random pieces.
func TestLimbs26Differential(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	lengths := []int{1024, 4096 + 7, 32*1024 + 13, 65536}
	for n := 0; n <= 300; n++ {
		lengths = append(lengths, n)
	}
	fills := []func([]byte){
		func(b []byte) { rng.Read(b) },
		func(b []byte) {
			for i := range b {
				b[i] = 0xff
			}
		},
		func(b []byte) { clear(b) },
	}
	checked := 0
	for _, n := range lengths {
		for kf, fillKey := range fills {
			for mf, fillMsg := range fills {
				var key [32]byte
				fillKey(key[:])
				msg := make([]byte, n)
				fillMsg(msg)
				var want, got [TagSize]byte
				sumGeneric(&want, msg, &key)
				sumLimbs26(&got, msg, &key)
				if got != want {
					t.Fatalf("len %d, key fill %d, message fill %d: limbs26 %x, generic %x", n, kf, mf, got, want)
				}
				Sum(&got, msg, &key)
				if got != want {
					t.Fatalf("len %d, key fill %d, message fill %d: Sum %x, generic %x", n, kf, mf, got, want)
				}
				// The same message in random pieces, each Write converting
				// the state to 26-bit limbs and back.
				h := macLimbs26{newMACGeneric(&key)}
				for rest := msg; len(rest) > 0; {
					k := rng.Intn(len(rest)) + 1
					h.Write(rest[:k])
					rest = rest[k:]
				}
				h.Sum(&got)
				if got != want {
					t.Fatalf("len %d, key fill %d, message fill %d, in pieces: limbs26 %x, generic %x", n, kf, mf, got, want)
				}
				checked++
			}
		}
	}
	t.Logf("%d keys and messages checked", checked)
}

// TestLimbs26States starts both updates from the largest states
// updateGeneric leaves (h[2] up to 5), and compares the tags of the states
// they leave; updateLimbs26 leaves h[2] ≤ 4 after a block.
func TestLimbs26States(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for i := 0; i < 20000; i++ {
		var key [32]byte
		rng.Read(key[:])
		var a macState
		initialize(&key, &a)
		a.h = [3]uint64{rng.Uint64(), rng.Uint64(), uint64(rng.Intn(6))}
		if i%3 == 0 {
			a.h[0], a.h[1] = ^uint64(0), ^uint64(0)
		}
		b := a
		msg := make([]byte, rng.Intn(80))
		if i%2 == 0 {
			for j := range msg {
				msg[j] = 0xff
			}
		} else {
			rng.Read(msg)
		}
		updateGeneric(&a, msg)
		updateLimbs26(&b, msg)
		if len(msg) > 0 && b.h[2] > 4 {
			t.Fatalf("state %d: limbs26 left h[2] = %d, above 4", i, b.h[2])
		}
		var ta, tb [TagSize]byte
		finalize(&ta, &a.h, &a.s)
		finalize(&tb, &b.h, &b.s)
		if ta != tb {
			t.Fatalf("state %d, len %d: limbs26 tag %x, generic %x", i, len(msg), tb, ta)
		}
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("hex %q: %v", s, err)
	}
	return b
}

// BenchmarkUpdate compares the two block functions on this platform.
func BenchmarkUpdate(b *testing.B) {
	var key [32]byte
	for i := range key {
		key[i] = byte(i)
	}
	msg := make([]byte, 32*1024)
	for _, impl := range limbs26Impls[:2] {
		b.Run(impl.name, func(b *testing.B) {
			var tag [TagSize]byte
			b.SetBytes(int64(len(msg)))
			for b.Loop() {
				impl.sum(&tag, msg, &key)
			}
		})
	}
}
