// Copyright 2026 The Tubegate Authors. Patch to golang.org/x/crypto/internal/poly1305;
// same license as the Go source it patches (see LICENSE).

package poly1305

import "encoding/binary"

// This file is a portable Poly1305 with the accumulator and r in five 26-bit
// limbs (the "donna-32" layout): one block costs 25 multiplications of two
// numbers below 2³² into a uint64, which every 64-bit target, and wasm's
// i64.mul, does natively. updateGeneric instead needs bits.Mul64's 128-bit
// products, which the compiler makes into single instructions on amd64 and
// arm64 but into a software routine of four multiplications and carries on
// wasm, where this is several times faster (mac_wasm.go wires it in there).
// It compiles everywhere so that its tests compare it with updateGeneric on
// any machine. Like updateGeneric it has no branches or indexes that depend
// on the key or the message, only on the message's length.

// mask26 keeps the low 26 bits of a limb.
const mask26 = 1<<26 - 1

// macLimbs26 is macGeneric with updateLimbs26 in place of updateGeneric.
type macLimbs26 struct{ macGeneric }

// Write is macGeneric.Write, absorbing full blocks with updateLimbs26.
func (h *macLimbs26) Write(p []byte) (int, error) {
	nn := len(p)
	if h.offset > 0 {
		n := copy(h.buffer[h.offset:], p)
		if h.offset+n < TagSize {
			h.offset += n
			return nn, nil
		}
		p = p[n:]
		h.offset = 0
		updateLimbs26(&h.macState, h.buffer[:])
	}
	if n := len(p) - (len(p) % TagSize); n > 0 {
		updateLimbs26(&h.macState, p[:n])
		p = p[n:]
	}
	if len(p) > 0 {
		h.offset += copy(h.buffer[h.offset:], p)
	}
	return nn, nil
}

// Sum is macGeneric.Sum, absorbing the last partial block with updateLimbs26.
func (h *macLimbs26) Sum(out *[TagSize]byte) {
	state := h.macState
	if h.offset > 0 {
		updateLimbs26(&state, h.buffer[:h.offset])
	}
	finalize(out, &state.h, &state.s)
}

// updateLimbs26 does what updateGeneric does: for each 16-byte block m of
// msg, h₊ = (h + m) * r  mod  2¹³⁰ - 5, with the same partial reduction, so
// that state.h keeps updateGeneric's bounds (h[2] ≤ 4 on return, h[2] ≤ 7
// accepted). The last block may be short, and is then padded as the
// specification says. state stays in upstream's 64-bit limbs; the
// conversion to and from 26-bit limbs costs a few shifts per call.
func updateLimbs26(state *macState, msg []byte) {
	// r in 26-bit limbs. Clamping leaves r1..r4 below 2²⁶ with their top
	// bits clear, so 5·rᵢ < 2²⁹ and every sum of five products below fits in
	// 64 bits (each hᵢ < 2²⁸).
	r0 := state.r[0] & mask26
	r1 := (state.r[0] >> 26) & mask26
	r2 := (state.r[0]>>52 | state.r[1]<<12) & mask26
	r3 := (state.r[1] >> 14) & mask26
	r4 := (state.r[1] >> 40) & mask26
	s1, s2, s3, s4 := r1*5, r2*5, r3*5, r4*5

	// h in 26-bit limbs; h4 takes the bits from 2¹⁰⁴ up, h[2] ≤ 7 included,
	// so h4 < 2²⁷.
	h0 := state.h[0] & mask26
	h1 := (state.h[0] >> 26) & mask26
	h2 := (state.h[0]>>52 | state.h[1]<<12) & mask26
	h3 := (state.h[1] >> 14) & mask26
	h4 := state.h[1]>>40 | state.h[2]<<24

	for len(msg) > 0 {
		// h += m, with the bit just above the block (2¹²⁸ for a full one).
		var m0, m1, hibit uint64
		if len(msg) >= TagSize {
			m0 = binary.LittleEndian.Uint64(msg[0:8])
			m1 = binary.LittleEndian.Uint64(msg[8:16])
			hibit = 1 << 24
			msg = msg[TagSize:]
		} else {
			var buf [TagSize]byte
			copy(buf[:], msg)
			buf[len(msg)] = 1
			m0 = binary.LittleEndian.Uint64(buf[0:8])
			m1 = binary.LittleEndian.Uint64(buf[8:16])
			msg = nil
		}
		h0 += m0 & mask26
		h1 += (m0 >> 26) & mask26
		h2 += (m0>>52 | m1<<12) & mask26
		h3 += (m1 >> 14) & mask26
		h4 += m1>>40 | hibit

		// h * r, with 2¹³⁰ = 5 (mod 2¹³⁰ - 5) folding the high products
		// down: the columns d0..d4 of 2⁰, 2²⁶, ..., 2¹⁰⁴.
		d0 := h0*r0 + h1*s4 + h2*s3 + h3*s2 + h4*s1
		d1 := h0*r1 + h1*r0 + h2*s4 + h3*s3 + h4*s2
		d2 := h0*r2 + h1*r1 + h2*r0 + h3*s4 + h4*s3
		d3 := h0*r3 + h1*r2 + h2*r1 + h3*r0 + h4*s4
		d4 := h0*r4 + h1*r3 + h2*r2 + h3*r1 + h4*r0

		// Partial reduction: carry each column into the next, and what
		// leaves the top (·2¹³⁰) back into h0 times 5.
		d1 += d0 >> 26
		h0 = d0 & mask26
		d2 += d1 >> 26
		h1 = d1 & mask26
		d3 += d2 >> 26
		h2 = d2 & mask26
		d4 += d3 >> 26
		h3 = d3 & mask26
		h0 += (d4 >> 26) * 5
		h4 = d4 & mask26
		h1 += h0 >> 26
		h0 &= mask26
	}

	// Back to 64-bit limbs: carry h1..h3 so that h0..h3 are below 2²⁶ and
	// the limbs do not overlap; h4 keeps the carry (h < 2¹³⁰ + 2²⁶, so
	// h[2] ≤ 4, within what finalize and updateGeneric expect).
	h2 += h1 >> 26
	h1 &= mask26
	h3 += h2 >> 26
	h2 &= mask26
	h4 += h3 >> 26
	h3 &= mask26
	state.h[0] = h0 | h1<<26 | h2<<52
	state.h[1] = h2>>12 | h3<<14 | h4<<40
	state.h[2] = h4 >> 24
}
