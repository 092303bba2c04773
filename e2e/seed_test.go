package e2e

import (
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
)

// TestSeedRecipe is the classic reverse-tunnel recipe through the gateway: the host behind the
// firewall runs `ssh -N -T -o ExitOnForwardFailure=yes -R PORT:localhost:SSHD alice@gw` (over the
// WebSocket with `gateway connect` as ProxyCommand, and over --ssh-listen TCP), then
// `ssh -p PORT localhost 'echo ok'` reaches the host's sshd through the gateway's listener.
func TestSeedRecipe(t *testing.T) {
	w := newWorld(t, gatewayOpts{sshListen: true})
	w.addUser(t, "alice")
	for _, transport := range []string{"ws", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			port := freePort(t)
			w.remoteForward(t, fmt.Sprintf("%d:localhost:%d", port, w.target.port), "alice."+transport)
			waitDial(t, fmt.Sprintf("localhost:%d", port), startTimeout)
			w.requireTargetVia(t, port)
			// The README's form from anywhere: jump through the gateway to the published port.
			res := w.sshRun(t, "-J", "alice."+transport, "-p", fmt.Sprint(port), "localhost", "echo ok")
			if res.code != 0 || strings.TrimSpace(res.stdout) != "ok" {
				t.Fatalf("ssh -J alice.%s -p %d localhost 'echo ok': want ok from the throw-away sshd: %s", transport, port, res)
			}
		})
	}
	t.Run("originator address", func(t *testing.T) {
		// The forwarded-tcpip channel names the real originator: ssh -v logs it.
		echo := startEcho(t)
		port := freePort(t)
		p := w.remoteForward(t, fmt.Sprintf("127.0.0.1:%d:127.0.0.1:%d", port, echo), "alice.ws")
		c := dialTCP(t, fmt.Sprintf("127.0.0.1:%d", port))
		local := c.LocalAddr().(*net.TCPAddr)
		re := regexp.MustCompile(fmt.Sprintf(`client_request_forwarded_tcpip: listen \S+ port %d, originator 127\.0\.0\.1 port %d\b`, port, local.Port))
		p.mustWaitLine(t, re, startTimeout)
	})
	t.Run("status session", func(t *testing.T) {
		// `ssh alice@gw` without -N: a short status naming the user, exit 0, no shell.
		for _, host := range []string{"alice.ws", "alice.tcp"} {
			res := w.sshRun(t, "-T", host)
			if res.code != 0 || !strings.Contains(res.stdout+res.stderr, "alice") {
				t.Errorf("ssh -T %s: want exit 0 and a status naming alice: %s", host, res)
			}
		}
		res := w.sshRun(t, "-T", "alice.tcp", "cat /etc/passwd")
		t.Logf("ssh alice@gw 'cat /etc/passwd' (no shell on the gateway): %s", res)
		if strings.Contains(res.stdout, "root:x:0:0") {
			t.Errorf("the gateway ran a command for alice: %s", res)
		}
	})
}
