package e2e

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/tubegate/tubegate/internal/bridge"
)

// TestParkedTubeClientVanishes: a raw WebSocket tube whose reader the
// gateway has parked (the client idle between keepalives), then whose
// client's path goes silent (a black hole, as a dead NAT): the gateway's
// keepalives, sent while nothing reads the tube, go unanswered; it closes
// the tube, whose parked reader wakes to end it, and the tube's name is
// free at once for the user's next tube. A live parked tube beside it
// carries on.
func TestParkedTubeClientVanishes(t *testing.T) {
	w := newWorld(t, gatewayOpts{args: []string{"--keepalive-interval", "3s", "--keepalive-max", "2"}})
	w.addUser(t, "alice")
	signer := userSigner(t, w, "alice")
	bh := startBlackhole(t, w.gw.httpAddr)
	dial := func(via string) *ssh.Client {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		url := "ws://" + via + "/ssh"
		nc, err := bridge.Dial(ctx, url, bridge.DialOptions{})
		if err != nil {
			t.Fatal(err)
		}
		c, chans, reqs, err := ssh.NewClientConn(nc, url, &ssh.ClientConfig{
			User: "alice", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
			HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 20 * time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		client := ssh.NewClient(c, chans, reqs)
		t.Cleanup(func() { client.Close() })
		return client
	}
	publish := func(c *ssh.Client, name string) error {
		ok, _, err := c.SendRequest("tcpip-forward", true, ssh.Marshal(struct {
			Addr string
			Port uint32
		}{name, 22}))
		if err == nil && !ok {
			err = fmt.Errorf("-R %s:22 refused", name)
		}
		return err
	}
	doomed := dial(bh.addr())
	if err := publish(doomed, "doomed.alice"); err != nil {
		t.Fatal(err)
	}
	live := dial(w.gw.httpAddr)
	if err := publish(live, "live.alice"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond) // both readers park before the first keepalive
	bh.hole()
	w.gw.proc.mustWaitLine(t, regexp.MustCompile(`msg="tube closed: keepalives unanswered"`), startTimeout)
	w.gw.proc.mustWaitLine(t, regexp.MustCompile(`msg="tube closed".*duration=`), startTimeout)
	if n := len(w.gw.proc.out.linesMatching(`msg="tube closed: keepalives unanswered"`)); n != 1 {
		t.Errorf("%d tubes closed for silence, want the black-holed one:\n%s", n, w.gw.proc.out)
	}
	// The name is free: no probe of a silent tube to wait out.
	again := dial(w.gw.httpAddr)
	if err := publish(again, "doomed.alice"); err != nil {
		t.Fatalf("the name of the tube closed while parked: %v", err)
	}
	// The live tube answered every keepalive while parked between them.
	time.Sleep(7 * time.Second)
	if _, _, err := live.SendRequest("keepalive@openssh.com", true, nil); err != nil {
		t.Fatalf("the live parked tube: %v", err)
	}
	if out := w.gw.proc.out.String(); strings.Count(out, "keepalives unanswered") != 1 {
		t.Errorf("a live parked tube was closed for silence:\n%s", out)
	}
}
