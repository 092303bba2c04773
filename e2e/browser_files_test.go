package e2e

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
)

// TestBrowserFiles drives the console's file panel (SFTP over the console's host connection,
// the throw-away sshd's internal-sftp) in headless Chromium, one step after another: a file of
// several MiB dropped on the terminal (a real drop from DevTools' Input.dispatchDragEvent) is
// uploaded and downloaded back through Chromium's downloads, the sha256 values matching; a file
// picked with Upload… is uploaded; a directory is made, a file renamed and deleted; a refused operation shows "permission denied";
// a download is cancelled mid-way; a download of 96 MiB streams through a save-dialog file
// without growing either Wasm module's memory; and the panel is photographed for the README.
func TestBrowserFiles(t *testing.T) {
	w := newWorld(t, gatewayOpts{})
	b := startBrowser(t, "http://"+w.gw.httpAddr)
	requirePage(t, w.gw)
	b.run("viewport 1280x800", chromedpViewport(1280, 800))
	step := func(name string, fn func(t *testing.T)) {
		if !t.Run(name, fn) {
			t.FailNow()
		}
	}
	w.addUser(t, "alice", "--permit-name", "myhost")
	w.gw.mustCLI(t, browserPassword+"\n", "user", "add", "bob", "--password-stdin", "--permit-open", "myhost@alice:22")
	w.remoteForward(t, fmt.Sprintf("myhost:22:localhost:%d", w.target.port), "alice.ws")
	b.open("/")
	b.waitVisible("login")
	b.fill("login-user", "bob")
	b.fill("login-password", browserPassword)
	b.click("login-submit")
	b.waitJS("the page to log in as bob", `document.body.dataset.user === "bob"`)
	connectConsole(b, w)
	b.waitVisible("hostkey-new-panel")
	b.click("hostkey-accept")
	b.waitJS("the console to open", `document.body.dataset.console === "open"`)
	b.waitPrompt()

	// The host's side: a directory of the test (the sshd runs as this user, on this machine).
	remote := filepath.Join(shortTempDir(t), "files")
	if err := os.Mkdir(remote, 0o755); err != nil {
		t.Fatal(err)
	}
	local := shortTempDir(t)
	payload := filepath.Join(local, "payload.bin")
	data := make([]byte, 6<<20+4321)
	rand.Read(data)
	writeFile(t, payload, string(data), 0o644)
	sum := sha256Hex(data)

	step("the Files button opens the panel at the home directory", func(t *testing.T) {
		b.t = t
		b.click("console-files")
		dir := b.waitJS("the panel to list a directory", `(() => { const p = document.querySelector("#files-box .files-panel"); return p && !p.hidden && p.dataset.dir; })()`)
		t.Logf("the panel opened at %s", dir)
		filesCd(b, remote)
	})

	step("a file dropped on the terminal is uploaded; sha256 matches", func(t *testing.T) {
		b.t = t
		var at struct{ X, Y float64 }
		if err := b.eval(`(() => { const r = document.getElementById("terminal").getBoundingClientRect(); return { X: r.x + r.width / 2, Y: r.y + r.height / 2 }; })()`, &at); err != nil {
			t.Fatal(err)
		}
		drag := &input.DragData{Items: []*input.DragDataItem{}, Files: []string{payload}, DragOperationsMask: 1}
		b.run("drop payload.bin on the terminal", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			for _, typ := range []input.DispatchDragEventType{input.DispatchDragEventTypeDragEnter, input.DispatchDragEventTypeDragOver, input.DispatchDragEventTypeDrop} {
				if _, err := cdp.Call(ctx, tg, input.DispatchDragEvent, input.DispatchDragEventParams{Type: typ, X: at.X, Y: at.Y, Data: drag}); err != nil {
					return fmt.Errorf("%s: %w", typ, err)
				}
			}
			return nil
		}))
		waitTransfer(b, "payload.bin", "done")
		got, err := os.ReadFile(filepath.Join(remote, "payload.bin"))
		if err != nil {
			t.Fatalf("the host has no payload.bin: %v", err)
		}
		if sha256Hex(got) != sum {
			t.Fatalf("uploaded payload.bin: %d bytes, sha256 %s; sent %d bytes, sha256 %s", len(got), sha256Hex(got), len(data), sum)
		}
		b.waitJS("payload.bin listed", `!!document.querySelector('#files-box .files-list tr[data-name="payload.bin"]')`)
		t.Logf("dropped and uploaded %d bytes, sha256 %s on both sides", len(got), sum)
	})

	step("downloaded back through Chromium's downloads; sha256 matches", func(t *testing.T) {
		b.t = t
		downloads := shortTempDir(t)
		b.run("allow downloads", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
				Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads})
			return err
		}))
		filesClickRow(b, "payload.bin", ".files-download")
		waitTransfer(b, "payload.bin", "done")
		path := filepath.Join(downloads, "payload.bin")
		deadline := time.Now().Add(browserTimeout)
		var got []byte
		for time.Now().Before(deadline) {
			if b, err := os.ReadFile(path); err == nil && len(b) == len(data) {
				got = b
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if sha256Hex(got) != sum {
			entries, _ := os.ReadDir(downloads)
			t.Fatalf("downloaded file: %d bytes, sha256 %s, want %d bytes, %s (downloads dir: %v)", len(got), sha256Hex(got), len(data), sum, entries)
		}
		t.Logf("downloaded %d bytes to %s, sha256 %s", len(got), path, sum)
	})

	step("Upload… picks a file to upload", func(t *testing.T) {
		b.t = t
		picked := filepath.Join(local, "picked.txt")
		writeFile(t, picked, "picked with the file dialog\n", 0o644)
		b.run("pick picked.txt in Upload…", chromedp.SetUploadFiles(chromedp.CSS("#files-box .files-upload-input"), []string{picked}, chromedp.NodeReady))
		waitTransfer(b, "picked.txt", "done")
		if got := readFile(t, filepath.Join(remote, "picked.txt")); got != "picked with the file dialog\n" {
			t.Fatalf("picked.txt on the host: %q", got)
		}
		b.waitJS("picked.txt listed", `!!document.querySelector('#files-box .files-list tr[data-name="picked.txt"]')`)
	})

	step("mkdir, rename and delete", func(t *testing.T) {
		b.t = t
		b.run("click New directory", chromedp.Click(chromedp.CSS("#files-box .files-mkdir"), chromedp.NodeVisible))
		filesName(b, "made-here")
		b.waitJS("made-here listed", `!!document.querySelector('#files-box .files-list tr[data-name="made-here"][data-kind="dir"]')`)
		if fi, err := os.Stat(filepath.Join(remote, "made-here")); err != nil || !fi.IsDir() {
			t.Fatalf("no directory made-here on the host: %v", err)
		}
		filesClickRow(b, "payload.bin", ".files-rename")
		filesName(b, "renamed.bin")
		b.waitJS("renamed.bin listed", `!!document.querySelector('#files-box .files-list tr[data-name="renamed.bin"]')`)
		if _, err := os.Stat(filepath.Join(remote, "renamed.bin")); err != nil {
			t.Fatalf("renamed.bin on the host: %v", err)
		}
		filesClickRow(b, "renamed.bin", ".files-delete")
		filesClickRow(b, "renamed.bin", ".files-delete") // the second click confirms
		b.waitJS("renamed.bin gone from the list", `!document.querySelector('#files-box .files-list tr[data-name="renamed.bin"]')`)
		if _, err := os.Stat(filepath.Join(remote, "renamed.bin")); !os.IsNotExist(err) {
			t.Fatalf("renamed.bin still on the host after Delete: %v", err)
		}
		filesClickRow(b, "made-here", ".files-delete")
		filesClickRow(b, "made-here", ".files-delete")
		b.waitJS("made-here gone", `!document.querySelector('#files-box .files-list tr[data-name="made-here"]')`)
	})

	step("a refused delete says permission denied", func(t *testing.T) {
		b.t = t
		dir, name := refusingDir(t, remote)
		filesCd(b, dir)
		filesClickRow(b, name, ".files-delete")
		filesClickRow(b, name, ".files-delete")
		msg := b.waitJS("the panel's error", `(() => { const e = document.querySelector("#files-box .files-error"); return e && !e.hidden && e.textContent; })()`)
		if !strings.Contains(string(msg), "permission denied") {
			t.Fatalf("refused delete shows %s, want permission denied", msg)
		}
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Logf("refused delete: %s", msg)
		filesCd(b, remote)
	})

	// A save dialog's file (File System Access API), stood in for by a sink in the page: a
	// headless browser cannot answer the dialog. It checksums what it is given (FNV-1a) and,
	// when window.holdSink is set, holds each write until window.releaseSink().
	fake := `window.sink = { bytes: 0, fnv: 0x811c9dc5, closed: false, aborted: false };
		window.showSaveFilePicker = async () => ({ createWritable: async () => ({
			write: async (c) => {
				let h = window.sink.fnv;
				for (let i = 0; i < c.length; i++) { h ^= c[i]; h = Math.imul(h, 0x01000193) >>> 0; }
				window.sink.fnv = h; window.sink.bytes += c.length;
				if (window.holdSink && window.sink.bytes >= (1 << 20)) await new Promise((r) => { window.releaseSink = r; });
			},
			close: async () => { window.sink.closed = true; },
			abort: async () => { window.sink.aborted = true; },
		}) });
		true`

	big := filepath.Join(remote, "big.bin")
	bigData := make([]byte, 96<<20)
	rand.Read(bigData)
	writeFile(t, big, string(bigData), 0o644)

	step("cancel a download mid-way", func(t *testing.T) {
		b.t = t
		var ok bool
		if err := b.eval(fake+`; window.holdSink = true; true`, &ok); err != nil {
			t.Fatal(err)
		}
		filesCd(b, remote)
		filesClickRow(b, "big.bin", ".files-download")
		b.waitJS("the sink to hold the download", `typeof window.releaseSink === "function"`)
		b.run("click Cancel", chromedp.Click(chromedp.CSS(`#files-box .files-transfer[data-name="big.bin"][data-state="running"] .files-cancel`), chromedp.NodeVisible))
		if err := b.eval(`window.holdSink = false; window.releaseSink(); true`, &ok); err != nil {
			t.Fatal(err)
		}
		waitTransfer(b, "big.bin", "cancelled")
		var sink struct {
			Bytes   int64 `json:"bytes"`
			Aborted bool  `json:"aborted"`
			Closed  bool  `json:"closed"`
		}
		if err := b.eval(`window.sink`, &sink); err != nil {
			t.Fatal(err)
		}
		if !sink.Aborted || sink.Closed || sink.Bytes >= int64(len(bigData)) {
			t.Fatalf("after Cancel the save file got %d of %d bytes, aborted %v, closed %v; want it aborted early", sink.Bytes, len(bigData), sink.Aborted, sink.Closed)
		}
		t.Logf("cancelled after %d of %d bytes; the save file was aborted", sink.Bytes, len(bigData))
	})

	step("a 96 MiB download streams: neither Wasm heap grows with it", func(t *testing.T) {
		b.t = t
		before := wasmMemory(b)
		var ok bool
		if err := b.eval(fake, &ok); err != nil {
			t.Fatal(err)
		}
		b.run("remove the finished transfer rows", chromedp.Evaluate[chromedp.Void](`document.querySelector("#files-box .files-transfers").replaceChildren()`))
		filesClickRow(b, "big.bin", ".files-download")
		waitTransfer(b, "big.bin", "done")
		var sink struct {
			Bytes  int64  `json:"bytes"`
			FNV    uint32 `json:"fnv"`
			Closed bool   `json:"closed"`
		}
		if err := b.eval(`window.sink`, &sink); err != nil {
			t.Fatal(err)
		}
		if sink.Bytes != int64(len(bigData)) || sink.FNV != fnv1a(bigData) || !sink.Closed {
			t.Fatalf("save file: %d bytes, fnv %08x, closed %v; want %d bytes, fnv %08x, closed", sink.Bytes, sink.FNV, sink.Closed, len(bigData), fnv1a(bigData))
		}
		after := wasmMemory(b)
		t.Logf("Wasm memory (Go runtime's Sys) before/after a %d MiB download: main %.1f/%.1f MiB, sftp %.1f/%.1f MiB",
			len(bigData)>>20, mibf(before.Main), mibf(after.Main), mibf(before.SFTP), mibf(after.SFTP))
		const slack = 16 << 20 // a fraction of the file: the transfer holds ~2 MiB in flight
		if after.Main-before.Main > slack || after.SFTP-before.SFTP > slack {
			t.Fatalf("a %d MiB download grew the Wasm memory by %.1f MiB (main) and %.1f MiB (sftp); want under %d MiB each",
				len(bigData)>>20, mibf(after.Main-before.Main), mibf(after.SFTP-before.SFTP), slack>>20)
		}
	})

	step("screenshot of the panel for the README", func(t *testing.T) {
		b.t = t
		for _, d := range []string{"photos", "projects"} {
			if err := os.Mkdir(filepath.Join(remote, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		writeFile(t, filepath.Join(remote, "notes.txt"), "remember the milk\n", 0o644)
		writeFile(t, filepath.Join(remote, "report.pdf"), strings.Repeat("%PDF", 300000), 0o644)
		filesCd(b, remote)
		b.run("show the panel", chromedp.Evaluate[chromedp.Void](`document.querySelector("#files-box .files-panel").scrollIntoView({ block: "start" }); window.scrollBy(0, -200)`))
		filesScreenshot(b, "files")
	})
}

// filesCd types dir into the panel's directory field and waits for its listing.
func filesCd(b *browser, dir string) {
	b.t.Helper()
	v, _ := json.Marshal(dir)
	b.run("cd "+dir, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const p = document.querySelector("#files-box .files-panel");
		p.querySelector(".files-path").value = %s; p.querySelector(".files-path-form").requestSubmit(); })()`, v)))
	b.waitJS("the panel to list "+dir, fmt.Sprintf(`document.querySelector("#files-box .files-panel").dataset.dir === %s`, v))
}

// filesClickRow clicks the button sel in the listing's row for name.
func filesClickRow(b *browser, name, sel string) {
	b.t.Helper()
	b.run("click "+sel+" of "+name, chromedp.Click(chromedp.CSS(fmt.Sprintf(`#files-box .files-list tr[data-name=%q] %s`, name, sel)), chromedp.NodeVisible))
}

// filesName answers the panel's name form (new directory, rename).
func filesName(b *browser, name string) {
	b.t.Helper()
	v, _ := json.Marshal(name)
	b.waitJS("the name form", `!document.querySelector("#files-box .files-name-form").hidden`)
	b.run("name "+name, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const f = document.querySelector("#files-box .files-name-form");
		f.querySelector(".files-name").value = %s; f.requestSubmit(); })()`, v)))
}

// waitTransfer waits until the newest transfer row of name has state (done, cancelled, failed).
func waitTransfer(b *browser, name, state string) {
	b.t.Helper()
	got := b.waitJS(fmt.Sprintf("the transfer of %s to end", name), fmt.Sprintf(`(() => { const r = document.querySelector('#files-box .files-transfer[data-name=%q]');
		return r && r.dataset.state !== "running" && r.dataset.state; })()`, name))
	if string(got) != `"`+state+`"` {
		var info string
		b.eval(fmt.Sprintf(`document.querySelector('#files-box .files-transfer[data-name=%q]').textContent + " / " + document.querySelector("#files-box .files-error").textContent`, name), &info)
		b.t.Fatalf("transfer of %s ended %s, want %s: %s", name, got, state, info)
	}
}

type wasmMem struct {
	Main float64 `json:"main"`
	SFTP float64 `json:"sftp"`
}

// wasmMemory reads the Go runtime's memory (Sys) in both Wasm modules.
func wasmMemory(b *browser) wasmMem {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserTimeout)
	defer cancel()
	m, err := chromedp.Run(ctx, chromedp.Evaluate[wasmMem](`(async () => ({ main: tubegate.memStats().sys, sftp: (await tubegateFiles.memStats()).sftp.sys }))()`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("Wasm memory: %v", err)
	}
	return m
}

// refusingDir returns a directory and a file in it that the sshd's user may not delete. As
// root no file mode binds, so it is /proc/sys/kernel's hostname (procfs refuses every unlink,
// with EACCES, which sftp reports as permission denied: no capability or file system feature
// needed, unlike chattr +i); otherwise a directory made read-only under remote.
func refusingDir(t *testing.T, remote string) (dir, name string) {
	t.Helper()
	if os.Geteuid() == 0 {
		return "/proc/sys/kernel", "hostname"
	}
	dir = filepath.Join(remote, "locked")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "keep.txt"), "kept\n", 0o644)
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	return dir, "keep.txt"
}

// filesScreenshot saves the viewport as docs/screenshots/NAME.png for the README; the test
// keeps it current.
func filesScreenshot(b *browser, name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := filepath.Join("..", "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func fnv1a(b []byte) uint32 {
	h := uint32(0x811c9dc5)
	for _, c := range b {
		h ^= uint32(c)
		h *= 0x01000193
	}
	return h
}

func mibf(n float64) float64 { return n / (1 << 20) }
