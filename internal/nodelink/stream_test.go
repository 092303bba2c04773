package nodelink

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/tubegate/tubegate/internal/forward"
)

var origin = &net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 41234}

// echoRoundTrip sends n random bytes through c while reading them back,
// half-closes, and checks the echo, then EOF.
func echoRoundTrip(t testing.TB, c net.Conn, n int) {
	t.Helper()
	data := make([]byte, n)
	rand.Read(data)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		if err == nil {
			err = c.(interface{ CloseWrite() error }).CloseWrite()
		}
		errc <- err
	}()
	h := sha256.New()
	got, err := io.Copy(h, c)
	if err != nil {
		t.Errorf("read echo: %v", err)
		return
	}
	if err := <-errc; err != nil {
		t.Errorf("write: %v", err)
		return
	}
	want := sha256.Sum256(data)
	if got != int64(n) || !bytes.Equal(h.Sum(nil), want[:]) {
		t.Errorf("echo: got %d bytes (sha %x), want %d (sha %x)", got, h.Sum(nil)[:8], n, want[:8])
	}
}

func TestStreamLargeBothWays(t *testing.T) {
	a, b, ep := pair(t, Config{}, Config{})
	b.local.hold("echo:big", "tube1")
	c, err := a.link.Open(context.Background(), b.node, "echo:big", "tube1", origin)
	if err != nil {
		t.Fatal(err)
	}
	echoRoundTrip(t, c, 40<<20)
	c.Close()
	eventually(t, "streams and endpoint connections all closed", func() bool {
		in, _ := b.link.Streams()
		_, out := a.link.Streams()
		return in == 0 && out == 0 && ep.active.Load() == 0
	})
}

func TestStreamManyConcurrent(t *testing.T) {
	a, b, ep := pair(t, Config{}, Config{})
	b.local.hold("echo:many", "tube1")
	// The loopback dial of one stream, so that the client's pool of idle
	// connections is as it will be after.
	if c, err := a.link.Open(context.Background(), b.node, "echo:many", "tube1", origin); err == nil {
		echoRoundTrip(t, c, 1)
		c.Close()
	}
	eventually(t, "the first stream closed", func() bool { in, _ := b.link.Streams(); return in == 0 && ep.active.Load() == 0 })
	goroutines, sockets := runtime.NumGoroutine(), openSockets()
	const n = 200
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			c, err := a.link.Open(context.Background(), b.node, "echo:many", "tube1", origin)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			echoRoundTrip(t, c, 256<<10)
		})
	}
	wg.Wait()
	eventually(t, "all streams closed", func() bool {
		in, _ := b.link.Streams()
		return in == 0 && ep.active.Load() == 0
	})
	// Nothing held once both sides are done: no goroutine, no socket.
	eventually(t, "goroutines and sockets back to where they were", func() bool {
		return runtime.NumGoroutine() <= goroutines && openSockets() <= sockets
	})
}

// openSockets counts this process's sockets (-1 where /proc has none). Pipes
// are not counted: io.Copy between two TCP connections splices through a
// pipe from the runtime's pool, which keeps it, two descriptors, until a
// garbage collection (a run with the collector off held 367 of them after
// the 200 streams, and none once it ran).
func openSockets() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.HasPrefix(l, "socket:") {
			n++
		}
	}
	return n
}

// A half-close goes both ways: the endpoint's FIN reaches the caller
// while the caller can still send, and the caller's reaches the endpoint.
func TestStreamHalfClose(t *testing.T) {
	a, b, ep := pair(t, Config{}, Config{})
	b.local.hold("greet", "tube1")
	c, err := a.link.Open(context.Background(), b.node, "greet", "tube1", origin)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got, err := io.ReadAll(c) // ends at the endpoint's half-close
	if err != nil || string(got) != "hi" {
		t.Fatalf("read %q, %v; want hi then EOF", got, err)
	}
	if _, err := c.Write([]byte("after your FIN")); err != nil {
		t.Fatalf("write after the peer's half-close: %v", err)
	}
	if err := c.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the endpoint read to EOF", func() bool {
		ep.mu.Lock()
		defer ep.mu.Unlock()
		return len(ep.heard) == 1
	})
	if ep.heard[0] != "after your FIN" {
		t.Errorf("endpoint heard %q", ep.heard[0])
	}
}

func TestStreamOriginPassedThrough(t *testing.T) {
	a, b, _ := pair(t, Config{}, Config{})
	b.local.hold("echo:o", "tube1")
	for _, o := range []net.Addr{origin, &net.TCPAddr{IP: net.ParseIP("2001:db8::5"), Port: 22}, forward.Addr{Net: "pipe", Address: "stdio"}} {
		c, err := a.link.Open(context.Background(), b.node, "echo:o", "tube1", o)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	b.local.mu.Lock()
	defer b.local.mu.Unlock()
	want := []string{"tcp 192.0.2.7:41234", "tcp [2001:db8::5]:22", "pipe stdio"}
	for i, o := range b.local.origins {
		if got := o.Network() + " " + o.String(); got != want[i] {
			t.Errorf("origin %d: %q, want %q", i, got, want[i])
		}
	}
	if _, ok := b.local.origins[0].(*net.TCPAddr); !ok {
		t.Errorf("a TCP origin arrives as %T, want *net.TCPAddr", b.local.origins[0])
	}
}

// The owning node re-checks: a tube that no longer holds the endpoint is
// a refusal the caller can tell apart (forward.ErrRefused), with why.
func TestOpenEndpointNoLongerHeld(t *testing.T) {
	a, b, _ := pair(t, Config{}, Config{})
	b.local.hold("echo:moved", "tube2")
	_, err := a.link.Open(context.Background(), b.node, "echo:moved", "tube1", origin)
	var pe *PeerError
	if !errors.Is(err, forward.ErrRefused) || !errors.As(err, &pe) || pe.Status != 409 ||
		!strings.Contains(err.Error(), "no longer held by tube tube1") || !strings.Contains(err.Error(), "node-b") {
		t.Fatalf("err = %v; want a 409 refusal from node-b saying the tube no longer holds it", err)
	}
	if in, _ := b.link.Streams(); in != 0 {
		t.Errorf("%d streams left open", in)
	}
}

func TestProbeAndCloseTube(t *testing.T) {
	a, b, _ := pair(t, Config{}, Config{})
	b.local.alive["t-alive"] = true
	for tube, want := range map[string]bool{"t-alive": true, "t-silent": false} {
		got, err := a.link.Probe(context.Background(), b.node, tube)
		if err != nil || got != want {
			t.Errorf("Probe(%s) = %v, %v; want %v", tube, got, err, want)
		}
	}
	if err := a.link.CloseTube(context.Background(), b.node, "t-old"); err != nil {
		t.Fatal(err)
	}
	b.local.mu.Lock()
	defer b.local.mu.Unlock()
	if fmt.Sprint(b.local.closed) != "[t-old]" {
		t.Errorf("closed %v, want [t-old]", b.local.closed)
	}
}

// When the serving node stops, its streams end: no stream outlives the
// gateway that carries it.
func TestStreamsEndWithTheLink(t *testing.T) {
	a, b, ep := pair(t, Config{}, Config{})
	b.local.hold("echo:s", "tube1")
	c, err := a.link.Open(context.Background(), b.node, "echo:s", "tube1", origin)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b.cancel()
	if _, err := io.ReadAll(c); err != nil {
		t.Logf("read after stop: %v", err)
	}
	eventually(t, "stream closed on the serving node", func() bool {
		in, _ := b.link.Streams()
		return in == 0 && ep.active.Load() == 0
	})
}

// An https node address: the peer's certificate is checked against the
// system roots plus --cluster-ca; without the CA the open fails.
func TestStreamOverTLS(t *testing.T) {
	ep := startEndpoints(t)
	b := newNode(t, "node-b", newFakeLocal(ep), Config{}, true)
	b.local.hold("echo:tls", "tube1")
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: b.srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	a := newNode(t, "node-a", nil, Config{CAFile: ca}, false)
	c, err := a.link.Open(context.Background(), b.node, "echo:tls", "tube1", origin)
	if err != nil {
		t.Fatal(err)
	}
	echoRoundTrip(t, c, 1<<20)
	c.Close()
	if ok, err := a.link.Probe(context.Background(), b.node, "x"); err != nil || ok {
		t.Errorf("probe over TLS: %v, %v", ok, err)
	}

	stranger := newNode(t, "node-c", nil, Config{}, false)
	_, err = stranger.link.Open(context.Background(), b.node, "echo:tls", "tube1", origin)
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("open without the CA: %v; want a certificate error", err)
	}
}
