package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"
)

// clusterHome is GET /api/home as a cluster node answers it.
type clusterHome struct {
	Entries []struct {
		Target, Endpoint, Publisher, Node, State string
		Mine                                     bool
	}
	Unavailable string
}

func getClusterHome(t *testing.T, c *webClient) clusterHome {
	t.Helper()
	status, body := c.call(t, "GET", "/api/home", nil)
	var l clusterHome
	if status != http.StatusOK || json.Unmarshal([]byte(body), &l) != nil {
		t.Fatalf("GET %s/api/home: %d %s", c.base, status, body)
	}
	return l
}

// where writes the list as sorted "TARGET@NODE" ("TARGET@" for the serving node's own).
func (l clusterHome) where() string {
	var s []string
	for _, e := range l.Entries {
		s = append(s, e.Target+"@"+e.Node)
	}
	sort.Strings(s)
	return strings.Join(s, " ")
}

// TestClusterHome: on a two-node cluster, alice publishes names on node 1 and a port on node 2. The
// page's home list on each node lists all three, each with the node that holds it when that is
// the other node; bob sees none of them, carol only the name granted to her; the status command of
// `ssh gw` on node 2 lists all three; a share link made on node 2 from the home list's entry of a
// name on node 1 works; with Redis stopped node 2 lists its own port and says why the rest is
// missing, and `ssh gw status` says so too.
func TestClusterHome(t *testing.T) {
	cw := newClusterWorld(t, 2)
	const pw = "cluster-Home-5821"
	cw.addUser(t, "alice")
	cw.addUser(t, "bob")
	cw.addUser(t, "carol", "--permit-open", "home1.alice@alice:22")
	for _, u := range []string{"alice", "bob", "carol"} {
		cw.mustCLI(t, pw+"\n", "user", "set", u, "--password-stdin")
	}
	alpha := startShareBackend(t, "alpha")
	port := freePort(t)
	cw.remoteForward(t, fmt.Sprintf("home1.alice:22:localhost:%d", cw.target.port), "alice.n1")
	cw.remoteForward(t, fmt.Sprintf("web.alice:80:localhost:%d", alpha.port), "alice.n1")
	cw.remoteForward(t, fmt.Sprintf("%d:localhost:%d", port, cw.target.port), "alice.n2")

	wants := []string{
		fmt.Sprintf("home1.alice:22@ localhost:%d@node2 web.alice:80@", port),
		fmt.Sprintf("home1.alice:22@node1 localhost:%d@ web.alice:80@node1", port),
	}
	for i, g := range cw.nodes {
		alice := webLogin(t, g, "alice", pw)
		if got := getClusterHome(t, alice).where(); got != wants[i] {
			t.Errorf("alice's home list on node%d: %s, want %s", i+1, got, wants[i])
		}
		bob := webLogin(t, g, "bob", pw)
		if l := getClusterHome(t, bob); len(l.Entries) != 0 {
			t.Errorf("bob's home list on node%d: %s, want nothing of alice's", i+1, l.where())
		}
		carol := webLogin(t, g, "carol", pw)
		want := "home1.alice:22@node1"
		if i == 0 {
			want = "home1.alice:22@"
		}
		if got := getClusterHome(t, carol).where(); got != want {
			t.Errorf("carol's home list on node%d: %s, want her grant only, %s", i+1, got, want)
		}
	}

	res := cw.sshRun(t, "alice.n2", "status")
	for _, want := range []string{"Your endpoints (3,", "home1.alice:22", "web.alice:80", "on node node1", fmt.Sprint(port)} {
		if res.code != 0 || !strings.Contains(res.stdout, want) {
			t.Errorf("ssh alice.n2 status: want %q in the output: %s", want, res)
		}
	}

	// A share link made on node 2, as the page's "Share link" makes it, for the name on node 1.
	alice2 := webLogin(t, cw.nodes[1], "alice", pw)
	endpoint := ""
	for _, e := range getClusterHome(t, alice2).Entries {
		if e.Target == "web.alice:80" {
			endpoint = e.Endpoint
		}
	}
	status, body := alice2.call(t, "POST", "/api/links", map[string]any{"endpoint": endpoint, "expires": "1h"})
	var created struct {
		PathURL string `json:"path_url"`
	}
	if status != http.StatusCreated && status != http.StatusOK || json.Unmarshal([]byte(body), &created) != nil {
		t.Fatalf("POST /api/links on node 2 for %q: %d %s", endpoint, status, body)
	}
	if status, body, _ := httpGet(t, created.PathURL); status != http.StatusOK || body != "hello from alpha" {
		t.Fatalf("GET %s (a link to node 1's name, made on node 2): %d %q", created.PathURL, status, body)
	}

	cw.redis.Stop()
	deadline := time.Now().Add(waitTimeout)
	var l clusterHome
	for {
		l = getClusterHome(t, alice2)
		if l.Unavailable != "" || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if want := fmt.Sprintf("localhost:%d@", port); l.where() != want || !strings.HasPrefix(l.Unavailable, "cluster unavailable: redis unreachable") {
		t.Errorf("alice's home list on node 2 with Redis down: %s, note %q; want %s and \"cluster unavailable: redis unreachable\"",
			l.where(), l.Unavailable, want)
	}
	res = cw.sshRun(t, "alice.n2", "status")
	if !strings.Contains(res.stdout, "cluster unavailable: redis unreachable") || !strings.Contains(res.stdout, fmt.Sprint(port)) {
		t.Errorf("ssh alice.n2 status with Redis down: want the local port and the note: %s", res)
	}
	t.Logf("node 2 with Redis down lists %s, and says %q", l.where(), l.Unavailable)
}
