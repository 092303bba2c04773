//go:build !race

package sshserver

// raceEnabled: the race detector grows every goroutine's stack.
const raceEnabled = false
