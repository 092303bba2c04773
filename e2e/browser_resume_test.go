package e2e

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tubegate/tubegate/internal/faultproxy"
)

// TestBrowserResume (issue 9, result 3): the page, loaded through the
// fault proxy so that its WebSocket runs through it, keeps its console and
// its forwards across 10 s of cut network (the WebSocket and every new
// connection black-holed): text typed after the cut runs on the host,
// output from before and after is on the screen, a page -L still carries
// connections, and the page-wide banner said "reconnecting… M:SS" and then
// "resumed", while the console's tab said "reconnecting" and then "open". Then the gateway is killed and restarted: the page's tube
// cannot be resumed, and the banner and the console say why.
func TestBrowserResume(t *testing.T) {
	w := newWorld(t, gatewayOpts{})
	echo := startEcho(t)
	w.addUser(t, "alice", "--permit-name", "myhost")
	w.gw.mustCLI(t, browserPassword+"\n", "user", "add", "bob", "--password-stdin", "--permit-open", "myhost@alice:22")
	requirePage(t, w.gw)
	fp, err := faultproxy.New("127.0.0.1:0", w.gw.httpAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fp.Close() })
	w.remoteForward(t, fmt.Sprintf("myhost:22:localhost:%d", w.target.port), "alice.wsraw")

	b := startBrowser(t, "http://"+fp.Addr())
	b.open("/")
	b.fill("login-user", "bob")
	b.fill("login-password", browserPassword)
	b.click("login-submit")
	b.waitJS("the page to log in as bob", `document.body.dataset.user === "bob"`)
	connectConsole(b, w)
	b.waitVisible("hostkey-new-panel")
	b.click("hostkey-accept")
	b.waitJS("the console to open", `document.body.dataset.console === "open"`)
	b.waitPrompt()
	b.typeTerminal("echo before-$((6*7))\r")
	b.waitScreenLine("before-42")
	fwd := addForward(b, fmt.Sprintf("-L 0:127.0.0.1:%d", echo))
	requireEcho(t, fwd["listen"])

	step := func(name string, fn func(t *testing.T)) {
		if !t.Run(name, fn) {
			t.FailNow()
		}
	}
	step("10 s of cut network", func(t *testing.T) {
		b.t = t
		// Every text the banner shows, in order.
		var ok bool
		if err := b.eval(`(() => { window.bannerTexts = []; new MutationObserver(() => {
			const s = document.getElementById("tube-status"), x = document.getElementById("tube-status-text").textContent;
			if (!s.hidden && x && window.bannerTexts[window.bannerTexts.length - 1] !== x) window.bannerTexts.push(x);
		}).observe(document.getElementById("tube-status"), { subtree: true, childList: true, characterData: true, attributes: true });
		window.tabStates = [];
		new MutationObserver(() => {
			const x = document.body.dataset.console;
			if (window.tabStates[window.tabStates.length - 1] !== x) window.tabStates.push(x);
		}).observe(document.body, { attributes: true, attributeFilter: ["data-console"] }); return true; })()`, &ok); err != nil || !ok {
			t.Fatalf("watch the banner: %v", err)
		}
		holed := fp.BlackHoleFor(10 * time.Second)
		cut := time.Now()
		b.typeTerminal("echo after-$((7*8))\r")
		b.waitJS("the banner to say reconnecting", `document.body.dataset.tube === "reconnecting"`)
		noticed := time.Since(cut).Round(100 * time.Millisecond)
		b.waitScreenLine("after-56")
		back := time.Since(cut).Round(100 * time.Millisecond)
		b.waitJS("the banner to say resumed", `(document.getElementById("tube-status").dataset.history || "").includes("reconnecting resumed")`)
		var texts []string
		if err := b.eval(`window.bannerTexts`, &texts); err != nil {
			t.Fatalf("banner texts: %v", err)
		}
		countdown := regexp.MustCompile(`^reconnecting… \d+:\d\d$`)
		var seen []string
		for _, x := range texts {
			switch {
			case countdown.MatchString(x) && (len(seen) == 0 || seen[len(seen)-1] != "reconnecting"):
				seen = append(seen, "reconnecting")
			case x == "resumed":
				seen = append(seen, "resumed")
			}
		}
		if strings.Join(seen, " ") != "reconnecting resumed" {
			t.Errorf("the banner showed %q, want \"reconnecting… M:SS\" (counting down), then \"resumed\"", texts)
		}
		var tabStates []string
		if err := b.eval(`window.tabStates`, &tabStates); err != nil {
			t.Fatalf("tab states: %v", err)
		}
		if strings.Join(tabStates, " ") != "reconnecting open" {
			t.Errorf("the console's tab went through %q, want \"reconnecting\" while the tube resumed, then \"open\"", tabStates)
		}
		banner := strings.Join(texts, " | ")
		screen := b.screen()
		if !strings.Contains(screen, "before-42") || !strings.Contains(screen, "after-56") {
			t.Fatalf("want the output of before and after the cut on the screen:\n%s", screen)
		}
		var state string
		if err := b.eval(`document.body.dataset.console + " " + document.getElementById("console-status-text").textContent`, &state); err != nil || state != "open connected to myhost" {
			t.Fatalf("console state after the cut: %q (%v), want it open and its status untouched", state, err)
		}
		requireEcho(t, fwd["listen"])
		if n := len(w.gw.proc.out.linesMatching(`msg="tube resumed"`)); n < 1 {
			t.Fatalf("the gateway logged no resume\n%s", w.gw.proc.out)
		}
		t.Logf("%d connection(s) black-holed; reconnecting shown %v after the cut; the banner showed %s; the tab went %v; the typed line ran %v after the cut; the page -L still carries connections",
			holed, noticed, banner, tabStates, back)
	})

	step("a gateway restart: not resumable, and the page says why", func(t *testing.T) {
		b.t = t
		addr := w.gw.httpAddr
		w.gw.proc.kill()
		<-w.gw.proc.done
		opts := w.gw.opts
		opts.args = append(append([]string(nil), opts.args...), "--listen", addr)
		w.gw = startGateway(t, w.gw.dataDir, opts)
		banner := waitJSString(b, "the banner to say why the tube was not resumed",
			`document.body.dataset.tube === "failed" && document.getElementById("tube-status-text").textContent`)
		if !strings.Contains(banner, "no longer holds this session") {
			t.Errorf("banner %q, want it to say the gateway no longer holds the session", banner)
		}
		b.waitJS("the console to end", `document.body.dataset.console === "closed"`)
		status := b.textOf("console-status-text")
		if !strings.Contains(status, "no longer holds this session") {
			t.Errorf("console status %q, want it to say the gateway no longer holds the session", status)
		}
		t.Logf("banner %q; console %q", banner, status)
	})
}

// waitJSString waits for a JS expression that yields a non-empty string, and returns it.
func waitJSString(b *browser, what, expr string) string {
	b.t.Helper()
	var s string
	if err := json.Unmarshal(b.waitJS(what, expr), &s); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return s
}
