package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// TestGatewayShellListsAllEndpoints: `ssh gw` (the gateway's own shell, no command) lists every
// endpoint the user publishes, from all their tubes, not only this connection's: alice publishes
// a virtual name from one tube and a loopback port from another, then asks from a third.
func TestGatewayShellListsAllEndpoints(t *testing.T) {
	w := newWorld(t, gatewayOpts{})
	w.addUser(t, "alice")
	w.addUser(t, "bob")
	echo := startEcho(t)
	port := freePort(t)
	w.remoteForward(t, fmt.Sprintf("db.alice:22:127.0.0.1:%d", echo), "alice.ws")
	w.remoteForward(t, fmt.Sprintf("%d:127.0.0.1:%d", port, echo), "alice.ws")
	w.remoteForward(t, fmt.Sprintf("pc.bob:22:127.0.0.1:%d", echo), "bob.ws")

	res := w.sshRun(t, "-T", "alice.ws")
	if res.code != 0 {
		t.Fatalf("ssh alice.ws: %s", res)
	}
	for _, want := range []string{"db.alice:22", fmt.Sprintf("127.0.0.1:%d", port), "from all your connections"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("ssh alice.ws does not list %q:\n%s", want, res.stdout)
		}
	}
	if strings.Contains(res.stdout, "pc.bob") {
		t.Errorf("ssh alice.ws lists bob's endpoint pc.bob:\n%s", res.stdout)
	}
	t.Logf("ssh alice.ws:\n%s", res.stdout)
}
