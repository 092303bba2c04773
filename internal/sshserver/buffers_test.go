package sshserver

import (
	"fmt"
	"net"
	"runtime"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/tubegate/tubegate/internal/forward"
)

// heapAfterGC is the live heap once garbage, and what sync.Pools hold
// (kept for one collection), are gone.
func heapAfterGC() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// A tube that has carried bulk data and is idle again holds no more than
// one that carried a few bytes: x/crypto's AEAD ciphers used to keep a
// buffer the size of the largest packet each way for the tube's lifetime
// (about 64 KiB a tube on the gateway, as much on a Go client), which made
// an idle gateway grow with every tube a stream had ever crossed (make soak).
func TestBulkDataLeavesNoBuffersInIdleTubes(t *testing.T) {
	const tubes, size = 32, 256 << 10
	g := startGateway(t, Limits{})
	g.addUser(t, "alice")
	var addrs []*net.TCPAddr
	for range tubes {
		c := g.dial(t, "alice")
		ln, err := c.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go echo(ln)
		addrs = append(addrs, ln.Addr().(*net.TCPAddr))
	}
	idle := func() bool { // every stream's connection has left its endpoint
		for _, a := range addrs {
			ep := g.srv.cfg.Registry.Get(forward.AddressOf("127.0.0.1", a.Port))
			if ep == nil || ep.Conns.Len() != 0 {
				return false
			}
		}
		return true
	}
	// A small stream through each first, so that both readings see tubes
	// that have carried a stream, channels, goroutines and all.
	for i, a := range addrs {
		if err := sha256Echo(a.String(), i, 1<<10); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the small streams to end", idle)
	before := heapAfterGC()
	for i, a := range addrs {
		if err := sha256Echo(a.String(), i, size); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the bulk streams to end", idle)
	after := heapAfterGC()
	perTube := (after - before) / tubes
	t.Logf("heap %d → %d bytes: %d bytes a tube (gateway and client) after a %d KiB stream", before, after, perTube, size>>10)
	if perTube > 8<<10 {
		t.Errorf("each idle tube kept %d more bytes after carrying %d KiB (gateway and client, both in this process); want under 8 KiB",
			perTube, size>>10)
	}
}

// An idle tube holds no read or write buffer of its own: upstream
// x/crypto/ssh gives every connection a 4 KiB bufio.Reader and
// bufio.Writer for its life, which were a quarter of what an idle tube
// cost the gateway (docs/perf/idle-memory.md). The heap is read after a
// collection, with the gateway and its clients in this process; the
// tubes publish virtual names, so no listener adds to them.
func TestIdleTubesHoldNoIOBuffers(t *testing.T) {
	const tubes = 64
	g := startGateway(t, Limits{})
	g.addUser(t, "alice")
	before := heapAfterGC()
	for i := range tubes {
		c := g.dial(t, "alice")
		ok, _, err := c.SendRequest(forward.ReqTCPIPForward, true,
			ssh.Marshal(forward.ForwardRequest{BindAddr: fmt.Sprintf("idle%d.alice", i), BindPort: 1}))
		if err != nil || !ok {
			t.Fatalf("tube %d: tcpip-forward: %v %v", i, ok, err)
		}
		// A keepalive each way, as an idle tube sees.
		if _, _, err := c.SendRequest("keepalive@openssh.com", true, nil); err != nil {
			t.Fatal(err)
		}
	}
	after := heapAfterGC()
	perTube := (after - before) / tubes
	t.Logf("heap %d → %d bytes: %d bytes an idle tube (gateway and client)", before, after, perTube)
	// About 40 KiB with both ends' bufio buffers (16 KiB of it), 23 KiB
	// without.
	const want = 32 << 10
	if perTube > want {
		t.Errorf("an idle tube (gateway and client) holds %d bytes of heap; want at most %d", perTube, want)
	}
}
