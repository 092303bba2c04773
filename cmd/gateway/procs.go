package main

import (
	"os"
	"runtime"
)

// clientProcs runs a client command's Go code on one thread at a time
// (GOMAXPROCS=1), unless GOMAXPROCS is set in the environment. A client
// carries one tube, whose goroutines are bound by system calls and hand
// work to each other: with more Ps, each hand-off also wakes a second
// thread to look for work, CPU spent for nothing on a busy machine.
// OpenSSH's ssh is one thread too. Measured in docs/performance.md
// (`gateway connect`, the eighth round; `gateway tunnel`, the sixteenth).
func clientProcs() {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
}
