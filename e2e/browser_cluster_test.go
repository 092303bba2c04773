package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// TestBrowserCluster: the page's console reaches a virtual name published on another node. bob logs
// in on node 2 and opens a console to myhost, held by alice's tube on node 1: the console's
// direct-tcpip crosses nodes and the SSH inside stays end to end. Then the same through haproxy,
// whose round robin sends the page's requests and its WebSocket to different nodes: the session
// made on one node is good on the others. bob's home list on node 2 shows alice's name on node 1,
// marked with its node.
func TestBrowserCluster(t *testing.T) {
	cw := newClusterWorld(t, 2)
	requirePage(t, cw.nodes[1])
	cw.addUser(t, "alice", "--permit-name", "myhost")
	cw.mustCLI(t, browserPassword+"\n", "user", "add", "bob", "--password-stdin", "--permit-open", "myhost@alice:22")
	cw.remoteForward(t, fmt.Sprintf("myhost:22:localhost:%d", cw.target.port), "alice.n1")

	console := func(t *testing.T, base string, acceptKey, homeOnNode1 bool) {
		b := startBrowser(t, base)
		b.open("/")
		b.waitVisible("login")
		b.fill("login-user", "bob")
		b.fill("login-password", browserPassword)
		b.click("login-submit")
		b.waitJS("the page to log in as bob", `document.body.dataset.user === "bob"`)
		if homeOnNode1 { // the home list on node 2 shows the name online, on node 1
			card := `#home-list li[data-target="myhost:22"][data-state="online"][data-node="node1"]`
			b.waitJS("myhost online on node1 on home", `!!document.querySelector('`+card+`')`)
			var meta string
			b.eval(`document.querySelector('`+card+` .home-meta').textContent`, &meta)
			if !strings.Contains(meta, "on node1") {
				t.Errorf("home card of myhost on node 2: %q, want \"on node1\"", meta)
			}
		}
		connectConsole(b, cw.world)
		if acceptKey {
			b.waitVisible("hostkey-new-panel")
			b.click("hostkey-accept")
		}
		b.waitJS("the console to open", `document.body.dataset.console === "open"`)
		b.waitPrompt()
		b.typeTerminal("echo $((6*7))\r")
		b.waitScreenLine("42")
	}
	t.Run("page on node 2, name on node 1", func(t *testing.T) {
		console(t, "http://"+cw.nodes[1].httpAddr, true, true)
	})
	t.Run("page through the load balancer", func(t *testing.T) {
		console(t, "http://"+cw.lb.httpAddr, true, false)
	})
}
