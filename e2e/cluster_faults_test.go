package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// healthz returns node g's /healthz status and body.
func healthz(t *testing.T, g *gateway) (int, string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + g.httpAddr + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz on %s: %v", g, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// waitHealthz polls /healthz on g until it answers want, and returns the body.
func waitHealthz(t *testing.T, g *gateway, want int, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		status, body := healthz(t, g)
		if status == want {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz on %s: %d %q after %v, want %d", g, status, body, timeout, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestClusterFaults kills a node with SIGKILL and stops Redis, with real processes.
//   - Node 1 killed: a share link to its endpoint answers 502 "offline" through node 3; its
//     client, reconnecting through node 2, gets its virtual name back within the directory's TTL;
//     a tube on node 3 carries on throughout.
//   - Redis stopped: /healthz says "degraded: redis unreachable"; a tube already up keeps reaching a
//     local endpoint; a new publish is refused with the reason in the log; Redis restarted: the
//     nodes recover by themselves and a name is reached across nodes again, with no gateway restart.
func TestClusterFaults(t *testing.T) {
	cw := newClusterWorld(t, 3)
	cw.addUser(t, "alice", "--permit-name", "myhost", "--permit-name", "myapp", "--permit-name", "other")
	cw.addUser(t, "bob", "--permit-open", "myhost@alice:22", "--permit-open", "myapp@alice:80")
	spec := fmt.Sprintf("myhost:22:localhost:%d", cw.target.port)
	alpha := startShareBackend(t, "alpha")
	appSpec := fmt.Sprintf("myapp:80:localhost:%d", alpha.port)
	// gone.alice:22 is never reclaimed: its directory entry must expire on its own.
	owner := cw.remoteForward(t, spec, "-R", appSpec, "-R", fmt.Sprintf("gone.alice:22:localhost:%d", cw.target.port), "alice.n1raw")
	cw.requireJump(t, "bob.n3")
	link := parseCreated(t, cw.mustCLI(t, "", "link", "create", "myapp:80", "--user", "alice", "--url", "http://"+cw.nodes[2].httpAddr).stdout)
	if status, body, _ := httpGet(t, link.pathURL(cw.nodes[2], "")); status != http.StatusOK || body != "hello from alpha" {
		t.Fatalf("GET through node 3: %d %q", status, body)
	}
	// bob's tube on node 3, with a published port reaching the sshd: it must carry on.
	bobPort := freePort(t)
	cw.remoteForward(t, fmt.Sprintf("127.0.0.1:%d:localhost:%d", bobPort, cw.target.port), "bob.n3raw")
	cw.requireTargetVia(t, bobPort)

	top := t // processes that must outlive a subtest are the test's
	t.Run("node killed", func(t *testing.T) {
		killed := time.Now()
		cw.killNode(t, 1)
		owner.waitExit(t, startTimeout) // its tube went with the node
		status, body, _ := httpGet(t, link.pathURL(cw.nodes[2], ""))
		if status != http.StatusBadGateway || !strings.Contains(strings.ToLower(body), "offline") {
			t.Fatalf("GET through node 3 with the owner's node dead: %d %q, want 502 offline", status, body)
		}
		// The client reconnects through another node and reclaims its names.
		deadline := killed.Add(clusterTTL + 20*time.Second)
		for {
			p, err := cw.tryRemoteForward(top, spec, "-R", appSpec, "alice.n2raw")
			if err == nil {
				t.Logf("alice reclaimed myhost:22 on node 2 %v after node 1 was killed", time.Since(killed).Round(time.Millisecond))
				break
			}
			p.kill()
			if time.Now().After(deadline) {
				t.Fatalf("alice could not reclaim myhost:22 on node 2 within %v of node 1's death: %v\n%s", deadline.Sub(killed), err, p.out)
			}
			time.Sleep(500 * time.Millisecond)
		}
		cw.requireJump(t, "bob.n3")
		waitStatus(t, link.pathURL(cw.nodes[2], ""), http.StatusOK, startTimeout)
		// The name nobody reclaimed leaves the directory within its TTL.
		rdb := redis.NewClient(&redis.Options{Addr: cw.redis.Addr})
		defer rdb.Close()
		for {
			keys, err := rdb.Keys(context.Background(), "tubegate:ep:gone.alice*").Result()
			if err != nil {
				t.Fatalf("redis KEYS: %v", err)
			}
			if len(keys) == 0 {
				t.Logf("gone.alice:22 left the directory %v after node 1 was killed", time.Since(killed).Round(time.Millisecond))
				break
			}
			if time.Since(killed) > clusterTTL+10*time.Second {
				t.Fatalf("the killed node's entry %v is still in the directory %v later", keys, time.Since(killed))
			}
			time.Sleep(200 * time.Millisecond)
		}
		cw.requireTargetVia(t, bobPort) // the other node's tube carried on
	})

	t.Run("redis stopped and restarted", func(t *testing.T) {
		// A tube already up on node 2, the node that now holds myhost, with a -L to it.
		lport := freePort(t)
		l := cw.sshStart(t, "ssh -L via node 2", "-N", "-o", "ExitOnForwardFailure=yes",
			"-L", fmt.Sprintf("127.0.0.1:%d:myhost:22", lport), "bob.n2raw")
		waitDial(t, fmt.Sprintf("127.0.0.1:%d", lport), startTimeout)
		cw.requireTargetVia(t, lport)

		cw.redis.Stop()
		body := waitHealthz(t, cw.nodes[1], http.StatusServiceUnavailable, 10*time.Second)
		if !strings.Contains(body, "degraded: redis unreachable") {
			t.Fatalf("/healthz while Redis is down: %q, want \"degraded: redis unreachable\"", body)
		}
		cw.requireTargetVia(t, lport) // the tube already up reaches the local endpoint
		if l.exited() {
			t.Fatalf("the -L tube ended while Redis was down\n%s", l.out)
		}
		out := cw.remoteForwardRefused(t, fmt.Sprintf("other:22:localhost:%d", cw.target.port), "alice.n3raw")
		t.Logf("publish while Redis is down: refused (%d bytes of ssh output)", len(out))
		if lines := cw.nodes[2].proc.out.linesMatching("redis unreachable"); len(lines) == 0 {
			t.Fatalf("node 3 refused the publish without saying redis is unreachable in its log")
		}
		// A lookup across nodes fails with the reason, on the client's screen.
		res := cw.sshRun(t, "-J", "bob.n3", "myhost", "echo ok")
		if res.code == 0 || !strings.Contains(res.stderr, "redis unreachable") {
			t.Fatalf("ssh -J bob.n3 myhost (held on node 2) while Redis is down: want a failure naming \"redis unreachable\": %s", res)
		}

		cw.redis.Restart()
		for _, g := range []*gateway{cw.nodes[1], cw.nodes[2]} {
			waitHealthz(t, g, http.StatusOK, 20*time.Second)
		}
		// Across nodes again: bob on node 3 reaches myhost, held on node 2.
		deadline := time.Now().Add(clusterTTL + 10*time.Second)
		for {
			res := cw.sshRun(t, "-J", "bob.n3", "myhost", "echo ok")
			if res.code == 0 && strings.TrimSpace(res.stdout) == "ok" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after Redis came back, ssh -J bob.n3 myhost still fails: %s", res)
			}
			time.Sleep(500 * time.Millisecond)
		}
		cw.remoteForward(t, fmt.Sprintf("other:22:localhost:%d", cw.target.port), "alice.n3raw")
	})
}
