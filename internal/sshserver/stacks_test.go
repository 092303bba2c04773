package sshserver

import (
	"fmt"
	"runtime"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/tubegate/tubegate/internal/forward"
)

// stackInUse is the memory of every goroutine stack.
func stackInUse() int64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.StackInuse)
}

// An idle tube's goroutines are few and keep small stacks. x/crypto/ssh
// ran each key exchange (key agreement, host key signature, hashing) on the
// connection's kexLoop goroutine, which then waited for the next exchange
// for the rest of the connection's life with the stack the exchange grew:
// several KiB a tube until enough collections shrink it
// (docs/perf/idle-memory.md). Since patch 0019 that loop runs only while a
// key exchange is asked for or under way, so an idle connection has no
// goroutine for it at either end; since patch 0020 the gateway's tube
// takes its requests and channels on a goroutine that runs only while some
// are queued. The stacks are read before any
// collection, as they are on a gateway whose tubes have just opened. The
// tubes publish virtual names, so no listener adds goroutines; the gateway
// and its clients are both in this process.
func TestIdleTubesKeepSmallStacks(t *testing.T) {
	const tubes = 64
	g := startGateway(t, Limits{})
	g.addUser(t, "alice")
	before, goBefore := stackInUse(), runtime.NumGoroutine()
	for i := range tubes {
		c := g.dial(t, "alice")
		ok, _, err := c.SendRequest(forward.ReqTCPIPForward, true,
			ssh.Marshal(forward.ForwardRequest{BindAddr: fmt.Sprintf("idle%d.alice", i), BindPort: 1}))
		if err != nil || !ok {
			t.Fatalf("tube %d: tcpip-forward: %v %v", i, ok, err)
		}
	}
	waitFor(t, "every tube's goroutines", func() bool { return g.srv.Tubes() == tubes })
	after, goAfter := stackInUse(), runtime.NumGoroutine()
	perTube := (after - before) / tubes
	t.Logf("stacks %d → %d bytes: %d bytes, %d goroutines an idle tube (gateway and client)",
		before, after, perTube, (goAfter-goBefore)/tubes)
	// x/crypto's mux and reader at each end, and the client's two handlers
	// of requests and channels (ssh.NewClient): 10 before patch 0019, with
	// a kexLoop at each end, and 8 before patch 0020, with the gateway's
	// tube loop waiting on x/crypto's channels.
	if perTube := (goAfter - goBefore) / tubes; perTube > 7 {
		t.Errorf("an idle tube holds %d goroutines (gateway and client); want at most 7", perTube)
	}
	// Without the race detector 46-56 KiB with the exchange's stack kept
	// on both ends, 39-41 KiB with a kexLoop waiting at each end, 33 KiB
	// since patch 0019 and 22.5 KiB since 0020 (the tube loop waited with
	// the stack the handshake grew); with it, 65.5-66, 62, 52-54 and 35.
	want := int64(26 << 10)
	if raceEnabled {
		want = 40 << 10
	}
	if perTube > want {
		t.Errorf("an idle tube's goroutines (gateway and client) hold %d bytes of stack; want at most %d", perTube, want)
	}
}
