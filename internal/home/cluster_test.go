package home

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/tubegate/tubegate/internal/cluster"
	"github.com/tubegate/tubegate/internal/cluster/redistest"
	"github.com/tubegate/tubegate/internal/forward"
	"github.com/tubegate/tubegate/internal/webapi"
)

const waitLimit = 15 * time.Second // liveness bound of every wait

// node is one gateway of a test cluster: its registry in the directory.
type node struct {
	cl  *cluster.Cluster
	reg *forward.Registry
}

func clusterNode(t *testing.T, srv *redistest.Server, id string) *node {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.DiscardHandler)
	cl, err := cluster.Open(ctx, cluster.Config{URL: srv.URL(), NodeID: id, NodeAddr: "http://" + id + ".invalid",
		PingEvery: 50 * time.Millisecond, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	dir := cluster.NewDirectory(cl, nil, cluster.DirectoryConfig{TTL: 2 * time.Second, Refresh: 200 * time.Millisecond,
		Timeout: time.Second, Log: log})
	reg := forward.NewRegistry(log)
	reg.SetDirectory(dir)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); cl.Run(ctx) }()
	go func() { defer wg.Done(); dir.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait(); cl.Close() })
	return &node{cl: cl, reg: reg}
}

type grants map[string]forward.Policy

func (g grants) Policy(user string) (forward.Policy, error) { return g[user], nil }

// userServer serves the home API with every request logged in as the
// user named by the X-User header, polling the directory every 100 ms.
func userServer(t *testing.T, ctx context.Context, reg *forward.Registry, pols grants) *httptest.Server {
	t.Helper()
	api := New(Config{Context: ctx, Registry: reg, Users: pols, PublicURL: "https://gw.test", Log: slog.New(slog.DiscardHandler)})
	api.poll.every = 100 * time.Millisecond
	r := chi.NewRouter()
	r.Use(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			u := req.Header.Get("X-User")
			next.ServeHTTP(w, webapi.Provide(req, func() (*webapi.Session, bool) { return &webapi.Session{User: u, CSRF: "x"}, true }))
		})
	})
	api.Mount(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, srv *httptest.Server, user, path string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.URL+path, nil)
	req.Header.Set("X-User", user)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func homeOf(t *testing.T, srv *httptest.Server, user string) List {
	t.Helper()
	resp := get(t, srv, user, "/api/home")
	defer resp.Body.Close()
	var l List
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET /api/home as %s: %s %s", user, resp.Status, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(&l); err != nil {
		t.Fatal(err)
	}
	return l
}

// where writes entries as "TARGET@NODE" ("TARGET@" for this node's).
func where(l List) string {
	var s []string
	for _, e := range l.Entries {
		s = append(s, e.Target+"@"+e.Node)
	}
	return strings.Join(s, " ")
}

// On a cluster, a user's home list on any node holds their endpoints on
// every node, with the node of each; another user sees them only as their
// grants allow; Redis down leaves this node's endpoints and a note.
func TestClusterHomeList(t *testing.T) {
	srv := redistest.Start(t)
	n1, n2 := clusterNode(t, srv, "n1"), clusterNode(t, srv, "n2")
	ctx := context.Background()
	pub := func(n *node, o *testOwner, host string, port int) *forward.Endpoint {
		ep, err := n.reg.Publish(ctx, o, forward.Policy{}, host, port)
		if err != nil {
			t.Fatal(err)
		}
		return ep
	}
	pub(n1, &testOwner{user: "alice"}, "far.alice", 22)
	pub(n1, &testOwner{user: "alice"}, "secret.alice", 22)
	pub(n2, &testOwner{user: "alice"}, "near.alice", 22)
	pols := grants{"carol": policy(t, "far.alice@alice:22")}
	api2 := userServer(t, ctx, n2.reg, pols)
	api1 := userServer(t, ctx, n1.reg, pols)

	if got, want := where(homeOf(t, api2, "alice")), "near.alice:22@ far.alice:22@n1 secret.alice:22@n1"; got != want {
		t.Errorf("alice's list on node 2: %s, want %s", got, want)
	}
	if got, want := where(homeOf(t, api1, "alice")), "far.alice:22@ secret.alice:22@ near.alice:22@n2"; got != want {
		t.Errorf("alice's list on node 1: %s, want %s", got, want)
	}
	if got := where(homeOf(t, api2, "carol")); got != "far.alice:22@n1" {
		t.Errorf("carol's list on node 2: %s, want alice's granted name only", got)
	}
	if l := homeOf(t, api2, "bob"); len(l.Entries) != 0 || l.Unavailable != "" {
		t.Errorf("bob's list on node 2: %s %q, want nothing", where(l), l.Unavailable)
	}

	srv.Stop()
	deadline := time.Now().Add(waitLimit)
	for !errors.Is(n2.cl.Health(), cluster.ErrUnavailable) {
		if time.Now().After(deadline) {
			t.Fatal("node 2 did not notice redis stopped")
		}
		time.Sleep(20 * time.Millisecond)
	}
	l := homeOf(t, api2, "alice")
	if where(l) != "near.alice:22@" || !strings.HasPrefix(l.Unavailable, "cluster unavailable: redis unreachable") {
		t.Errorf("alice's list on node 2, redis down: %s, note %q", where(l), l.Unavailable)
	}
	if strings.Contains(l.Unavailable, "127.0.0.1") {
		t.Errorf("the note tells the user where Redis is: %q", l.Unavailable)
	}
}

// The event stream follows other nodes' publishes through the node's poll
// of the directory, and says when the directory cannot be read.
func TestClusterHomeEvents(t *testing.T) {
	srv := redistest.Start(t)
	n1, n2 := clusterNode(t, srv, "n1"), clusterNode(t, srv, "n2")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	api2 := userServer(t, ctx, n2.reg, grants{})
	resp := get(t, api2, "alice", "/api/home/events")
	defer resp.Body.Close()
	events := make(chan List, 16)
	go func() {
		lines := bufio.NewScanner(resp.Body)
		for lines.Scan() {
			if d, ok := strings.CutPrefix(lines.Text(), "data: "); ok {
				var l List
				if json.Unmarshal([]byte(d), &l) == nil {
					events <- l
				}
			}
		}
		close(events)
	}()
	waitFor := func(what string, ok func(List) bool) List {
		t.Helper()
		timeout := time.After(waitLimit)
		for {
			select {
			case l, open := <-events:
				if !open {
					t.Fatalf("%s: the stream ended", what)
				}
				if ok(l) {
					return l
				}
			case <-timeout:
				t.Fatalf("%s: no such event within %s", what, waitLimit)
			}
		}
	}
	waitFor("the first list, empty", func(l List) bool { return len(l.Entries) == 0 })
	ep, err := n1.reg.Publish(ctx, &testOwner{user: "alice"}, forward.Policy{}, "far.alice", 22)
	if err != nil {
		t.Fatal(err)
	}
	waitFor("node 1's name", func(l List) bool { return where(l) == "far.alice:22@n1" })
	n1.reg.Unpublish(ep)
	waitFor("node 1's name gone", func(l List) bool { return len(l.Entries) == 0 })
	srv.Stop()
	waitFor("the note", func(l List) bool { return strings.HasPrefix(l.Unavailable, "cluster unavailable: redis unreachable") })
	srv.Restart()
	waitFor("the note gone", func(l List) bool { return l.Unavailable == "" })
}
