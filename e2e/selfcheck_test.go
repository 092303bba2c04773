package e2e

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestHarnessSelfCheck runs the harness's OpenSSH recipes against the throw-away sshd alone (no
// gateway), so a failure here is in the test setup, not in the gateway: sshd starts as root, ssh
// logs in with a checked host key, and -R / port 0 / ControlMaster cancel behave as the gateway
// tests expect them to with OpenSSH's own server.
func TestHarnessSelfCheck(t *testing.T) {
	w := newTargetWorld(t)
	sshdPort := fmt.Sprint(w.target.port)

	t.Run("login", func(t *testing.T) {
		w.requireTargetVia(t, w.target.port)
	})

	t.Run("remote forward", func(t *testing.T) {
		port := freePort(t)
		w.remoteForward(t, fmt.Sprintf("%d:localhost:%s", port, sshdPort), "-p", sshdPort, "localhost")
		waitDial(t, fmt.Sprintf("localhost:%d", port), startTimeout)
		w.requireTargetVia(t, port)
	})

	t.Run("allocated port and cancel", func(t *testing.T) {
		echo := startEcho(t)
		ctl := filepath.Join(w.dir, "ctl-self")
		master := w.sshStart(t, "ssh master", "-M", "-S", ctl, "-N", "-T", "-p", sshdPort, "localhost")
		waitMaster(t, w, ctl, master, "-p", sshdPort, "localhost")
		res := w.sshRun(t, "-S", ctl, "-O", "forward", "-R", fmt.Sprintf("0:127.0.0.1:%d", echo), "-p", sshdPort, "localhost")
		port, err := strconv.Atoi(strings.TrimSpace(res.stdout))
		if res.code != 0 || err != nil || port <= 0 {
			t.Fatalf("ssh -O forward -R 0:...: want an allocated port on stdout: %s", res)
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		requireEcho(t, addr)
		res = w.sshRun(t, "-S", ctl, "-O", "cancel", "-R", fmt.Sprintf("0:127.0.0.1:%d", echo), "-p", sshdPort, "localhost")
		if res.code != 0 {
			t.Fatalf("ssh -O cancel: %s", res)
		}
		t.Logf("port %d closed %v after cancel", port, waitRefused(t, addr, waitTimeout))
	})
}
