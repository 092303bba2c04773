package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// clusterLinkWorld is a two-node cluster world where alice publishes app.alice:80 with ssh -R
// through node A (node 1, the world's gw) to the share backend "alpha"; b is node B.
type clusterLinkWorld struct {
	*clusterWorld
	b *gateway
}

func newClusterLinkWorld(t *testing.T) *clusterLinkWorld {
	t.Helper()
	cw := newClusterWorld(t, 2)
	cw.addUser(t, "alice")
	alpha := startShareBackend(t, "alpha")
	cw.remoteForward(t, fmt.Sprintf("app.alice:80:localhost:%d", alpha.port), "alice.n1")
	return &clusterLinkWorld{clusterWorld: cw, b: cw.nodes[1]}
}

// TestClusterLinkRevoke: on a cluster, a link made with `gateway link create --cluster` is in
// Redis: node A serves it (the endpoint's tube is on A), node B knows it (no 404; reaching A's
// endpoint from B is the endpoint directory's part), `link list --cluster` shows it whatever the
// data dir, and `gateway link revoke --cluster` cuts a download running through node A within a
// second or so (published on Redis; measured and logged, polled for up to waitTimeout); both
// nodes then answer "revoked". A link with --max-uses 1 counts its use across the nodes.
func TestClusterLinkRevoke(t *testing.T) {
	w := newClusterLinkWorld(t)
	url := w.redis.URL()
	link := createLink(t, w.gw, "app.alice:80", "--user", "alice", "--cluster", url)
	if status, body, _ := httpGet(t, link.pathURL(w.gw, "")); status != http.StatusOK || body != "hello from alpha" {
		t.Fatalf("GET through the link on node A: %d %q", status, body)
	}
	if status, body, _ := httpGet(t, link.pathURL(w.b, "")); status == http.StatusNotFound {
		t.Fatalf("node B does not know the link made in Redis: %d %q", status, body)
	}
	if res := w.b.mustCLI(t, "", "link", "list", "--cluster", url); !strings.Contains(res.stdout, link.id) {
		t.Fatalf("link list --cluster with node B's data dir does not show %s:\n%s", link.id, res.stdout)
	}
	res := runProgram(t, cmdTimeout, "", []string{"GATEWAY_CLUSTER=" + url}, w.b.bin, "link", "list", "--data", w.b.dataDir)
	if res.code != 0 || !strings.Contains(res.stdout, link.id) {
		t.Fatalf("link list with GATEWAY_CLUSTER does not show %s: %s", link.id, res)
	}
	if res := w.gw.mustCLI(t, "", "link", "list"); strings.Contains(res.stdout, link.id) {
		t.Fatalf("the cluster's link is in node A's data dir too:\n%s", res.stdout)
	}

	// One use across the nodes: the viewer on A takes it, a new viewer on B is refused.
	once := createLink(t, w.gw, "app.alice:80", "--user", "alice", "--max-uses", "1", "--cluster", url)
	if status, _, _ := httpGet(t, once.pathURL(w.gw, "")); status != http.StatusOK {
		t.Fatalf("the one use of a --max-uses 1 link on node A: %d", status)
	}
	if status, body, _ := httpGet(t, once.pathURL(w.b, "")); status != http.StatusGone {
		t.Fatalf("a second viewer on node B: %d %q, want 410 used up (the use was taken on A)", status, body)
	}

	stream := startStream(t, link.pathURL(w.gw, "stream"))
	start := time.Now()
	w.b.mustCLI(t, "", "link", "revoke", link.id, "--cluster", url)
	stream.requireCut(t, start, "gateway link revoke --cluster (node B's data dir), download through node A")
	for name, g := range map[string]*gateway{"A": w.gw, "B": w.b} {
		if status, body, _ := httpGet(t, link.pathURL(g, "")); status != http.StatusNotFound || body != "this link was revoked\n" {
			t.Fatalf("node %s after the revoke: %d %q, want 404 revoked", name, status, body)
		}
	}
	if !strings.Contains(w.gw.proc.out.String(), "share link gone: cut its connections") {
		t.Fatalf("node A did not log the cut:\n%s", w.gw.proc.out)
	}
}

// TestClusterLinksRedisDown: with Redis stopped, `gateway link create --cluster` is refused with
// "cluster unavailable: redis unreachable"; node A keeps serving a link it read just before (its
// copy, for the grace) and answers 503, not 404, for a link it cannot look up; once Redis is back
// both work again without a restart.
func TestClusterLinksRedisDown(t *testing.T) {
	w := newClusterLinkWorld(t)
	url := w.redis.URL()
	seen := createLink(t, w.gw, "app.alice:80", "--user", "alice", "--cluster", url)
	unseen := createLink(t, w.gw, "app.alice:80", "--user", "alice", "--cluster", url)
	if status, _, _ := httpGet(t, seen.pathURL(w.gw, "")); status != http.StatusOK {
		t.Fatalf("GET before the outage: %d", status)
	}

	w.redis.Stop()
	res := w.gw.cli(t, "", "link", "create", "app.alice:80", "--user", "alice", "--cluster", url)
	if res.code == 0 || !strings.Contains(res.stderr, "redis unreachable") {
		t.Fatalf("link create with Redis down: %s", res)
	}
	if status, body, _ := httpGet(t, seen.pathURL(w.gw, "")); status != http.StatusOK || body != "hello from alpha" {
		t.Fatalf("a link read just before the outage, on node A: %d %q, want its copy served", status, body)
	}
	status, body, _ := httpGet(t, unseen.pathURL(w.gw, ""))
	if status != http.StatusServiceUnavailable || !strings.Contains(body, "redis unreachable") {
		t.Fatalf("a link node A never read, with Redis down: %d %q, want 503 cluster unavailable", status, body)
	}

	w.redis.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, body, _ = httpGet(t, unseen.pathURL(w.gw, ""))
		if status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node A after Redis came back: %d %q", status, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	createLink(t, w.gw, "app.alice:80", "--user", "alice", "--cluster", url)
}
