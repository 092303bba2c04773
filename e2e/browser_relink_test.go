package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserShareLinkSurvivesReconnect: a share link made from the page
// for a -L 0 forward keeps working after the console reconnects, because
// the page adds the console's forwards again on the ports they had (-R 0
// too); a port taken meanwhile gives a refused row with the reason.
func TestBrowserShareLinkSurvivesReconnect(t *testing.T) {
	w := newWorld(t, gatewayOpts{})
	echo := startEcho(t)
	w.addUser(t, "alice", "--permit-open", fmt.Sprintf("127.0.0.1:%d", echo))
	w.gw.mustCLI(t, browserPassword+"\n", "user", "set", "alice", "--password-stdin")
	w.remoteForward(t, fmt.Sprintf("myhost.alice:22:localhost:%d", w.target.port), "alice.ws")
	const body = "hello through a link that outlives its console"
	httpPort := startHTTP(t, body)
	b := startBrowser(t, "http://"+w.gw.httpAddr)
	requirePage(t, w.gw)
	b.run("viewport 1280x800", chromedpViewport(1280, 800))
	step := func(name string, fn func(t *testing.T)) {
		if !t.Run(name, fn) {
			t.FailNow()
		}
	}
	client := w.gw.httpClient(t)
	get := func(url string) (int, string) {
		client.CloseIdleConnections()
		resp, err := client.Get(url)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		got, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(got)
	}
	// waitGet polls url (bounded, for liveness only) until it answers want.
	waitGet := func(t *testing.T, url string, want int) string {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			code, got := get(url)
			if code == want {
				return got
			}
			if time.Now().After(deadline) {
				t.Fatalf("GET %s: %d %q, want %d", url, code, got, want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// connect (re)opens console 1 on myhost.alice with the target's key.
	connect := func(t *testing.T) {
		b.fill("console-target", "myhost.alice")
		b.fill("console-user", w.login)
		b.fill("console-key", readFile(t, w.targetKey))
		b.click("console-connect")
	}
	// forwardRows lists the open forward rows: spec -> listen.
	forwardRows := func() map[string]string {
		var rows map[string]string
		b.eval(`Object.fromEntries([...document.querySelectorAll("#forwards tr:not(.refused)")].map((r) => [r.querySelector(".target").textContent + " " + r.querySelector(".spec").textContent.slice(0, 2), r.querySelector(".listen").textContent]))`, &rows)
		return rows
	}
	exit := func(t *testing.T) {
		b.typeTerminal("exit\r")
		b.waitTextContains("console-status", "Session ended (exit 0)")
		b.waitJS("the console's forward rows gone", `document.querySelectorAll("#forwards tr:not(.refused)").length === 0`)
	}

	var lListen, rListen, link string
	step("a -L 0 and a -R 0 from the page, and a share link", func(t *testing.T) {
		b.t = t
		b.open("/")
		b.fill("login-user", "alice")
		b.fill("login-password", browserPassword)
		b.click("login-submit")
		b.waitJS("the page to log in as alice", `document.body.dataset.user === "alice"`)
		connect(t)
		b.waitVisible("hostkey-new-panel")
		b.click("hostkey-accept")
		b.waitJS("the console to open", `document.body.dataset.console === "open"`)
		b.waitPrompt()
		row := addForward(b, fmt.Sprintf("-L 0:127.0.0.1:%d", httpPort))
		lListen = row["listen"]
		rowSel := fmt.Sprintf(`#forwards tr[data-id=%q]`, row["id"])
		b.run("click the row's .share-link", chromedp.Click(chromedp.CSS(rowSel+" .share-link"), chromedp.NodeVisible))
		share := b.waitJS("the share link's URL", fmt.Sprintf(`(() => { const e = document.querySelector(%q); const s = e ? e.textContent : ""; return (s.startsWith("http") || s.startsWith("share link:")) && s; })()`, rowSel+" .share-url"))
		if err := json.Unmarshal(share, &link); err != nil || !strings.HasPrefix(link, "http") {
			t.Fatalf(".share-link: %s", share)
		}
		if got := waitGet(t, link, 200); got != body {
			t.Fatalf("the share link answers %q, want %q", got, body)
		}
		rListen = addForward(b, fmt.Sprintf("-R 0:127.0.0.1:%d", echo))["listen"]
		requireEcho(t, rListen)
	})

	step("Reconnect: the same ports, the same link works", func(t *testing.T) {
		b.t = t
		exit(t)
		waitGet(t, link, 502) // the endpoint is gone while the console is away
		b.clickCSS("#console-panel-1 .console-reconnect")
		connect(t)
		b.waitJS("the same tab open again", `document.getElementById("console-tab-1").dataset.state === "open"`)
		b.waitPrompt()
		b.waitJS("both forwards back", `document.querySelectorAll("#forwards tr:not(.refused)").length === 2 || document.querySelectorAll("#forwards tr.refused").length > 0`)
		rows := forwardRows()
		lAgain := rows[fmt.Sprintf("127.0.0.1:%d -L", httpPort)]
		rAgain := rows[fmt.Sprintf("127.0.0.1:%d -R", echo)]
		code, got := get(link)
		t.Logf("-L %s then %s, -R %s then %s, link %d %q", lListen, lAgain, rListen, rAgain, code, got)
		if lAgain != lListen || rAgain != rListen {
			t.Fatalf("after Reconnect the forwards are %v; want -L on %s and -R on %s", rows, lListen, rListen)
		}
		if code != 200 || got != body {
			t.Fatalf("the share link after Reconnect: %d %q, want 200 %q", code, got, body)
		}
		requireEcho(t, rAgain)
	})

	step("a port taken meanwhile: a refused row says why", func(t *testing.T) {
		b.t = t
		exit(t)
		var taken net.Listener
		deadline := time.Now().Add(20 * time.Second)
		for taken == nil {
			l, err := net.Listen("tcp", lListen)
			if err == nil {
				taken = l
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the gateway never released %s: %v", lListen, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		defer taken.Close()
		b.clickCSS("#console-panel-1 .console-reconnect")
		connect(t)
		b.waitJS("the same tab open again", `document.getElementById("console-tab-1").dataset.state === "open"`)
		b.waitPrompt()
		b.waitJS("a refused row", `document.querySelectorAll("#forwards tr.refused").length > 0`)
		var reason string
		b.eval(`document.querySelector("#forwards tr.refused .reason").textContent`, &reason)
		if !strings.Contains(reason, "after reconnecting") {
			t.Fatalf("the refused row says %q", reason)
		}
		t.Logf("refused row: %s", reason)
	})
}
