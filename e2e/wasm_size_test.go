package e2e

import (
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"testing"
)

// wasmBound is issue 10's bound on the main Wasm module, brotli'd: every page load fetches it.
const wasmBound = 1.5 * (1 << 20)

// TestWasmSize: the page's main Wasm module is served at or under 1.5 MiB with brotli, and the
// file panel's SFTP client is a second module that the page does not fetch until it is used.
func TestWasmSize(t *testing.T) {
	dir := shortTempDir(t)
	g := startGateway(t, filepath.Join(dir, "data"), gatewayOpts{})
	requirePage(t, g)
	client := g.httpClient(t)
	base := g.scheme() + "://" + g.httpAddr
	get := func(path, accept string) ([]byte, string) {
		req, err := http.NewRequest(http.MethodGet, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept-Encoding", accept)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s, %v", path, resp.Status, err)
		}
		return body, resp.Header.Get("Content-Encoding")
	}
	index, _ := get("/", "identity")
	mainWasm := regexp.MustCompile(`<meta name="tubegate-wasm" content="([^"]+)"`).FindSubmatch(index)
	sftpWasm := regexp.MustCompile(`<meta name="tubegate-sftp-wasm" content="([^"]+)"`).FindSubmatch(index)
	if mainWasm == nil || sftpWasm == nil {
		t.Fatalf("index.html names no main or SFTP module:\n%s", index)
	}
	if regexp.MustCompile(`<(script|link)[^>]+` + regexp.QuoteMeta(string(sftpWasm[1]))).Match(index) {
		t.Fatalf("index.html fetches the SFTP module on load; it is for first use only")
	}
	body, enc := get(string(mainWasm[1]), "br")
	sftp, _ := get(string(sftpWasm[1]), "br")
	t.Logf("main module %s: %d bytes (%s), %.3f MiB; SFTP module on first use: %d bytes, %.3f MiB",
		mainWasm[1], len(body), enc, float64(len(body))/(1<<20), len(sftp), float64(len(sftp))/(1<<20))
	if enc != "br" {
		t.Fatalf("the main module was served with Content-Encoding %q for Accept-Encoding: br", enc)
	}
	if len(body) > wasmBound {
		t.Fatalf("the main Wasm module is %d bytes brotli'd (%.3f MiB), over the bound of 1.5 MiB", len(body), float64(len(body))/(1<<20))
	}
}
