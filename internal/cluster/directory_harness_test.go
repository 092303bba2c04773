package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tubegate/tubegate/internal/cluster/redistest"
	"github.com/tubegate/tubegate/internal/forward"
)

// Short times for tests; production defaults are 10s and 3s.
const (
	testTTL     = 1500 * time.Millisecond
	testRefresh = 200 * time.Millisecond
	waitLimit   = 15 * time.Second // liveness bound of every wait
)

// fakePeers stands for the node-to-node link: it calls the other nodes'
// registries (cluster.Local) in the same process. A node missing from it
// is unreachable.
type fakePeers struct {
	mu    sync.Mutex
	nodes map[string]Local
}

var errUnreachable = errors.New("node unreachable")

func (p *fakePeers) set(id string, l Local) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if l == nil {
		delete(p.nodes, id)
		return
	}
	p.nodes[id] = l
}

func (p *fakePeers) local(n Node) (Local, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if l := p.nodes[n.ID]; l != nil {
		return l, nil
	}
	return nil, fmt.Errorf("%s: %w", n.ID, errUnreachable)
}

func (p *fakePeers) Open(ctx context.Context, n Node, key, tube string, origin net.Addr) (net.Conn, error) {
	l, err := p.local(n)
	if err != nil {
		return nil, err
	}
	return l.OpenLocal(ctx, key, tube, origin)
}

func (p *fakePeers) Probe(ctx context.Context, n Node, tube string) (bool, error) {
	l, err := p.local(n)
	if err != nil {
		return false, err
	}
	return l.ProbeLocal(ctx, tube), nil
}

func (p *fakePeers) CloseTube(ctx context.Context, n Node, tube string) error {
	l, err := p.local(n)
	if err != nil {
		return err
	}
	return l.CloseLocal(tube)
}

// testNode is one gateway's directory and registry.
type testNode struct {
	id   string
	cl   *Cluster
	dir  *Directory
	reg  *forward.Registry
	stop context.CancelFunc // ends the health and refresh loops: a killed node

	metrics *prometheus.Registry
}

// metric is the value of the node's metric called name.
func (n *testNode) metric(t *testing.T, name string) float64 {
	t.Helper()
	mfs, err := n.metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		m := mf.GetMetric()[0]
		if g := m.GetGauge(); g != nil {
			return g.GetValue()
		}
		return m.GetCounter().GetValue()
	}
	t.Fatalf("no metric %s", name)
	return 0
}

type testCluster struct {
	t     *testing.T
	srv   *redistest.Server
	peers *fakePeers
}

func newTestCluster(t *testing.T) *testCluster {
	return &testCluster{t: t, srv: redistest.Start(t), peers: &fakePeers{nodes: make(map[string]Local)}}
}

func testLog(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func (tc *testCluster) node(id string) *testNode {
	t := tc.t
	ctx, cancel := context.WithCancel(context.Background())
	log := testLog(t).With("node", id)
	cl, err := Open(ctx, Config{URL: tc.srv.URL(), NodeID: id, NodeAddr: "http://" + id + ".invalid",
		PingEvery: 50 * time.Millisecond, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	metrics := prometheus.NewRegistry()
	dir := NewDirectory(cl, tc.peers, DirectoryConfig{TTL: testTTL, Refresh: testRefresh, Timeout: time.Second, Log: log,
		Metrics: metrics})
	reg := forward.NewRegistry(log)
	reg.SetDirectory(dir)
	tc.peers.set(id, reg)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); cl.Run(ctx) }()
	go func() { defer wg.Done(); dir.Run(ctx) }()
	n := &testNode{id: id, cl: cl, dir: dir, reg: reg, stop: cancel, metrics: metrics}
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		cl.Close()
	})
	return n
}

// kill stops the node's loops and cuts it off from its peers, as SIGKILL
// would; its claims stay in Redis until they expire.
func (tc *testCluster) kill(n *testNode) {
	n.stop()
	tc.peers.set(n.id, nil)
}

// tube stands for a tube: its client side answers every connection with
// what it reads, upper-cased.
type tube struct {
	user, id string
	alive    atomic.Bool
	closed   atomic.Bool
	lost     chan error
}

func newTube(user, id string) *tube {
	o := &tube{user: user, id: id, lost: make(chan error, 4)}
	o.alive.Store(true)
	return o
}

func (o *tube) User() string { return o.user }
func (o *tube) ID() string   { return o.id }
func (o *tube) Close() error { o.closed.Store(true); return nil }
func (o *tube) Probe(ctx context.Context) bool {
	return o.alive.Load() && !o.closed.Load()
}
func (o *tube) OpenForwarded(ctx context.Context, ep *forward.Endpoint, origin net.Addr) (net.Conn, error) {
	a, b := net.Pipe()
	go func() {
		defer b.Close()
		buf := make([]byte, 1024)
		for {
			n, err := b.Read(buf)
			if err != nil {
				return
			}
			if _, err := b.Write(bytes.ToUpper(buf[:n])); err != nil {
				return
			}
		}
	}()
	return a, nil
}
func (o *tube) EndpointLost(ep *forward.Endpoint, err error) { o.lost <- err }

// upper checks that c carries bytes both ways: msg out, MSG back.
func upper(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatalf("write through the endpoint: %v", err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != strings.ToUpper(msg) {
		t.Fatalf("read through the endpoint: %q, %v (want %q)", buf, err, strings.ToUpper(msg))
	}
}

// waitUntil polls cond until it holds, failing after waitLimit; it returns
// how long it took.
func waitUntil(t *testing.T, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > waitLimit {
			t.Fatalf("%s: not within %s", what, waitLimit)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

func name(n string) forward.Address { return forward.AddressOf(n, 22) }

func (n *testNode) publish(t *testing.T, o forward.Owner, host string) *forward.Endpoint {
	t.Helper()
	ep, err := n.reg.Publish(context.Background(), o, forward.Policy{}, host, 22)
	if err != nil {
		t.Fatalf("%s: publish %s for %s: %v", n.id, host, o.ID(), err)
	}
	return ep
}

// lookup is the directory's record of a, or nil.
func (n *testNode) lookup(t *testing.T, a forward.Address) *forward.Claim {
	t.Helper()
	c, err := n.dir.Lookup(context.Background(), a)
	if err != nil {
		t.Fatalf("%s: look up %s: %v", n.id, a, err)
	}
	return c
}
