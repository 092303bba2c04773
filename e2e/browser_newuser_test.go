package e2e

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestBrowserNewUser walks the page as a new user at 1280x800 and checks the defects such a user
// found, one step each: the first-run password form comes first; the host-key prompt takes focus
// and Escape refuses; the private key and its passphrase leave the form once used; the host is
// sent a UTF-8 locale (LANG, LC_CTYPE) so that é漢字ü reaches bash intact; an underscore is drawn
// in its own terminal row; a refused forward keeps its row with the reason; errors read as plain
// sentences (the wrong password at the password field) and a clean exit is not a failure.
func TestBrowserNewUser(t *testing.T) {
	w := newWorld(t, gatewayOpts{})
	link := w.gw.proc.mustWaitLine(t, reFirstRun, startTimeout)[1]
	b := startBrowser(t, "http://"+w.gw.httpAddr)
	requirePage(t, w.gw)
	b.run("viewport 1280x800", chromedpViewport(1280, 800))
	step := func(name string, fn func(t *testing.T)) {
		if !t.Run(name, fn) {
			t.FailNow()
		}
	}

	step("first run: the password form comes first", func(t *testing.T) {
		b.t = t
		b.open(link)
		b.waitJS("the page to see admin has no password", `document.body.dataset.hasPassword === "no"`)
		b.waitVisible("password-missing")
		var pos struct {
			First bool    `json:"first"`
			Top   float64 `json:"top"`
			H     float64 `json:"h"`
		}
		if err := b.eval(`(() => { const s = document.getElementById("password-section");
			return { first: document.getElementById("app").firstElementChild === s,
				top: document.getElementById("password-new").getBoundingClientRect().top, h: innerHeight }; })()`, &pos); err != nil {
			t.Fatal(err)
		}
		if !pos.First || pos.Top > pos.H {
			t.Fatalf("first-run password form: first section %v, new-password field at y=%.0f in a %.0f px high window; want first and above the fold",
				pos.First, pos.Top, pos.H)
		}
		b.fill("password-new", "admin-e2e-password")
		b.click("password-submit")
		b.waitJS("the page to see admin's password", `document.body.dataset.hasPassword === "yes"`)
		b.waitJS("the password form to move back down", `document.getElementById("app").firstElementChild.id !== "password-section"`)
		b.click("logout")
		b.waitVisible("login")
	})

	host, _ := startAuthHost(t)
	w.addUser(t, "alice", "--permit-name", "myhost")
	w.gw.mustCLI(t, browserPassword+"\n", "user", "add", "bob", "--password-stdin",
		"--permit-open", "myhost@alice:22", "--permit-open", host)
	w.remoteForward(t, fmt.Sprintf("myhost:22:localhost:%d", w.target.port), "alice.ws")
	b.fill("login-user", "bob")
	b.fill("login-password", browserPassword)
	b.click("login-submit")
	b.waitJS("the page to log in as bob", `document.body.dataset.user === "bob"`)

	step("host-key prompt: Accept has focus, Escape refuses", func(t *testing.T) {
		b.t = t
		connectConsole(b, w)
		b.waitVisible("hostkey-new-panel")
		b.waitJS("focus on #hostkey-accept", `document.activeElement && document.activeElement.id === "hostkey-accept"`)
		b.run("press Escape", chromedp.KeyEvent(kb.Escape))
		b.waitTextContains("console-status", "did not trust the host key")
		b.waitJS("the prompt to close", `document.getElementById("hostkey-new-panel").hidden`)
	})

	step("key and passphrase cleared once used", func(t *testing.T) {
		b.t = t
		connectConsole(b, w)
		b.fill("console-passphrase", "typed-but-unneeded")
		b.waitVisible("hostkey-new-panel")
		b.click("hostkey-accept")
		b.waitJS("the console to open", `document.body.dataset.console === "open"`)
		b.waitPrompt()
		var left struct{ Key, Passphrase string }
		if err := b.eval(`({ Key: document.getElementById("console-key").value, Passphrase: document.getElementById("console-passphrase").value })`, &left); err != nil {
			t.Fatal(err)
		}
		if left.Key != "" || left.Passphrase != "" {
			t.Fatalf("after login the form still holds the key (%d bytes) and passphrase (%d bytes)", len(left.Key), len(left.Passphrase))
		}
	})

	step("locale sent: LANG and UTF-8 input reach bash", func(t *testing.T) {
		b.t = t
		b.typeTerminal(`echo "lang=[$LANG] ctype=[$LC_CTYPE]"` + "\r")
		b.waitScreenLine("lang=[C.UTF-8] ctype=[C.UTF-8]")
		// Typed, not pasted: bash's line editor must read each character whole. od shows the bytes.
		b.typeTerminal(`echo "é漢字ü" | od -An -tx1 | tr -d ' \n'; echo` + "\r")
		b.waitScreenLine("c3a9e6bca2e5ad97c3bc0a")
	})

	step("an underscore is drawn in its terminal row", func(t *testing.T) {
		b.t = t
		const line = "________________________________"
		b.typeTerminal("clear; echo " + line + "\r")
		b.waitScreenLine(line)
		var ok bool
		if err := b.eval(fmt.Sprintf(`(() => { const r = [...document.querySelectorAll('#terminal .xterm-rows > div')]
			.find((d) => d.textContent.replace(/\u00a0/g, ' ').trim() === %q); if (!r) return false; r.id = 'underscore-row'; return true; })()`, line), &ok); err != nil || !ok {
			t.Fatalf("no terminal row of underscores (%v)", err)
		}
		ctx, cancel := context.WithTimeout(b.ctx, browserTimeout)
		defer cancel()
		shot, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.ID("underscore-row"), chromedp.NodeVisible))
		if err != nil {
			t.Fatalf("screenshot the row: %v", err)
		}
		img, err := png.Decode(bytes.NewReader(shot))
		if err != nil {
			t.Fatal(err)
		}
		// The terminal is black; the text is light. Count lit pixels in the row's box.
		lit, total := 0, 0
		r := img.Bounds()
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				cr, cg, cb, _ := img.At(x, y).RGBA()
				total++
				if (cr+cg+cb)/3 > 0x6000 {
					lit++
				}
			}
		}
		t.Logf("underscore row %dx%d: %d of %d pixels lit", r.Dx(), r.Dy(), lit, total)
		if lit < len(line) {
			t.Fatalf("a row of %d underscores lights %d of %d pixels of its row: the underscores are not drawn", len(line), lit, total)
		}
	})

	step("a refused forward keeps its row with the reason", func(t *testing.T) {
		b.t = t
		for _, spec := range []string{"-L 80:127.0.0.1:22", fmt.Sprintf("-R %d:127.0.0.1:22", w.target.port)} {
			var before int
			if err := b.eval(`document.querySelectorAll("#forwards tr.refused").length`, &before); err != nil {
				t.Fatal(err)
			}
			b.fill("forward-spec", spec)
			b.click("forward-add")
			row := b.waitJS("a refused row for "+spec, fmt.Sprintf(`(() => { const r = [...document.querySelectorAll("#forwards tr.refused")]; return r.length > %d && r.pop().textContent; })()`, before))
			if !strings.Contains(string(row), strings.Fields(spec)[1]) || !strings.Contains(string(row), "refused") {
				t.Fatalf("refused row for %s: %s", spec, row)
			}
			t.Logf("%s: %s", spec, row)
		}
	})

	step("plain errors; a clean exit is not a failure", func(t *testing.T) {
		b.t = t
		b.fill("console-target", host)
		b.fill("console-user", "pwuser")
		b.fill("console-password", "wrong-password")
		b.click("console-connect")
		b.waitVisible("hostkey-new-panel")
		b.click("hostkey-accept")
		msg := b.waitTextContains("console-password-error", "Wrong password")
		b.waitTextContains("console-status-text", "not connected: Wrong password")
		b.waitTextContains("console-status-detail", "unable to authenticate")
		t.Logf("wrong password: %s", msg)

		for _, c := range []struct{ target, want string }{
			{"127.0.0.1:1", "Refused by your policy"},
			{"ghost.bob", "Host offline"},
		} {
			b.fill("console-target", c.target)
			b.click("console-connect")
			b.waitTextContains("console-status-text", c.want)
			t.Logf("%s: %s", c.target, b.textOf("console-status-text"))
		}

		b.fill("console-target", host)
		b.fill("console-password", hostPassword)
		b.click("console-connect")
		b.waitScreenLine("welcome pwuser via password")
		b.waitTextContains("console-status", "Session ended (exit 0)")
		var red bool
		if err := b.eval(`document.getElementById("console-status").classList.contains("error")`, &red); err != nil || red {
			t.Fatalf("a clean exit is shown as an error (%v)", err)
		}
	})
}
