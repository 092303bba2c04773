package nodelink

import (
	"context"
	"errors"
	"testing"

	"github.com/tubegate/tubegate/internal/cluster"
	"github.com/tubegate/tubegate/internal/cluster/redistest"
)

// Two nodes of one cluster read the same secret from Redis and link; a
// node of another cluster (another Redis) is refused. Once read, the
// secret is kept: streams open while Redis is down.
func TestSecretFromTheCluster(t *testing.T) {
	red := redistest.Start(t)
	other := redistest.Start(t)
	join := func(r *redistest.Server, id string) *cluster.Cluster {
		cl, err := cluster.Open(context.Background(), cluster.Config{URL: r.URL(), NodeID: id, NodeAddr: "http://127.0.0.1:1"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cl.Close() })
		return cl
	}
	ep := startEndpoints(t)
	b := newNode(t, "node-b", newFakeLocal(ep), Config{Cluster: join(red, "node-b")}, false)
	b.local.hold("echo:c", "tube1")
	clA := join(red, "node-a")
	a := newNode(t, "node-a", nil, Config{Cluster: clA}, false)
	stranger := newNode(t, "node-a", nil, Config{Cluster: join(other, "node-a")}, false)

	red.Stop()
	c, err := a.link.Open(context.Background(), b.node, "echo:c", "tube1", origin)
	if err != nil {
		t.Fatalf("open within the cluster, Redis down: %v", err)
	}
	echoRoundTrip(t, c, 1<<16)
	c.Close()
	if _, err := stranger.link.Open(context.Background(), b.node, "echo:c", "tube1", origin); err == nil {
		t.Error("a node of another cluster opened a stream")
	}
	// A link made while Redis is down cannot have the secret: a clear error.
	if _, err := New(Config{NodeID: "node-a", Cluster: clA}); !errors.Is(err, cluster.ErrUnavailable) {
		t.Errorf("New with Redis down: %v; want redis unreachable", err)
	}
}
