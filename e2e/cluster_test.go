package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// clusterTTL is the endpoint directory's TTL: a killed node's endpoints must be free for their
// reconnecting clients within it (plus the load of a CI machine: the bound below is generous).
const clusterTTL = 10 * time.Second

// requireJump requires `ssh -J VIA myhost 'echo ok'` to reach the throw-away sshd.
func (cw *clusterWorld) requireJump(t *testing.T, via string) {
	t.Helper()
	res := cw.sshRun(t, "-J", via, "myhost", "echo ok")
	if res.code != 0 || strings.TrimSpace(res.stdout) != "ok" {
		t.Fatalf("ssh -J %s myhost 'echo ok': want ok from the throw-away sshd: %s", via, res)
	}
}

// TestClusterAcrossNodes runs three nodes behind haproxy on one Redis. A virtual name published on
// node 1 is reached with `ssh -J` through node 2 and node 3 and through the load balancer; policy
// is checked on the node the request arrived at; a name held on one node is refused on another
// while its tube is alive; a name claimed at once on two nodes has one winner; a share link served
// by node 3 reaches a service published on node 1, and revoking it from node 2's page API cuts a
// live download through node 3; deleting a user cuts their tubes on every node.
func TestClusterAcrossNodes(t *testing.T) {
	cw := newClusterWorld(t, 3)
	cw.addUserPassword(t, "alice", browserPassword, "--permit-name", "myhost", "--permit-name", "myapp", "--permit-name", "race*")
	cw.addUser(t, "bob", "--permit-open", "myhost@alice:22")
	cw.addUser(t, "carol")
	cw.addUser(t, "dave", "--permit-name", "race*")
	cw.addUser(t, "erin")
	spec := fmt.Sprintf("myhost:22:localhost:%d", cw.target.port)
	cw.remoteForward(t, spec, "alice.n1")

	t.Run("jump through other nodes", func(t *testing.T) {
		cw.requireJump(t, "bob.n2")
		cw.requireJump(t, "bob.n3tcp")
		cw.requireJump(t, "alice.n3")
	})
	t.Run("jump through the load balancer", func(t *testing.T) {
		for i := 0; i < 3; i++ { // round robin: each lands on another node
			cw.requireJump(t, "bob.lb")
			cw.requireJump(t, "bob.lbtcp")
		}
	})
	t.Run("policy checked on the arriving node", func(t *testing.T) {
		res := cw.sshRun(t, "-J", "carol.n2", "myhost", "echo ok")
		if res.code == 0 || !strings.Contains(res.stderr, "administratively prohibited") {
			t.Fatalf("ssh -J carol.n2 myhost: want \"administratively prohibited\": %s", res)
		}
	})
	t.Run("a live claim on another node is kept", func(t *testing.T) {
		cw.remoteForwardRefused(t, spec, "alice.n2")
		cw.remoteForwardRefused(t, spec, "alice.n3tcp")
		cw.requireJump(t, "bob.n2") // the first claim is untouched
	})
	t.Run("claim race across nodes has one winner", func(t *testing.T) {
		for round := 0; round < 3; round++ {
			name := fmt.Sprintf("race%d:22:localhost:%d", round, cw.target.port)
			var wg sync.WaitGroup
			won := make([]bool, 2)
			for i, host := range []string{"alice.n2", "dave.n3"} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					p, err := cw.tryRemoteForward(t, name, host)
					won[i] = err == nil
					if err == nil {
						t.Cleanup(p.kill)
					} else {
						p.kill()
					}
				}()
			}
			wg.Wait()
			if won[0] == won[1] {
				t.Fatalf("round %d: alice on node 2 won %v, dave on node 3 won %v: want exactly one winner", round, won[0], won[1])
			}
			t.Logf("round %d: alice won %v, dave won %v", round, won[0], won[1])
		}
	})
	t.Run("share link served by another node", func(t *testing.T) {
		alpha := startShareBackend(t, "alpha")
		cw.remoteForward(t, fmt.Sprintf("myapp:80:localhost:%d", alpha.port), "alice.n1")
		res := cw.mustCLI(t, "", "link", "create", "myapp:80", "--user", "alice", "--url", "http://"+cw.nodes[2].httpAddr)
		link := parseCreated(t, res.stdout)
		if status, body, _ := httpGet(t, link.pathURL(cw.nodes[2], "")); status != http.StatusOK || body != "hello from alpha" {
			t.Fatalf("GET through node 3: %d %q, want 200 \"hello from alpha\"", status, body)
		}
		if status, body, _ := httpGet(t, link.pathURL(cw.nodes[1], "")); status != http.StatusOK || body != "hello from alpha" {
			t.Fatalf("GET through node 2: %d %q, want 200 \"hello from alpha\"", status, body)
		}
		stream := startStream(t, link.pathURL(cw.nodes[2], "stream"))
		// alice revokes it from node 2's page API while the download runs through node 3.
		web := webLogin(t, cw.nodes[1], "alice", browserPassword)
		start := time.Now()
		if status, body := web.call(t, "DELETE", "/api/links/"+link.id, nil); status != http.StatusNoContent {
			t.Fatalf("DELETE /api/links/%s on node 2: %d %s", link.id, status, body)
		}
		stream.requireCut(t, start, "revoke on node 2, download through node 3")
		if status, _, _ := httpGet(t, link.pathURL(cw.nodes[2], "")); status != http.StatusNotFound {
			t.Fatalf("GET through node 3 after revoke: %d, want 404", status)
		}
	})
	t.Run("deleting a user cuts their tubes on every node", func(t *testing.T) {
		var tubes []*proc
		for _, host := range []string{"erin.n2", "erin.n3tcp"} {
			p := cw.sshStart(t, "ssh -N "+host, "-N", host)
			tubes = append(tubes, p)
		}
		waitLogged(t, cw.nodes[1], "erin")
		waitLogged(t, cw.nodes[2], "erin")
		cw.mustCLI(t, "", "user", "del", "erin")
		for _, p := range tubes {
			p.waitExit(t, startTimeout)
		}
	})
}

// waitLogged waits until g logs an authenticated tube of user.
func waitLogged(t *testing.T, g *gateway, user string) {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	for {
		for _, ln := range g.proc.out.linesMatching("user=" + user) {
			if strings.Contains(ln, "tube open") || strings.Contains(ln, "authenticated") {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s logged no tube of %s within %v", g, user, startTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
