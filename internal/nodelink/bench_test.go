package nodelink

import (
	"context"
	"io"
	"net"
	"testing"
)

// sinkThrough writes b.N chunks of 64 KiB into c (a connection to a sink
// endpoint), half-closes and waits for the sink's "done".
func sinkThrough(b *testing.B, c net.Conn) {
	buf := make([]byte, 64<<10)
	b.SetBytes(int64(len(buf)))
	b.ResetTimer()
	for range b.N {
		if _, err := c.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	c.(interface{ CloseWrite() error }).CloseWrite()
	if got, err := io.ReadAll(c); err != nil || string(got) != "done" {
		b.Fatalf("sink answered %q, %v", got, err)
	}
	b.StopTimer()
	c.Close()
}

// BenchmarkStream is bulk bytes through one node-to-node stream: caller
// -> TCP -> serving node (hijacked, piped) -> TCP -> the endpoint.
func BenchmarkStream(b *testing.B) {
	a, n, _ := pair(b, Config{}, Config{})
	n.local.hold("sink:", "tube1")
	c, err := a.link.Open(context.Background(), n.node, "sink:", "tube1", origin)
	if err != nil {
		b.Fatal(err)
	}
	sinkThrough(b, c)
}

// BenchmarkLoopbackTCP is the baseline: the same bytes straight to the
// endpoint over one loopback TCP connection.
func BenchmarkLoopbackTCP(b *testing.B) {
	ep := startEndpoints(b)
	c, err := net.Dial("tcp", ep.ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	c.Write([]byte("sink:"))
	sinkThrough(b, c)
}
