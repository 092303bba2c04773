package nodelink

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/tubegate/tubegate/internal/cluster"
	"github.com/tubegate/tubegate/internal/connlimit"
	"github.com/tubegate/tubegate/internal/edge"
	"github.com/tubegate/tubegate/internal/httpapi"
)

// Mounted as the gateway mounts its parts (httpapi's router and
// middleware, the edge, the per-client request cap, the listener's
// connection caps), the link still upgrades, half-closes and refuses.
func TestThroughTheGatewayStack(t *testing.T) {
	ep := startEndpoints(t)
	local := newFakeLocal(ep)
	local.hold("greet", "tube1")
	log := slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b, err := New(Config{Context: ctx, Secret: testSecret, NodeID: "node-b", Local: local})
	if err != nil {
		t.Fatal(err)
	}
	h := httpapi.New(httpapi.Config{Context: ctx, Log: log, Mount: []func(chi.Router){b.Mount}})
	front := edge.New(edge.Config{ListenHost: "127.0.0.1", Log: log})
	perClient := connlimit.NewRequests(256, func(*http.Request) (netip.Addr, bool) { return netip.Addr{}, false }, log)
	srv := httptest.NewUnstartedServer(front.Handler(perClient.Handler(h)))
	srv.Config.ReadHeaderTimeout = time.Second
	srv.Config.ReadTimeout = 30 * time.Second
	srv.Listener = connlimit.Wrap(srv.Listener, connlimit.Config{PerSource: 256, Total: 1024})
	srv.Start()
	defer srv.Close()

	a := newNode(t, "node-a", nil, Config{}, false)
	c, err := a.link.Open(context.Background(), cluster.Node{ID: "node-b", Addr: srv.URL}, "greet", "tube1", origin)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 2)
	if _, err := c.Read(buf); err != nil || string(buf) != "hi" {
		t.Fatalf("read %q, %v", buf, err)
	}
	if _, err := c.Write([]byte("late")); err != nil {
		t.Fatal(err)
	}
	c.(interface{ CloseWrite() error }).CloseWrite()
	eventually(t, "the endpoint read the late bytes to EOF", func() bool {
		ep.mu.Lock()
		defer ep.mu.Unlock()
		return len(ep.heard) == 1
	})
	if ep.heard[0] != "late" {
		t.Errorf("endpoint heard %q", ep.heard[0])
	}
	wrong := newNode(t, "node-a", nil, Config{Secret: make([]byte, 32)}, false)
	if _, err := wrong.link.Probe(context.Background(), cluster.Node{ID: "node-b", Addr: srv.URL}, "tube1"); err == nil {
		t.Error("probe with the wrong secret answered")
	}
}
