package e2e

import (
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"
)

// TestRestart stops the gateway with SIGTERM (exit 0; open tubes end, and WebSocket tubes are told
// why) and starts it again on the same data dir: the logged host key fingerprints are identical,
// the old known_hosts (StrictHostKeyChecking=yes) still matches, and users still authenticate.
func TestRestart(t *testing.T) {
	w := newWorld(t, gatewayOpts{sshListen: true})
	w.addUser(t, "alice")
	w.addUser(t, "bob")
	w.gw.checkHostKeyFiles(t, w.tl)
	before := maps.Clone(w.gw.hostKeys)
	t.Logf("host keys: %v", before)
	echo := startEcho(t)

	var tubes []*proc
	for _, transport := range []string{"ws", "tcp"} {
		port := freePort(t)
		p := w.remoteForward(t, fmt.Sprintf("%d:127.0.0.1:%d", port, echo), "alice."+transport)
		requireEcho(t, fmt.Sprintf("localhost:%d", port))
		tubes = append(tubes, p)
	}

	w.gw.stop(t)
	t.Run("tubes end", func(t *testing.T) {
		for _, p := range tubes {
			p.waitExit(t, 15*time.Second)
		}
	})
	t.Run("websocket tubes are told why", func(t *testing.T) {
		// The issue: "SIGINT/SIGTERM shut down gracefully: listeners close, tubes get a disconnect
		// message". x/crypto/ssh cannot send SSH_MSG_DISCONNECT after auth (golang/go#37913), so
		// the message travels in the WebSocket close frame, and `gateway connect` (ssh's
		// ProxyCommand, whose stderr ssh passes through) prints it. A plain-TCP tube only sees
		// the connection close; "tubes end" above covers it.
		p := tubes[0] // the ws tube
		<-p.done
		if !strings.Contains(p.out.String(), "the gateway is shutting down") {
			t.Errorf("%s ended without the gateway's reason; its last lines:\n%s",
				p.name, strings.Join(nonDebugLines(p.out), "\n"))
		}
	})

	w.gw = startGateway(t, w.gw.dataDir, w.gw.opts)
	w.writeConfig(t) // new ports; known_hosts is deliberately left as it was
	t.Run("host keys unchanged", func(t *testing.T) {
		if !maps.Equal(before, w.gw.hostKeys) {
			t.Fatalf("host key fingerprints changed across a restart: before %v, after %v", before, w.gw.hostKeys)
		}
		w.gw.checkHostKeyFiles(t, w.tl)
	})
	t.Run("users still authenticate", func(t *testing.T) {
		for _, host := range []string{"alice.ws", "alice.tcp", "bob.tcp"} {
			if res := w.sshRun(t, "-T", host); res.code != 0 {
				t.Errorf("ssh %s after restart: %s", host, res)
			}
		}
		port := freePort(t)
		w.remoteForward(t, fmt.Sprintf("%d:127.0.0.1:%d", port, echo), "alice.ws")
		requireEcho(t, fmt.Sprintf("localhost:%d", port))
	})
	t.Run("user list with GATEWAY_DATA", func(t *testing.T) {
		res := runProgram(t, cmdTimeout, "", []string{"GATEWAY_DATA=" + w.gw.dataDir}, w.gw.bin, "user", "list")
		if res.code != 0 || !hasLineStarting(res.stdout, "alice") || !hasLineStarting(res.stdout, "bob") {
			t.Fatalf("GATEWAY_DATA=DIR gateway user list: want lines for alice and bob: %s", res)
		}
	})
}

// hasLineStarting reports whether some line of s starts with word followed by a space, tab or end.
func hasLineStarting(s, word string) bool {
	for _, ln := range strings.Split(s, "\n") {
		ln = strings.TrimSpace(ln)
		if ln == word || strings.HasPrefix(ln, word+" ") || strings.HasPrefix(ln, word+"\t") {
			return true
		}
	}
	return false
}

// nonDebugLines returns the output lines of a process that are not ssh -v debug lines.
func nonDebugLines(l *lineLog) []string {
	lines, _ := l.snapshot()
	var out []string
	for _, ln := range lines {
		if !strings.HasPrefix(ln, "debug") {
			out = append(out, ln)
		}
	}
	return out
}
