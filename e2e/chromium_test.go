package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/tubegate/tubegate/internal/throwaway"
)

// browserTimeout bounds one browser step (a click, a wait for the page).
const browserTimeout = 30 * time.Second

// browser is a headless Debian Chromium driven over the DevTools protocol, with a fresh profile.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string   // the gateway's http://ADDR
	log  *lineLog // the page's console messages and exceptions
}

// chromiumPath finds Debian's chromium, failing (never skipping) when it is missing.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	t.Fatalf("chromium not found: install Debian's chromium package (make deps does)")
	return ""
}

// startBrowser starts Chromium for the gateway at base. It is closed when the test ends; its
// console output is logged if the test failed.
func startBrowser(t *testing.T, base string) *browser {
	t.Helper()
	opts := throwaway.ChromiumOptions(chromiumPath(t), shortTempDir(t))
	b := &browser{t: t, base: base, log: newLineLog()}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithListener(func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			var parts []string
			for _, a := range ev.Args {
				if a.Value != nil {
					parts = append(parts, string(a.Value))
				} else {
					parts = append(parts, a.Description)
				}
			}
			fmt.Fprintf(b.log, "console.%s: %s\n", ev.Type, strings.Join(parts, " "))
		case *runtime.EventExceptionThrown:
			msg := ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				msg += " " + ev.ExceptionDetails.Exception.Description
			}
			fmt.Fprintf(b.log, "exception: %s\n", msg)
		}
	}))
	b.ctx = ctx
	// The first Do starts the browser and must not carry a timeout (that would bound the
	// browser's life), so it is bounded from outside.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			cancel()
			cancelAlloc()
			t.Fatalf("start chromium: %v", err)
		}
	case <-time.After(startTimeout):
		cancel()
		cancelAlloc()
		t.Fatalf("chromium did not start within %v", startTimeout)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("=== page console\n%s=== end of page console", b.log)
		}
		cancel()
		cancelAlloc() // kills the browser and waits for it
	})
	return b
}

// run runs chromedp actions with browserTimeout, failing the test with what on error.
func (b *browser) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v\n--- page text\n%s", what, err, b.text())
	}
}

// eval evaluates a JS expression and decodes its JSON value into v.
func (b *browser) eval(expr string, v any) error {
	ctx, cancel := context.WithTimeout(b.ctx, browserTimeout)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[json.RawMessage](expr))
	if err != nil {
		return err
	}
	if len(raw) == 0 {
		raw = json.RawMessage("null")
	}
	return json.Unmarshal(raw, v)
}

// text returns the visible text of the page, for failure messages.
func (b *browser) text() string {
	var s string
	if err := b.eval(`location.href + " " + JSON.stringify(document.body ? document.body.dataset : {}) + "\n" + (document.body ? document.body.innerText : "")`, &s); err != nil {
		return fmt.Sprintf("(page text unavailable: %v)", err)
	}
	return s
}

// open navigates to path (relative to the gateway) or to a full URL.
func (b *browser) open(url string) {
	b.t.Helper()
	if strings.HasPrefix(url, "/") {
		url = b.base + url
	}
	b.run("open "+url, chromedp.Navigate(url))
}

// waitJS polls a JS expression until it is truthy, failing after browserTimeout. It returns the
// expression's final value as JSON.
func (b *browser) waitJS(what, expr string) json.RawMessage {
	b.t.Helper()
	deadline := time.Now().Add(browserTimeout)
	var last json.RawMessage
	var lastErr error
	for time.Now().Before(deadline) {
		var v json.RawMessage
		err := b.eval(expr, &v)
		if err == nil && len(v) > 0 && !isFalsy(v) {
			return v
		}
		last, lastErr = v, err
		time.Sleep(100 * time.Millisecond)
	}
	b.t.Fatalf("waiting for %s (%s): last value %s, err %v\n--- page text\n%s", what, expr, last, lastErr, b.text())
	return nil
}

func isFalsy(v json.RawMessage) bool {
	switch strings.TrimSpace(string(v)) {
	case "", "null", "false", "0", `""`:
		return true
	}
	return false
}

// waitVisible waits until the element with id is shown.
func (b *browser) waitVisible(id string) {
	b.t.Helper()
	b.waitJS("#"+id+" to be shown", fmt.Sprintf(`(() => { const e = document.getElementById(%q); return !!e && !e.hidden && e.offsetParent !== null; })()`, id))
}

// textOf returns the textContent of the element with id.
func (b *browser) textOf(id string) string {
	b.t.Helper()
	var s string
	if err := b.eval(fmt.Sprintf(`(document.getElementById(%q) || {}).textContent || ""`, id), &s); err != nil {
		b.t.Fatalf("text of #%s: %v", id, err)
	}
	return s
}

// waitTextContains waits until the element with id contains substr and returns its text.
func (b *browser) waitTextContains(id, substr string) string {
	b.t.Helper()
	b.waitJS(fmt.Sprintf("#%s to contain %q", id, substr),
		fmt.Sprintf(`((document.getElementById(%q) || {}).textContent || "").includes(%q)`, id, substr))
	return b.textOf(id)
}

// fill sets the value of the input or textarea with id.
func (b *browser) fill(id, value string) {
	b.t.Helper()
	v, _ := json.Marshal(value)
	var ok bool
	err := b.eval(fmt.Sprintf(`(() => { const e = document.getElementById(%q); if (!e) return false; e.value = %s; e.dispatchEvent(new Event("input", { bubbles: true })); return true; })()`, id, v), &ok)
	if err != nil || !ok {
		b.t.Fatalf("fill #%s: no such field (%v)\n--- page text\n%s", id, err, b.text())
	}
}

// pickFile chooses path in the file input with id, as a user would in the
// file dialog (the input need not be visible).
func (b *browser) pickFile(id, path string) {
	b.t.Helper()
	b.run("pick "+path+" in #"+id, chromedp.SetUploadFiles(chromedp.ID(id), []string{path}, chromedp.NodeReady))
}

// click clicks the element with id once it is visible.
func (b *browser) click(id string) {
	b.t.Helper()
	b.run("click #"+id, chromedp.Click(chromedp.ID(id), chromedp.NodeVisible))
}

// screen returns the terminal's visible rows, one per line, with no-break spaces as spaces.
func (b *browser) screen() string {
	var s string
	if err := b.eval(`(() => { const r = document.querySelector('#terminal .xterm-rows'); return r ? [...r.children].map((c) => c.textContent.replace(/\u00a0/g, ' ').trimEnd()).join('\n') : ''; })()`, &s); err != nil {
		return fmt.Sprintf("(terminal unavailable: %v)", err)
	}
	return s
}

// waitScreenLine waits until some terminal row, trimmed, equals line.
func (b *browser) waitScreenLine(line string) {
	b.t.Helper()
	deadline := time.Now().Add(browserTimeout)
	for time.Now().Before(deadline) {
		for _, row := range strings.Split(b.screen(), "\n") {
			if strings.TrimSpace(row) == line {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.t.Fatalf("the terminal shows no line %q within %v\n--- terminal\n%s\n--- status: %s", line, browserTimeout, b.screen(), b.textOf("console-status"))
}

// typeTerminal types s into the terminal: text is inserted as a keyboard's input would be and
// each \r is a press of Enter.
func (b *browser) typeTerminal(s string) {
	b.t.Helper()
	steps := []chromedp.Action[chromedp.Void]{chromedp.Focus(chromedp.CSS("#terminal textarea"), chromedp.NodeReady)}
	for i, part := range strings.Split(s, "\r") {
		if i > 0 {
			steps = append(steps, pressEnter())
		}
		if part != "" {
			text := part
			steps = append(steps, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
				_, err := cdp.Call(ctx, t, input.InsertText, input.InsertTextParams{Text: text})
				return err
			}))
		}
	}
	b.run("type into the terminal", steps...)
}

// pressEnter sends a real Enter key press (keydown with text, then keyup).
func pressEnter() chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		down := input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeKeyDown, Key: "Enter", Code: "Enter",
			Text: "\r", UnmodifiedText: "\r", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13}
		if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, down); err != nil {
			return err
		}
		up := input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeKeyUp, Key: "Enter", Code: "Enter",
			WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13}
		_, err := cdp.Call(ctx, t, input.DispatchKeyEvent, up)
		return err
	})
}

// waitPrompt waits until the terminal's last non-empty row ends in a shell prompt ($ or #).
func (b *browser) waitPrompt() {
	b.t.Helper()
	deadline := time.Now().Add(browserTimeout)
	for time.Now().Before(deadline) {
		rows := strings.Split(strings.TrimRight(b.screen(), "\n "), "\n")
		last := strings.TrimSpace(rows[len(rows)-1])
		if strings.HasSuffix(last, "$") || strings.HasSuffix(last, "#") {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.t.Fatalf("no shell prompt in the terminal within %v\n--- terminal\n%s", browserTimeout, b.screen())
}

// chromedpViewport resizes the page's viewport, as a window resize would.
func chromedpViewport(width, height int64) chromedp.Action[chromedp.Void] {
	return chromedp.EmulateViewport(width, height)
}
