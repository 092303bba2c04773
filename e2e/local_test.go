package e2e

import (
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"
)

var reProhibited = regexp.MustCompile(`administratively prohibited`)

// TestLocalForward runs `ssh -N -L A:127.0.0.1:ALLOWED -L B:127.0.0.1:DENIED alice@gw` where alice
// has --permit-open 127.0.0.1:ALLOWED: the first reaches an in-test echo service, the second is
// refused on its own channel ("administratively prohibited" from ssh) while the first keeps working
// in the same tube, and a user with no policy may dial nothing.
func TestLocalForward(t *testing.T) {
	w := newWorld(t, gatewayOpts{sshListen: true})
	allowed, denied := startEcho(t), startEcho(t)
	w.addUser(t, "alice", "--permit-open", fmt.Sprintf("127.0.0.1:%d", allowed))
	w.addUser(t, "carol")

	for _, transport := range []string{"ws", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			okPort, badPort := freePort(t), freePort(t)
			p := w.sshStart(t, "ssh -L",
				"-N", "-T", "-o", "ExitOnForwardFailure=yes",
				"-L", fmt.Sprintf("127.0.0.1:%d:127.0.0.1:%d", okPort, allowed),
				"-L", fmt.Sprintf("127.0.0.1:%d:127.0.0.1:%d", badPort, denied),
				"alice."+transport)
			okAddr, badAddr := fmt.Sprintf("127.0.0.1:%d", okPort), fmt.Sprintf("127.0.0.1:%d", badPort)
			waitDial(t, okAddr, startTimeout)
			requireEcho(t, okAddr)

			c, err := net.DialTimeout("tcp", badAddr, 10*time.Second)
			if err != nil {
				t.Fatalf("dial ssh's local listener %s: %v", badAddr, err)
			}
			defer c.Close()
			_, _ = c.Write([]byte("must not arrive\n"))
			requireClosedByPeer(t, c, 15*time.Second, "connection to the unpermitted -L")
			p.mustWaitLine(t, reProhibited, 15*time.Second)

			requireEcho(t, okAddr) // the refusal closed one channel, not the tube
			if p.exited() {
				t.Fatalf("ssh -L exited after a refused channel")
			}
		})
	}

	t.Run("unpermitted -W refused", func(t *testing.T) {
		res := w.sshRun(t, "-W", fmt.Sprintf("127.0.0.1:%d", denied), "alice.tcp")
		if res.code == 0 || !reProhibited.MatchString(res.stderr) {
			t.Fatalf("ssh -W to an unpermitted target: want failure with %q: %s", reProhibited, res)
		}
	})
	t.Run("default policy dials nothing", func(t *testing.T) {
		for _, target := range []string{fmt.Sprintf("127.0.0.1:%d", allowed), fmt.Sprintf("localhost:%d", allowed), w.target.addr} {
			res := w.sshRun(t, "-W", target, "carol.ws")
			if res.code == 0 || !reProhibited.MatchString(res.stderr) || strings.Contains(res.stdout, "SSH-2.0") {
				t.Errorf("carol ssh -W %s: want failure with %q: %s", target, reProhibited, res)
			}
		}
	})
}
