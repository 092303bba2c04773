// Package sshbench measures the SSH transport's per-byte cost in-process
// (client and server over net.Pipe), natively and under GOOS=js GOARCH=wasm,
// where the page's client runs: see docs/perf/wasm-crypto.md. It holds only
// tests and benchmarks.
package sshbench
