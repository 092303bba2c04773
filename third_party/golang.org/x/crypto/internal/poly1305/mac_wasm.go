// Copyright 2026 The Tubegate Authors. Patch to golang.org/x/crypto/internal/poly1305;
// same license as the Go source it patches (see LICENSE).

//go:build wasm && gc && !purego

package poly1305

// mac on wasm absorbs blocks in 26-bit limbs (sum_limbs26.go): wasm has no
// 64×64→128 multiplication, which updateGeneric's bits.Mul64 needs.
type mac struct{ macLimbs26 }
