package nodelink

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tubegate/tubegate/internal/cluster"
	"github.com/tubegate/tubegate/internal/connlimit"
	"github.com/tubegate/tubegate/internal/forward"
)

// syncBuf is a log sink safe for concurrent writers.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// endpoints is a loopback TCP server standing for what tubes deliver to:
// "echo" echoes until EOF and then half-closes; "greet" says hi,
// half-closes, and keeps what it reads after that; "sink" discards to
// EOF, then says done.
type endpoints struct {
	ln     net.Listener
	active atomic.Int64
	mu     sync.Mutex
	heard  []string // what "greet" read after its half-close
}

func startEndpoints(t testing.TB) *endpoints {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &endpoints{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			e.active.Add(1)
			go e.serve(c)
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return e
}

func (e *endpoints) serve(c net.Conn) {
	defer e.active.Add(-1)
	defer c.Close()
	var kind [5]byte
	if _, err := io.ReadFull(c, kind[:]); err != nil {
		return
	}
	switch string(kind[:]) {
	case "echo:":
		io.Copy(c, c)
		c.(*net.TCPConn).CloseWrite()
		io.Copy(io.Discard, c)
	case "greet":
		c.Write([]byte("hi"))
		c.(*net.TCPConn).CloseWrite()
		b, _ := io.ReadAll(c)
		e.mu.Lock()
		e.heard = append(e.heard, string(b))
		e.mu.Unlock()
	case "sink:":
		io.Copy(io.Discard, c)
		c.Write([]byte("done"))
	}
}

// fakeLocal serves a node's endpoints: key -> tube that holds it; every
// endpoint is the endpoints server, told its kind by the key's first five
// bytes (echo:..., greet..., sink:...).
type fakeLocal struct {
	ep *endpoints

	mu      sync.Mutex
	held    map[string]string
	alive   map[string]bool
	closed  []string
	origins []net.Addr
	block   bool // OpenLocal waits for its context
}

func newFakeLocal(ep *endpoints) *fakeLocal {
	return &fakeLocal{ep: ep, held: map[string]string{}, alive: map[string]bool{}}
}

func (f *fakeLocal) hold(key, tube string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.held[key] = tube
}

func (f *fakeLocal) OpenLocal(ctx context.Context, key, tube string, origin net.Addr) (net.Conn, error) {
	f.mu.Lock()
	held, block := f.held[key], f.block
	f.origins = append(f.origins, origin)
	f.mu.Unlock()
	if block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if held != tube {
		return nil, forward.Refusedf("endpoint %s is no longer held by tube %s", key, tube)
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", f.ep.ln.Addr().String())
	if err != nil {
		return nil, err
	}
	if len(key) < 5 {
		c.Close()
		return nil, errors.New("bad test key")
	}
	if _, err := c.Write([]byte(key[:5])); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (f *fakeLocal) ProbeLocal(ctx context.Context, tube string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.alive[tube]
}

func (f *fakeLocal) CloseLocal(tube string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = append(f.closed, tube)
	return nil
}

// node is a Link served on a loopback httptest server.
type node struct {
	link   *Link
	srv    *httptest.Server
	local  *fakeLocal
	logs   *syncBuf
	cancel context.CancelFunc
	node   cluster.Node
}

var testSecret = bytes.Repeat([]byte{7}, 32)

// newNode starts node id with cfg (Secret, NodeID, Local, Log filled in
// when empty), serving with a ReadHeaderTimeout as the gateway's listener
// has one (headerTimeout, default 10s). tls serves https.
func newNode(t testing.TB, id string, local *fakeLocal, cfg Config, tls bool, headerTimeout ...time.Duration) *node {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuf{}
	cfg.Context = ctx
	cfg.NodeID = id
	if cfg.Secret == nil && cfg.Cluster == nil {
		cfg.Secret = testSecret
	}
	if local != nil {
		cfg.Local = local
	}
	cfg.Log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	l, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(l.Handler())
	srv.Config.ReadHeaderTimeout = 10 * time.Second
	if len(headerTimeout) > 0 {
		srv.Config.ReadHeaderTimeout = headerTimeout[0]
	}
	// The gateway's listener wraps its connections (connection caps): the
	// hijacked stream half-closes through the wrapper.
	srv.Listener = connlimit.Wrap(srv.Listener, connlimit.Config{PerSource: 1 << 20, Total: 1 << 20})
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(func() { cancel(); srv.Close() })
	return &node{link: l, srv: srv, local: local, logs: logs, cancel: cancel, node: cluster.Node{ID: id, Addr: srv.URL}}
}

// pair is node A (calls out) and node B (serves a fakeLocal).
func pair(t testing.TB, cfgA, cfgB Config) (a, b *node, ep *endpoints) {
	ep = startEndpoints(t)
	b = newNode(t, "node-b", newFakeLocal(ep), cfgB, false)
	a = newNode(t, "node-a", nil, cfgA, false)
	return a, b, ep
}

// eventually waits (bounded, for liveness) until cond holds.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("still not so after 10s: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
