package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"time"
)

// wasmMeta is how the page finds its wasm: index.html names the hashed
// asset in <meta name="tubegate-wasm" content="...">.
var wasmMeta = regexp.MustCompile(`<meta name="tubegate-wasm" content="([^"]+)"`)

// sftpWasmMeta names the file panel's SFTP module, loaded on first use.
var sftpWasmMeta = regexp.MustCompile(`<meta name="tubegate-sftp-wasm" content="([^"]+)"`)

// wasmSize is the page's wasm as the gateway serves it: its path, and the
// bytes on the wire for each Accept-Encoding asked for.
type wasmSize struct {
	path string
	// wire maps the encoding asked for (br, gzip, identity) to the encoding
	// served and the body's bytes on the wire.
	wire map[string]servedBody
	// sftpBrotli is the brotli'd size of the SFTP module (0 if the page has none).
	sftpBrotli int64
}

type servedBody struct {
	encoding string // Content-Encoding, "identity" when none
	bytes    int64
}

// wasmEncodings are the Accept-Encodings the wasm is fetched with.
var wasmEncodings = []string{"br", "gzip", "identity"}

// measureWasm finds the wasm's hashed name in the gateway's index.html, as
// the page does, and fetches it once per encoding, counting the body's
// bytes as sent (Go's transparent gunzip is off when Accept-Encoding is set).
func measureWasm(ctx context.Context, base string) (wasmSize, error) {
	client := &http.Client{Timeout: 30 * time.Second}
	index, _, err := fetch(ctx, client, base+"/", "identity")
	if err != nil {
		return wasmSize{}, err
	}
	m := wasmMeta.FindSubmatch(index)
	if m == nil {
		return wasmSize{}, fmt.Errorf("%s/ names no wasm (<meta name=\"tubegate-wasm\">): is the page built (make web)?", base)
	}
	ws := wasmSize{path: string(m[1]), wire: map[string]servedBody{}}
	for _, enc := range wasmEncodings {
		body, served, err := fetch(ctx, client, base+ws.path, enc)
		if err != nil {
			return wasmSize{}, err
		}
		ws.wire[enc] = servedBody{encoding: served, bytes: int64(len(body))}
	}
	if m := sftpWasmMeta.FindSubmatch(index); m != nil {
		body, _, err := fetch(ctx, client, base+string(m[1]), "br")
		if err != nil {
			return wasmSize{}, err
		}
		ws.sftpBrotli = int64(len(body))
	}
	return ws, nil
}

// fetch GETs url with Accept-Encoding enc and returns the body as sent and
// its Content-Encoding.
func fetch(ctx context.Context, client *http.Client, url, enc string) ([]byte, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, "", fmt.Errorf("GET %s: %w", url, err)
	}
	req.Header.Set("Accept-Encoding", enc)
	resp, err := client.Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, "", fmt.Errorf("GET %s (Accept-Encoding: %s): %w", url, enc, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("GET %s (Accept-Encoding: %s): %s", url, enc, resp.Status)
	}
	served := resp.Header.Get("Content-Encoding")
	if served == "" {
		served = "identity"
	}
	return body, served, nil
}
