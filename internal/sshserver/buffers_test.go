package sshserver

import (
	"net"
	"runtime"
	"testing"

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
