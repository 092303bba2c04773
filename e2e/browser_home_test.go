package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// clickCSS clicks the first element matching sel once it is visible.
func (b *browser) clickCSS(sel string) {
	b.t.Helper()
	b.run("click "+sel, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
}

// key sends one real key press with modifiers (Alt 1, Ctrl 2, Meta 4, Shift 8) to the focused element.
func (b *browser) key(key, code string, vk, mods int64) {
	b.t.Helper()
	b.run("press "+key, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		down := input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeRawKeyDown, Key: key, Code: code, Modifiers: mods,
			WindowsVirtualKeyCode: vk, NativeVirtualKeyCode: vk}
		if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, down); err != nil {
			return err
		}
		up := down
		up.Type = input.DispatchKeyEventTypeKeyUp
		_, err := cdp.Call(ctx, t, input.DispatchKeyEvent, up)
		return err
	}))
}

// dialog runs act, which must open a JavaScript dialog, answers it (accept or not) and returns its
// type.
func (b *browser) dialog(act func(), accept bool) page.DialogType {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserTimeout)
	defer cancel()
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	asked := make(chan page.DialogType, 1)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			// Answer before telling the caller: once dialog returns, ctx is
			// cancelled, and an answer not yet sent would be lost with it,
			// leaving the page stuck behind its dialog.
			chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
				_, err := cdp.Call(ctx, tg, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: accept})
				return err
			}))
			asked <- ev.Type
			return
		}
	}()
	act()
	select {
	case typ := <-asked:
		return typ
	case <-ctx.Done():
		b.t.Fatalf("no dialog within %v", browserTimeout)
		return ""
	}
}

// mouse sends one mouse event at x, y.
func mouse(typ input.DispatchMouseEventType, x, y float64) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		p := input.DispatchMouseEventParams{Type: typ, X: x, Y: y, Button: input.MouseButtonNone}
		if typ != input.DispatchMouseEventTypeMouseMoved {
			p.Button, p.ClickCount = input.MouseButtonLeft, 1
		}
		_, err := cdp.Call(ctx, t, input.DispatchMouseEvent, p)
		return err
	})
}

// rowRect finds the active terminal's row whose text contains s and returns where s starts and
// the cell size.
func (b *browser) rowRect(s string) (x, y, cell float64) {
	b.t.Helper()
	var r struct{ X, Y, Cell float64 }
	b.waitJS("a terminal row with "+s, fmt.Sprintf(`[...document.querySelectorAll('#terminal .xterm-rows > div')].some((d) => d.textContent.includes(%q))`, s))
	if err := b.eval(fmt.Sprintf(`(() => { const d = [...document.querySelectorAll('#terminal .xterm-rows > div')].find((d) => d.textContent.includes(%q));
		const t = TG.consoles.active().term; const box = d.getBoundingClientRect(); const cell = box.width / t.cols;
		const col = d.textContent.replace(/\u00a0/g, ' ').indexOf(%q);
		return { x: box.left + col * cell + cell / 2, y: box.top + box.height / 2, cell }; })()`, s, s), &r); err != nil {
		b.t.Fatalf("find %q on screen: %v", s, err)
	}
	return r.X, r.Y, r.Cell
}

const (
	modCtrl  = 2
	modShift = 8
)

var emulationSetMedia = emulation.SetEmulatedMedia

func emulationMedia(scheme string) emulation.SetEmulatedMediaParams {
	return emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}}
}

// TestBrowserHome walks the page as a person who works in it, at 1280x800 then at phone size:
// the empty home teaches the first ssh -R; a host published with ssh -R shows up without a reload,
// with Console, Open, Share link and Copy ssh command; two consoles run at once in tabs, a new
// connect (even one that fails) leaves the open console and its forward alone, tabs show unread
// output, closing a running one asks first; search, font size keys, remembered settings, a theme
// that follows the OS, copy-on-select, Ctrl+W (Chromium's) meeting the leave-page question,
// clickable links, Unicode 11 widths; reloading asks first and
// offers the last target again; at 390x844 nothing overflows and the key row types a |; a closed
// console reconnects in its tab. axe-core finds no serious or critical violation on login, home,
// console and settings. Screenshots for the README are taken on the way.
func TestBrowserHome(t *testing.T) {
	w := newWorld(t, gatewayOpts{})
	w.addUser(t, "alice")
	w.gw.mustCLI(t, browserPassword+"\n", "user", "set", "alice", "--password-stdin")
	base := "http://" + w.gw.httpAddr
	b := startBrowser(t, base)
	requirePage(t, w.gw)
	b.run("viewport 1280x800", chromedpViewport(1280, 800))
	step := func(name string, fn func(t *testing.T)) {
		if !t.Run(name, fn) {
			t.FailNow()
		}
	}
	outer := t // what lives for the whole walk is the outer test's
	const body = "hello from web.alice"
	httpPort := startHTTP(t, body)

	step("login page: accessible", func(t *testing.T) {
		b.t = t
		b.open("/")
		b.waitVisible("login")
		axeCheck(b, "the login page")
		b.fill("login-user", "alice")
		b.fill("login-password", browserPassword)
		b.click("login-submit")
		b.waitJS("the page to log in as alice", `document.body.dataset.user === "alice"`)
	})

	step("empty home teaches the first ssh -R", func(t *testing.T) {
		b.t = t
		b.waitVisible("home-empty")
		sshLine := b.waitTextContains("home-empty-ssh", "-R myhost.alice:22:localhost:22 alice@127.0.0.1")
		if !strings.Contains(sshLine, "gateway connect ws://"+w.gw.httpAddr+"/ssh") {
			t.Fatalf("the empty state's ssh -R does not go through this gateway (%s): %s", w.gw.httpAddr, sshLine)
		}
		b.waitTextContains("home-empty-tunnel", "gateway tunnel -R myhost.alice:22:localhost:22 --user alice ws://"+w.gw.httpAddr+"/ssh")
		axeCheck(b, "the empty home")
	})

	step("a published host shows up without a reload", func(t *testing.T) {
		b.t = t
		w.remoteForward(outer, fmt.Sprintf("myhost.alice:22:localhost:%d", w.target.port), "alice.ws")
		w.remoteForward(outer, fmt.Sprintf("web.alice:80:localhost:%d", httpPort), "alice.ws")
		b.waitJS("myhost.alice online on home", `!!document.querySelector('#home-list li[data-target="myhost.alice:22"][data-state="online"]')`)
		b.waitJS("web.alice online on home", `!!document.querySelector('#home-list li[data-target="web.alice:80"][data-state="online"]')`)
		var meta string
		b.eval(`document.querySelector('#home-list li[data-target="myhost.alice:22"] .home-meta').textContent`, &meta)
		if !strings.Contains(meta, "online since") || !strings.Contains(meta, "published by you") || !strings.Contains(meta, "from 127.0.0.1:") {
			t.Fatalf("myhost.alice's card says %q; want online since, published by you, from where", meta)
		}
		b.waitJS("the empty state to go", `document.getElementById("home-empty").hidden`)
	})

	step("copy ssh command", func(t *testing.T) {
		b.t = t
		b.clickCSS(`#home-list li[data-target="myhost.alice:22"] .home-ssh`)
		var codes []string
		b.waitJS("the ssh commands", `document.querySelectorAll('#home-list li[data-target="myhost.alice:22"] .home-out code').length === 2`)
		b.eval(`[...document.querySelectorAll('#home-list li[data-target="myhost.alice:22"] .home-out code')].map((c) => c.textContent)`, &codes)
		line, config := codes[0], codes[1]
		for _, want := range []string{"gateway connect ws://" + w.gw.httpAddr + "/ssh", "alice@127.0.0.1", "@myhost.alice", "-W %h:%p"} {
			if !strings.Contains(line, want) {
				t.Fatalf("ssh command %q lacks %q", line, want)
			}
		}
		if !strings.Contains(config, "ProxyJump gw") || !strings.Contains(config, "HostName myhost.alice") {
			t.Fatalf("~/.ssh/config block lacks ProxyJump gw / HostName myhost.alice:\n%s", config)
		}
		b.eval(`navigator.clipboard.writeText = (t) => { window.__copied = t; return Promise.resolve(); }; true`, new(bool))
		b.clickCSS(`#home-list li[data-target="myhost.alice:22"] .home-out .copy`)
		b.waitJS("the button to say Copied", `document.querySelector('#home-list li[data-target="myhost.alice:22"] .home-out .copy').textContent === "Copied"`)
		var copied string
		b.eval(`window.__copied`, &copied)
		if copied != line {
			t.Fatalf("Copy put %q on the clipboard, want %q", copied, line)
		}
	})

	step("open and share an HTTP endpoint", func(t *testing.T) {
		b.t = t
		b.eval(`window.open = (u) => { window.__opened = u; return null; }; true`, new(bool)) // a new tab would take the test's focus
		b.clickCSS(`#home-list li[data-target="web.alice:80"] .home-open`)
		raw := b.waitJS("the login-required link", `document.querySelector('#home-list li[data-target="web.alice:80"]').dataset.openUrl`)
		var url string
		json.Unmarshal(raw, &url)
		var opened string
		b.eval(`window.__opened`, &opened)
		if opened != url {
			t.Fatalf("Open opened %q, want its link %q", opened, url)
		}
		var got string
		if err := b.evalAwait(fmt.Sprintf(`fetch(%q, { credentials: 'same-origin' }).then((r) => r.text())`, url), &got); err != nil || got != body {
			t.Fatalf("Open's link %s, fetched as alice: %q (%v), want %q", url, got, err, body)
		}
		resp, err := w.gw.httpClient(t).Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatalf("Open's link %s answers 200 without a login; it must require one", url)
		}
		b.clickCSS(`#home-list li[data-target="web.alice:80"] .home-share`)
		raw = b.waitJS("the share link", `(document.querySelector('#home-list li[data-target="web.alice:80"] .home-out code') || {}).textContent`)
		json.Unmarshal(raw, &url)
		resp, err = w.gw.httpClient(t).Get(url)
		if err != nil {
			t.Fatal(err)
		}
		got2, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(got2) != body {
			t.Fatalf("Share link %s: %s %q, want %q", url, resp.Status, got2, body)
		}
	})

	var listen string
	step("console from home, with a forward", func(t *testing.T) {
		b.t = t
		b.clickCSS(`#home-list li[data-target="myhost.alice:22"] .home-console`)
		b.waitJS("the target filled in", `document.getElementById("console-target").value === "myhost.alice"`)
		b.fill("console-user", w.login)
		b.fill("console-key", readFile(t, w.targetKey))
		b.click("console-connect")
		b.waitVisible("hostkey-new-panel")
		b.click("hostkey-accept")
		b.waitJS("the console to open", `document.body.dataset.console === "open"`)
		b.waitPrompt()
		row := addForward(b, fmt.Sprintf("-L 0:127.0.0.1:%d", httpPort))
		listen = row["listen"]
		var con string
		b.eval(fmt.Sprintf(`document.querySelector('#forwards tr[data-id=%q] .console').textContent`, row["id"]), &con)
		if con != "myhost.alice as "+w.login {
			t.Fatalf("the forward's console column says %q", con)
		}
	})

	getListen := func(t *testing.T) string {
		resp, err := w.gw.httpClient(t).Get("http://" + listen + "/")
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		got, _ := io.ReadAll(resp.Body)
		return string(got)
	}

	step("a new connect is a new tab; the open console and its forward stay", func(t *testing.T) {
		b.t = t
		b.fill("console-target", "nosuch.alice")
		b.click("console-connect")
		b.waitJS("the failed attempt", `document.body.dataset.console === "failed"`)
		b.waitTextContains("console-status-text", "Host offline")
		b.fill("console-target", "myhost.alice")
		b.fill("console-key", readFile(t, w.targetKey))
		b.click("console-connect")
		b.waitJS("a third tab, open", `(document.getElementById("console-tab-3") || {}).dataset?.state === "open"`)
		b.waitPrompt()
		b.typeTerminal("echo two-$((1+1))\r")
		b.waitScreenLine("two-2")
		var first string
		b.eval(`document.getElementById("console-tab-1").dataset.state`, &first)
		if first != "open" {
			t.Fatalf("after a failed and a new connect the first console is %q, want still open", first)
		}
		if got := getListen(t); got != body {
			t.Fatalf("the first console's -L after a new connect: %q, want %q", got, body)
		}
		// Unread output: the first tab writes while the third is shown.
		b.click("console-tab-1")
		b.typeTerminal("sleep 1; echo late-$((2+1))\r")
		b.click("console-tab-3")
		b.waitJS("the first tab to show unread output", `!!document.querySelector('#console-tab-1 .unread')`)
		screenshot(b, "tabs")
		b.click("console-tab-1")
		b.waitScreenLine("late-3")
		axeCheck(b, "a console tab")
	})

	step("closing asks only when something runs", func(t *testing.T) {
		b.t = t
		b.click("console-tab-3")
		b.clickCSS("#console-panel-3 .console-close")
		b.waitJS("the question", `!document.querySelector("#console-panel-3 .console-close-confirm").hidden`)
		b.clickCSS("#console-panel-3 .console-close-yes")
		b.waitJS("the tab to go", `!document.getElementById("console-tab-3")`)
		b.click("console-tab-2") // the failed one: closes at once
		b.clickCSS("#console-panel-2 .console-close")
		b.waitJS("the failed tab to go", `!document.getElementById("console-tab-2")`)
		b.waitJS("the first tab shown", `document.getElementById("console-tab-1").getAttribute("aria-selected") === "true"`)
	})

	step("search, font size keys, settings remembered", func(t *testing.T) {
		b.t = t
		b.run("focus the terminal", chromedp.Focus(chromedp.CSS("#terminal textarea"), chromedp.NodeReady))
		b.key("F", "KeyF", 70, modCtrl|modShift)
		b.waitJS("the search box", `document.activeElement && document.activeElement.classList.contains("console-search")`)
		b.run("type the search", chromedp.KeyEvent("late-3"))
		b.key("Enter", "Enter", 13, 0)
		b.waitJS("the search to find it", `document.getElementById("console-panel-1").dataset.searchFound === "yes"`)
		b.run("focus the terminal", chromedp.Focus(chromedp.CSS("#terminal textarea"), chromedp.NodeReady))
		b.key("=", "Equal", 187, modCtrl)
		b.waitJS("Ctrl+= to grow the font", `TG.consoles.active().term.options.fontSize === 15 && document.getElementById("settings-font-size").value === "15"`)
		b.run("theme dark, scrollback 1000", chromedp.Evaluate[chromedp.Void](`(() => {
			document.getElementById("settings-theme").value = "dark";
			document.getElementById("settings-scrollback").value = "1000";
			document.getElementById("settings-form").dispatchEvent(new Event("change", { bubbles: true })); })()`))
		b.waitJS("the dark theme and the scrollback", `document.documentElement.dataset.theme === "dark" &&
			TG.consoles.active().term.options.scrollback === 1000 && TG.consoles.active().term.options.theme.background === "#111418"`)
		axeCheck(b, "the settings, dark")
		b.run("theme: follow the system", chromedp.Evaluate[chromedp.Void](`(() => {
			document.getElementById("settings-theme").value = "auto";
			document.getElementById("settings-form").dispatchEvent(new Event("change", { bubbles: true })); })()`))
		for _, c := range []struct{ scheme, bg string }{{"dark", "rgb(21, 23, 26)"}, {"light", "rgb(247, 248, 250)"}} {
			scheme := c.scheme
			b.run("prefers-color-scheme: "+scheme, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
				_, err := cdp.Call(ctx, tg, emulationSetMedia, emulationMedia(scheme))
				return err
			}))
			b.waitJS("the page to follow the system's "+scheme+" theme", fmt.Sprintf(`getComputedStyle(document.body).backgroundColor === %q`, c.bg))
		}
		axeCheck(b, "the settings, light")
	})

	step("copy on select", func(t *testing.T) {
		b.t = t
		b.click("settings-copy-on-select")
		b.eval(`navigator.clipboard.writeText = (t) => { window.__copied = t; return Promise.resolve(); }; true`, new(bool))
		b.typeTerminal("clear; echo select-me-$((4+4))\r")
		b.waitScreenLine("select-me-8")
		x, y, cell := b.rowRect("select-me-8")
		b.run("select with the mouse", mouse(input.DispatchMouseEventTypeMousePressed, x-cell/2+1, y), mouse(input.DispatchMouseEventTypeMouseMoved, x+cell*5, y), mouse(input.DispatchMouseEventTypeMouseMoved, x+cell*10.4, y),
			mouse(input.DispatchMouseEventTypeMouseReleased, x+cell*10.4, y))
		raw := b.waitJS("the selection on the clipboard", `window.__copied`)
		var copied string
		json.Unmarshal(raw, &copied)
		if !strings.HasPrefix(copied, "select-me-8") {
			t.Fatalf("copy-on-select put %q on the clipboard, want select-me-8", copied)
		}
	})

	step("Ctrl+W is the browser's; leaving asks first", func(t *testing.T) {
		b.t = t
		// Chromium keeps Ctrl+W for closing the tab, as the README says; with a console open, the
		// page asks first, and the session lives on when the person stays.
		typ := b.dialog(func() { b.key("w", "KeyW", 87, modCtrl) }, false)
		if typ != page.DialogTypeBeforeunload {
			t.Fatalf("Ctrl+W with a console open: a %q dialog, want beforeunload", typ)
		}
		b.typeTerminal("\x15echo alive-$((1+1))\r")
		b.waitScreenLine("alive-2")
	})

	step("links are clickable, widths are Unicode 11", func(t *testing.T) {
		b.t = t
		b.typeTerminal("clear; echo https://example.test/page; printf '\\360\\237\\230\\200|\\n'\r")
		b.waitScreenLine("https://example.test/page")
		// The web-links addon's provider, as xterm.js asks it when the mouse comes over a row.
		var links []string
		if err := b.evalAwait(`new Promise((res) => { const t = TG.consoles.active().term; const ps = t._core._linkProviderService.linkProviders;
			const buf = t.buffer.active; let y = -1; for (let i = 0; i < buf.length; i++) if (buf.getLine(i).translateToString(true).includes("example.test")) y = i;
			Promise.all(ps.map((p) => new Promise((r) => p.provideLinks(y + 1, (l) => r((l || []).map((x) => x.text)))))).then((all) => res(all.flat())); })`, &links); err != nil {
			t.Fatal(err)
		}
		if len(links) != 1 || links[0] != "https://example.test/page" {
			t.Fatalf("links on the URL's row: %q, want the URL", links)
		}
		var width int
		b.waitJS("the emoji line", `(() => { const buf = TG.consoles.active().term.buffer.active; for (let i = 0; i < buf.length; i++) if (buf.getLine(i).translateToString(true) === "\u{1F600}|") return true; return false; })()`)
		b.eval(`(() => { const t = TG.consoles.active().term; const buf = t.buffer.active; for (let i = 0; i < buf.length; i++) { const l = buf.getLine(i); if (l.translateToString(true) === "\u{1F600}|") return l.getCell(0).getWidth(); } return 0; })()`, &width)
		var version, renderer string
		b.eval(`TG.consoles.active().term.unicode.activeVersion`, &version)
		b.eval(`document.getElementById("terminal").dataset.renderer`, &renderer)
		if version != "11" || width != 2 {
			t.Fatalf("unicode version %q, emoji width %d; want 11 and 2", version, width)
		}
		// Headless Chromium's WebGL is SwiftShader (software): the DOM renderer is the faster one.
		if renderer != "dom" {
			t.Fatalf("renderer %q under software WebGL, want dom", renderer)
		}
	})

	step("reload asks first, then offers the last target", func(t *testing.T) {
		b.t = t
		typ := b.dialog(func() { b.run("reload", chromedp.Evaluate[chromedp.Void](`setTimeout(() => location.reload(), 0)`)) }, true)
		if typ != page.DialogTypeBeforeunload {
			t.Fatalf("reload asked with a %s dialog, want beforeunload", typ)
		}
		b.waitJS("the page back, logged in, no console", `document.body.dataset.user === "alice" && !document.getElementById("console-tab-1")`)
		b.waitJS("the last target offered", `document.getElementById("console-target").value === "myhost.alice"`)
		if got := b.textOf("user-name"); got != "alice" {
			t.Fatalf("user %q", got)
		}
		var user string
		b.eval(`document.getElementById("console-user").value`, &user)
		if user != w.login {
			t.Fatalf("the last target's user: %q, want %q", user, w.login)
		}
		b.waitJS("the recent target", `!!document.querySelector('#recent-targets li[data-target="myhost.alice"]')`)
		var stored string
		b.eval(`localStorage.getItem("tubegate.recentTargets") + localStorage.getItem("tubegate.settings")`, &stored)
		if strings.Contains(stored, "PRIVATE") || strings.Contains(stored, "password") {
			t.Fatalf("the browser's storage holds a secret: %s", stored)
		}
		b.waitJS("the font size remembered", `document.getElementById("settings-font-size").value === "15"`)
		screenshot(b, "home")
	})

	step("phone size: no overflow, the key row types", func(t *testing.T) {
		b.t = t
		b.run("viewport 390x844", chromedpViewport(390, 844))
		b.fill("console-key", readFile(t, w.targetKey))
		b.click("console-connect")
		b.waitJS("the console to open", `document.body.dataset.console === "open"`)
		b.waitPrompt()
		var width int
		b.eval(`document.documentElement.scrollWidth`, &width)
		if width > 390 {
			var wide []string
			b.eval(`[...document.querySelectorAll("body *")].filter((e) => e.getBoundingClientRect().right > 391 && e.offsetParent !== null).slice(0, 12).map((e) => e.tagName + "#" + e.id + "." + e.className + " " + Math.round(e.getBoundingClientRect().right))`, &wide)
			t.Fatalf("at 390 px wide the page is %d px wide; too wide: %s", width, strings.Join(wide, ", "))
		}
		b.waitVisible("terminal")
		b.typeTerminal("echo ab ")
		b.clickCSS(`#console-panel-1 .keyrow [data-key="Pipe"]`)
		b.typeTerminal(" tr a-z A-Z\r")
		b.waitScreenLine("AB")
		screenshot(b, "phone")
		axeCheck(b, "the console at phone size")
	})

	step("a closed console reconnects in its tab", func(t *testing.T) {
		b.t = t
		b.run("viewport 1280x800", chromedpViewport(1280, 800))
		b.typeTerminal("exit\r")
		b.waitTextContains("console-status", "Session ended (exit 0)")
		b.clickCSS("#console-panel-1 .console-reconnect")
		b.waitJS("the form filled for it", `document.getElementById("console-target").value === "myhost.alice"`)
		b.fill("console-key", readFile(t, w.targetKey))
		b.click("console-connect")
		b.waitJS("the same tab open again", `document.getElementById("console-tab-1").dataset.state === "open" && document.querySelectorAll("#console-tabs [role=tab]").length === 1`)
		b.waitPrompt()
	})
}
