package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestVirtualName claims the virtual name myhost:22 with `-R myhost:22:localhost:SSHD` and reaches
// the host's sshd with `ssh -J USER@gw myhost`, the jump carried over the WebSocket (and over TCP).
// The owner (granted the name with --permit-name myhost) and a user with --permit-open
// myhost@alice:22 get through; a user without it is refused; another user's claim of the same name
// is refused; the owner can claim it again after its tube died.
func TestVirtualName(t *testing.T) {
	w := newWorld(t, gatewayOpts{sshListen: true})
	w.addUser(t, "alice", "--permit-name", "myhost")
	w.addUser(t, "bob", "--permit-open", "myhost@alice:22")
	w.addUser(t, "carol")
	w.addUser(t, "dave")
	spec := fmt.Sprintf("myhost:22:localhost:%d", w.target.port)
	owner := w.remoteForward(t, spec, "alice.ws")

	jumpOK := func(t *testing.T, via string) {
		t.Helper()
		res := w.sshRun(t, "-J", via, "myhost", "echo ok")
		if res.code != 0 || strings.TrimSpace(res.stdout) != "ok" {
			t.Fatalf("ssh -J %s myhost 'echo ok': want ok from the throw-away sshd: %s", via, res)
		}
	}
	t.Run("owner over websocket", func(t *testing.T) { jumpOK(t, "alice.ws") })
	t.Run("permitted user over websocket", func(t *testing.T) { jumpOK(t, "bob.ws") })
	t.Run("permitted user over tcp", func(t *testing.T) { jumpOK(t, "bob.tcp") })
	t.Run("unpermitted user refused", func(t *testing.T) {
		res := w.sshRun(t, "-J", "carol.ws", "myhost", "echo ok")
		if res.code == 0 || !strings.Contains(res.stderr, "administratively prohibited") {
			t.Fatalf("ssh -J carol myhost: want failure with \"administratively prohibited\": %s", res)
		}
	})
	t.Run("second claim refused", func(t *testing.T) {
		w.remoteForwardRefused(t, spec, "dave.ws")
		w.remoteForwardRefused(t, spec, "dave.tcp")
		t.Logf("gateway log lines about myhost:\n%s", strings.Join(w.gw.proc.out.linesMatching("myhost"), "\n"))
		jumpOK(t, "bob.ws") // alice's claim is untouched
	})
	t.Run("owner reclaims after its tube died", func(t *testing.T) {
		owner.kill()
		// The old tube's claim must go when it dies; retry within the liveness bound.
		deadline := time.Now().Add(waitTimeout)
		for {
			_, err := w.tryRemoteForward(t, spec, "alice.tcp")
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("alice could not claim myhost:22 again within %v of its tube dying: %v", waitTimeout, err)
			}
		}
		jumpOK(t, "bob.ws")
	})
}
