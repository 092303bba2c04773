package e2e

import (
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
)

// TestRedteamNameCapture: mallory, a user with no permissions, publishes the
// name of a real host that alice's --permit-open names, to capture alice's
// connections to it. By default she may not publish the name at all; even
// when an admin lets her publish any name, alice's -W to the real host never
// reaches mallory's impostor.
func TestRedteamNameCapture(t *testing.T) {
	const target = "db.internal.test:5432"
	w := newWorld(t, gatewayOpts{sshListen: true})
	w.addUser(t, "alice", "--permit-open", target)
	w.addUser(t, "mallory")
	var captured atomic.Int32
	impostor := startCounter(t, &captured)
	spec := fmt.Sprintf("%s:127.0.0.1:%d", target, impostor)

	out := w.remoteForwardRefused(t, spec, "mallory.ws")
	w.gw.mustCLI(t, "", "user", "set", "mallory", "--permit-name", "*")
	w.remoteForward(t, spec, "mallory.ws")
	res := w.sshRun(t, "-W", target, "alice.ws")
	if captured.Load() != 0 {
		t.Errorf("alice's ssh -W %s reached mallory's impostor (%d connections)", target, captured.Load())
	}
	if res.code == 0 {
		t.Errorf("alice's ssh -W %s succeeded; the real host does not exist, so it must fail: %s", target, res)
	}
	redteam(t, "mallory publishes a real host alice may reach (-R "+target+")",
		"refused by default; with --permit-name '*', alice's -W still never reaches it",
		fmt.Sprintf("default: refused (%s); with '*': %d of alice's connections captured", refusalLine(out), captured.Load()))
}

// TestRedteamNameSquatting: bob's hosts publish myhost every day (bob has
// --permit-name myhost) and mallory, allowed any name, connects first while
// bob is away; she also tries bob's own namespace.
func TestRedteamNameSquatting(t *testing.T) {
	w := newWorld(t, gatewayOpts{sshListen: true})
	w.addUser(t, "bob", "--permit-name", "myhost")
	w.addUser(t, "mallory", "--permit-name", "*")
	echo := startEcho(t)
	var seen []string
	for _, name := range []string{"myhost", "db.bob", "bob"} {
		w.remoteForwardRefused(t, fmt.Sprintf("%s:22:127.0.0.1:%d", name, echo), "mallory.tcp")
		seen = append(seen, name+" refused")
	}
	// Bob still gets his names, and a name nobody claims is mallory's.
	w.remoteForward(t, fmt.Sprintf("myhost:22:127.0.0.1:%d", echo), "bob.ws")
	w.remoteForward(t, fmt.Sprintf("db.bob:22:127.0.0.1:%d", echo), "bob.ws")
	w.remoteForward(t, fmt.Sprintf("shop:22:127.0.0.1:%d", echo), "mallory.ws")
	redteam(t, "mallory (--permit-name '*') squats bob's myhost, db.bob and bob while bob is away",
		"each refused; bob publishes them after", strings.Join(seen, ", ")+"; bob published myhost and db.bob")
}

// TestRedteamAddressLikeNames: names that some resolver reads as an address
// must never become virtual names.
func TestRedteamAddressLikeNames(t *testing.T) {
	w := newWorld(t, gatewayOpts{})
	w.addUser(t, "mallory", "--permit-name", "*")
	echo := startEcho(t)
	names := []string{"127.1", "0x7f.1", "2130706433", "0", "10.0.0.010"}
	for _, name := range names {
		w.remoteForwardRefused(t, fmt.Sprintf("%s:2222:127.0.0.1:%d", name, echo), "mallory.ws")
	}
	logged := len(w.gw.proc.out.linesMatching("could be read as an address"))
	if logged < len(names) {
		t.Errorf("%d refusals logged as address-like, want %d", logged, len(names))
	}
	redteam(t, "publish names that read as addresses ("+strings.Join(names, " ")+")",
		"each refused with the reason", fmt.Sprintf("%d of %d refused, %d logged as address-like", len(names), len(names), logged))
}

// startCounter listens on loopback and counts (and closes) every connection.
func startCounter(t *testing.T, n *atomic.Int32) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// refusalLine picks ssh's "remote port forwarding failed" line from its output.
func refusalLine(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "forwarding failed") {
			return strings.TrimSpace(l)
		}
	}
	return "no refusal line"
}
