package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// TestRedteamNameProbing: bob, who may reach only alice's web:22 (web@alice:22), probes with
// ssh -W for what other users publish: alice's online db.alice:22 against a name nobody
// publishes, and alice's published loopback port against a port nobody listens on. Each pair
// must read alike ("not permitted by your policy"), so the answers tell him nothing. For the
// names he may reach, and they are offline, the gateway says "no such name online" instead.
func TestRedteamNameProbing(t *testing.T) {
	w := newWorld(t, gatewayOpts{})
	w.addUser(t, "alice", "--permit-name", "web")
	w.addUser(t, "bob", "--permit-open", "web@alice:22")
	echo := startEcho(t)
	w.remoteForward(t, fmt.Sprintf("db.alice:22:127.0.0.1:%d", echo), "alice.ws")
	published := freePort(t)
	w.remoteForward(t, fmt.Sprintf("%d:127.0.0.1:%d", published, echo), "alice.ws")
	unused := freePort(t)

	// probe runs ssh -W target as bob and returns the gateway's reason, with the target
	// replaced by TARGET so that two answers can be compared.
	probe := func(target string) string {
		t.Helper()
		res := w.sshRun(t, "-W", target, "bob.ws")
		if res.code == 0 {
			t.Fatalf("bob's ssh -W %s succeeded: %s", target, res)
		}
		for _, l := range strings.Split(res.stderr, "\n") {
			if _, reason, ok := strings.Cut(l, "tubegate: "); ok {
				return strings.ReplaceAll(strings.TrimSpace(reason), target, "TARGET")
			}
		}
		t.Fatalf("bob's ssh -W %s: no reason from the gateway in\n%s", target, res.stderr)
		return ""
	}
	same := func(what, a, b string) string {
		t.Helper()
		ra, rb := probe(a), probe(b)
		if ra != rb {
			t.Errorf("%s: %s reads %q but %s reads %q: the difference tells bob what alice publishes", what, a, ra, b, rb)
			return ra + " vs " + rb
		}
		if !strings.Contains(ra, "not permitted by your policy") {
			t.Errorf("%s: %s reads %q, want \"not permitted by your policy\"", what, a, ra)
		}
		return fmt.Sprintf("%q both", ra)
	}
	names := same("another user's online name against no name", "db.alice:22", "ghost.alice:22")
	ports := same("another user's published port against an unused one",
		fmt.Sprintf("127.0.0.1:%d", published), fmt.Sprintf("127.0.0.1:%d", unused))

	var offline []string
	for _, target := range []string{"web:22", "laptop.bob:22"} { // granted by web@alice:22; bob's own namespace
		r := probe(target)
		if !strings.Contains(r, "no such name online") {
			t.Errorf("bob's ssh -W %s (a name he may reach, offline): %q, want \"no such name online\"", target, r)
		}
		offline = append(offline, target+": "+r)
	}
	redteam(t, "bob probes alice's names and ports with ssh -W (online vs absent)",
		"forbidden reads the same whether it exists; offline names he may reach say so",
		fmt.Sprintf("names: %s; ports: %s; %s", names, ports, strings.Join(offline, "; ")))
}
