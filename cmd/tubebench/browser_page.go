package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// The page is driven through its stable element ids (DESIGN.md, interface
// contract) by JavaScript evaluated in it, as a person's clicks would: each
// wait polls every 2 ms so it adds next to nothing to what is timed.

// pageHelpers defines $, shown, set and until for the scripts below.
const pageHelpers = `
const $ = (id) => document.getElementById(id);
const shown = (id) => { const e = $(id); return !!e && !e.hidden && e.offsetParent !== null; };
const set = (id, v) => { const e = $(id); e.value = v; e.dispatchEvent(new Event("input", { bubbles: true })); };
const until = (what, fn, ms) => new Promise((resolve, reject) => {
  const end = performance.now() + ms;
  const tick = () => {
    let v;
    try { v = fn(); } catch (e) { reject(e); return; }
    if (v) { resolve(v); return; }
    if (performance.now() > end) {
      const status = $("console-status") ? $("console-status").textContent : "";
      reject(new Error("timed out waiting for " + what + (status ? " (console: " + status + ")" : "")));
      return;
    }
    setTimeout(tick, 2);
  };
  tick();
});
`

// loginScript logs in with the form on the page shown at /.
const loginScript = `(async (o) => {` + pageHelpers + `
  await until("the login form or the logged-in page", () => document.body && (shown("login-submit") || document.body.dataset.user), o.ms);
  if (document.body.dataset.user === o.user) return true;
  set("login-user", o.user);
  set("login-password", o.password);
  $("login-submit").click();
  await until("the page to log in", () => {
    if (shown("login-error") && $("login-error").textContent) throw new Error("login refused: " + $("login-error").textContent);
    return document.body.dataset.user === o.user;
  }, o.ms);
  return true;
})(%s)`

// consoleScript runs from the start of every document (before the page's
// own scripts) and leaves in window.__tubebench a promise of the times, in
// ms from navigation start, at which the logged-in page was shown, the
// host key was asked about, the console opened (a pty and a shell granted)
// and a shell prompt appeared in #terminal, with the wasm's resource timing.
const consoleScript = `window.__tubebench = (async (o) => {` + pageHelpers + `
  const failed = () => {
    if (document.body && document.body.dataset.console === "failed") throw new Error("console failed: " + $("console-status").textContent);
  };
  await until("the logged-in page", () => document.body && document.body.dataset.user === o.user && shown("console-connect"), o.ms);
  const app = performance.now();
  set("console-target", o.target);
  set("console-user", o.login);
  set("console-password", "");
  set("console-key", o.key);
  set("console-passphrase", "");
  $("console-connect").click();
  await until("the host key question", () => { failed(); return shown("hostkey-accept") || document.body.dataset.console === "open"; }, o.ms);
  const hostKey = performance.now();
  if (shown("hostkey-accept")) $("hostkey-accept").click();
  let open = 0;
  await until("a shell prompt in #terminal", () => {
    failed();
    if (!open && document.body.dataset.console === "open") open = performance.now();
    const rows = document.querySelector("#terminal .xterm-rows");
    if (!rows) return false;
    const lines = [...rows.children].map((c) => c.textContent.replace(/\u00a0/g, " ").trim()).filter(Boolean);
    return lines.length > 0 && /[$#%%>]$/.test(lines[lines.length - 1]);
  }, o.ms);
  const prompt = performance.now();
  if (!open) open = prompt;
  const w = performance.getEntriesByType("resource").find((e) => e.name.endsWith(".wasm"));
  return { app, hostKey, open, prompt, wasmEnd: w ? w.responseEnd : 0, wasmTransfer: w ? w.transferSize : 0, wasmEncoded: w ? w.encodedBodySize : 0, wasmDecoded: w ? w.decodedBodySize : 0 };
})(%s)`

// forwardScript adds a forward from the page and returns its row's
// listen address.
const forwardScript = `(async (o) => {` + pageHelpers + `
  const before = document.querySelectorAll("#forwards tr").length;
  set("forward-spec", o.spec);
  $("forward-add").click();
  await until("a new row in #forwards", () => document.querySelectorAll("#forwards tr").length > before || (shown("forward-error") && $("forward-error").textContent), o.ms);
  if (shown("forward-error") && $("forward-error").textContent) throw new Error("forward refused: " + $("forward-error").textContent);
  const row = [...document.querySelectorAll("#forwards tr")].pop();
  return row.querySelector(".listen").textContent;
})(%s)`

// pageRun is one load of the page to a shell prompt, in ms from
// navigation start.
type pageRun struct {
	App          float64 `json:"app"`     // the logged-in page is shown
	HostKey      float64 `json:"hostKey"` // the host key is asked about
	Open         float64 `json:"open"`    // the console is open: pty and shell granted
	Prompt       float64 `json:"prompt"`  // a shell prompt is in #terminal
	WasmEnd      float64 `json:"wasmEnd"` // the wasm's response has ended
	WasmTransfer float64 `json:"wasmTransfer"`
	WasmEncoded  float64 `json:"wasmEncoded"`
	WasmDecoded  float64 `json:"wasmDecoded"`
}

// consoleLogin is who the page logs in as, on the gateway and on the host.
type consoleLogin struct {
	User     string `json:"user"`     // gateway user
	Password string `json:"password"` // gateway password
	Target   string `json:"target"`   // a virtual name
	Login    string `json:"login"`    // the user on the host
	Key      string `json:"key"`      // the host user's private key
	MS       int64  `json:"ms"`       // every wait's bound
}

// jsArg renders v as a JavaScript literal (JSON) for a script's argument.
func jsArg(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // plain structs and strings always marshal
	}
	return string(b)
}

// login opens the page at base and logs in with its form.
func (c *chromium) login(base string, o consoleLogin) error {
	if err := c.do("open "+base, chromedp.Navigate(base+"/")); err != nil {
		return err
	}
	return c.eval("log in as "+o.User, fmt.Sprintf(loginScript, jsArg(o)), nil)
}

// timeToPrompt loads the page at base n times and returns each run's
// times. Before each load localStorage is cleared, so the host key is asked
// about every time; with cold, the HTTP cache is off for every request.
func (c *chromium) timeToPrompt(base string, o consoleLogin, n int, cold bool) ([]pageRun, error) {
	var script page.ScriptIdentifier
	err := c.do("prepare the page loads", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{}); err != nil {
			return fmt.Errorf("network domain: %w", err)
		}
		if _, err := cdp.Call(ctx, t, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: cold}); err != nil {
			return fmt.Errorf("set the HTTP cache off=%v: %w", cold, err)
		}
		r, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument,
			page.AddScriptToEvaluateOnNewDocumentParams{Source: fmt.Sprintf(consoleScript, jsArg(o))})
		if err != nil {
			return fmt.Errorf("install the console script: %w", err)
		}
		script = r.Identifier
		return nil
	}))
	if err != nil {
		return nil, err
	}
	defer c.do("remove the console script", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, page.RemoveScriptToEvaluateOnNewDocument, page.RemoveScriptToEvaluateOnNewDocumentParams{Identifier: script})
		return err
	}))
	var runs []pageRun
	for i := range n {
		if err := c.eval("forget remembered host keys", "localStorage.clear()", nil); err != nil {
			return nil, err
		}
		if err := c.do("load the page", chromedp.Navigate(base+"/")); err != nil {
			return nil, err
		}
		var r pageRun
		if err := c.eval(fmt.Sprintf("run %d to a shell prompt", i+1), "window.__tubebench", &r); err != nil {
			return nil, err
		}
		runs = append(runs, r)
	}
	return runs, nil
}

// addForward adds spec from the page's forward form and returns where the
// gateway listens for it.
func (c *chromium) addForward(spec string) (string, error) {
	var listen string
	err := c.eval("add "+spec+" from the page", fmt.Sprintf(forwardScript, jsArg(map[string]any{"spec": spec, "ms": browserStep.Milliseconds()})), &listen)
	return strings.TrimSpace(listen), err
}
