package e2e

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestListenerLifecycle covers the life of a -R listener: a port allocated for port 0 (printed by
// ssh and by `ssh -O forward`), cancel-tcpip-forward through a ControlMaster freeing the port while
// the tube stays up, a killed tube's listener closing within a second (polled for up to
// waitTimeout, measured time logged), a reconnecting client taking the same port again, and
// the default policy refusing privileged ports and non-loopback binds.
func TestListenerLifecycle(t *testing.T) {
	w := newWorld(t, gatewayOpts{sshListen: true})
	w.addUser(t, "alice")
	echo := startEcho(t)

	t.Run("port 0 allocation", func(t *testing.T) {
		p := w.remoteForward(t, fmt.Sprintf("0:127.0.0.1:%d", echo), "alice.tcp")
		m := p.mustWaitLine(t, reAllocated, startTimeout)
		requireEcho(t, "localhost:"+m[1])
	})

	t.Run("cancel over a ControlMaster", func(t *testing.T) {
		ctl := filepath.Join(w.dir, "ctl")
		master := w.sshStart(t, "ssh -M", "-M", "-S", ctl, "-N", "-T", "alice.ws")
		waitMaster(t, w, ctl, master, "alice.ws")
		mux := func(args ...string) result {
			return w.sshRun(t, append(append([]string{"-S", ctl}, args...), "alice.ws")...)
		}

		allocSpec := fmt.Sprintf("0:127.0.0.1:%d", echo)
		res := mux("-O", "forward", "-R", allocSpec)
		allocated, err := strconv.Atoi(strings.TrimSpace(res.stdout))
		if res.code != 0 || err != nil || allocated <= 0 {
			t.Fatalf("ssh -O forward -R %s: want the allocated port on stdout: %s", allocSpec, res)
		}
		allocAddr := fmt.Sprintf("localhost:%d", allocated)
		requireEcho(t, allocAddr)

		fixed := freePort(t)
		fixedSpec := fmt.Sprintf("%d:127.0.0.1:%d", fixed, echo)
		fixedAddr := fmt.Sprintf("localhost:%d", fixed)
		if res := mux("-O", "forward", "-R", fixedSpec); res.code != 0 {
			t.Fatalf("ssh -O forward -R %s: %s", fixedSpec, res)
		}
		requireEcho(t, fixedAddr)

		// The status session runs in the same tube, so it must list both forwards.
		res = mux("-T")
		if res.code != 0 || !strings.Contains(res.stdout, "alice") ||
			!strings.Contains(res.stdout, strconv.Itoa(allocated)) || !strings.Contains(res.stdout, strconv.Itoa(fixed)) {
			t.Errorf("status session in the tube with forwards %d and %d: want exit 0, alice and both ports: %s", allocated, fixed, res)
		} else {
			t.Logf("status:\n%s", res.stdout)
		}

		if res := mux("-O", "cancel", "-R", fixedSpec); res.code != 0 {
			t.Fatalf("ssh -O cancel -R %s: %s", fixedSpec, res)
		}
		t.Logf("port %d refused %v after cancel", fixed, waitRefused(t, fixedAddr, waitTimeout))
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", fixed))
		if err != nil {
			t.Fatalf("port %d not free after cancel-tcpip-forward: %v", fixed, err)
		}
		l.Close()

		if res := mux("-O", "cancel", "-R", allocSpec); res.code != 0 {
			t.Fatalf("ssh -O cancel -R %s: %s", allocSpec, res)
		}
		t.Logf("allocated port %d refused %v after cancel", allocated, waitRefused(t, allocAddr, waitTimeout))

		if res := mux("-O", "check"); res.code != 0 {
			t.Fatalf("the tube died with its forwards: %s", res)
		}
		if res := mux("-O", "forward", "-R", fixedSpec); res.code != 0 {
			t.Fatalf("forward the cancelled port again in the same tube: %s", res)
		}
		requireEcho(t, fixedAddr)
	})

	// A raw WebSocket tube (wsraw): a resumable one waits --resume-window for its client (see
	// TestResumeWindowPassedEndsTube).
	for _, transport := range []string{"wsraw", "tcp"} {
		t.Run("killed tube over "+transport, func(t *testing.T) {
			port := freePort(t)
			spec := fmt.Sprintf("%d:127.0.0.1:%d", port, echo)
			addr := fmt.Sprintf("localhost:%d", port)
			p := w.remoteForward(t, spec, "alice."+transport)
			requireEcho(t, addr)
			p.kill() // SIGKILL to ssh and its ProxyCommand: no goodbye on the wire
			took := waitRefused(t, addr, waitTimeout)
			t.Logf("listener %s gone %v after SIGKILL of the tube (issue bound: 1s; test bound %v)", addr, took, waitTimeout)
			w.remoteForward(t, spec, "alice."+transport)
			requireEcho(t, addr)
		})
	}

	t.Run("policy refusals", func(t *testing.T) {
		port := freePort(t)
		for _, spec := range []string{
			fmt.Sprintf("80:127.0.0.1:%d", echo),               // privileged port
			fmt.Sprintf("*:%d:127.0.0.1:%d", port, echo),       // all interfaces ("")
			fmt.Sprintf("0.0.0.0:%d:127.0.0.1:%d", port, echo), // not loopback
		} {
			w.remoteForwardRefused(t, spec, "alice.tcp")
		}
	})
}
