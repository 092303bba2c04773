package e2e

import (
	"fmt"
	"net"
	"testing"
	"time"
)

// TestRedteamPublishedPortConnections: whoever can reach a published port
// (anyone, when it is public) holds connections to it. Each one is a
// descriptor of the gateway and a channel of the publishing tube, with 64
// KiB of its owner's window budget; before the caps, one source could open
// them without end and starve the owner's tube. Now one source holds at most
// --max-forward-conns-per-source across all published ports, and a tube at
// most --max-channels, its own and these together.
func TestRedteamPublishedPortConnections(t *testing.T) {
	const perSource, maxChannels, tries = 8, 12, 20
	w := newWorld(t, gatewayOpts{sshListen: true, args: []string{
		"--max-forward-conns-per-source", fmt.Sprint(perSource), "--max-channels", fmt.Sprint(maxChannels)}})
	w.addUser(t, "alice")
	echo := startEcho(t)
	port := freePort(t)
	w.remoteForward(t, fmt.Sprintf("%d:127.0.0.1:%d", port, echo), "alice.tcp")
	addr := fmt.Sprintf("127.0.0.1:%d", port)

	// hold opens n connections from src and sorts them into echoed (served
	// through alice's tube) and closed by the gateway.
	hold := func(src string, n int) (served, closed []net.Conn) {
		for range n {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
			c, err := d.Dial("tcp", addr)
			if err != nil {
				t.Fatalf("dial %s from %s: %v", addr, src, err)
			}
			t.Cleanup(func() { c.Close() })
			if echoes(c) {
				served = append(served, c)
			} else {
				closed = append(closed, c)
			}
		}
		return served, closed
	}
	a, aRefused := hold("127.0.0.1", tries)
	if len(a) != perSource || len(aRefused) != tries-perSource {
		t.Fatalf("one source: %d served, %d closed; want %d and %d", len(a), len(aRefused), perSource, tries-perSource)
	}
	if n := metricValue(t, w.gw, `tubegate_forward_connections_refused_total{reason="per_source"}`); n != tries-perSource {
		t.Errorf("per-source refusals counted: %d, want %d", n, tries-perSource)
	}
	// A second source is under its own cap but meets the tube's: 12
	// channels in all.
	b, bRefused := hold("127.0.0.2", perSource)
	if len(b) != maxChannels-perSource || len(bRefused) != 2*perSource-maxChannels {
		t.Fatalf("second source: %d served, %d closed; want %d served (the tube's --max-channels %d)",
			len(b), len(bRefused), maxChannels-perSource, maxChannels)
	}
	if len(w.gw.proc.out.linesMatching("already has 12 channels open")) == 0 {
		t.Errorf("no log line for the connections the tube's cap refused:\n%s", w.gw.proc.out)
	}
	// The held connections still work, and closing them gives the slots back.
	for _, c := range append(a, b...) {
		if !echoes(c) {
			t.Fatal("a connection within the caps stopped echoing")
		}
	}
	for _, c := range a {
		c.Close()
	}
	var again []net.Conn
	for end := time.Now().Add(10 * time.Second); len(again) < perSource && time.Now().Before(end); {
		served, _ := hold("127.0.0.1", 1)
		again = append(again, served...)
		if len(served) == 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if len(again) != perSource {
		t.Fatalf("after the first source closed its %d connections, %d of them could open again", perSource, len(again))
	}
	redteam(t, fmt.Sprintf("%d connections from one address to a published port, then %d from another; --max-forward-conns-per-source %d, --max-channels %d", tries, perSource, perSource, maxChannels),
		"one source holds its cap, the tube its channel cap; the rest are closed at once and counted",
		fmt.Sprintf("first source %d served, %d closed; second %d served, %d closed", len(a), len(aRefused), len(b), len(bRefused)))
}

// echoes reports whether a byte written to c comes back (false: c was
// closed, or nothing came back within 10 s).
func echoes(c net.Conn) bool {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write([]byte("x")); err != nil {
		return false
	}
	_, err := c.Read(make([]byte, 1))
	return err == nil
}
