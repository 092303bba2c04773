package main

import (
	"fmt"
	"slices"
)

// addBrowser adds the browser figures: the wasm's bytes on the wire per
// encoding, page load to a shell prompt with the HTTP cache off and on, and
// MB/s through the page's -L beside loopback's and ssh -L's (same cipher
// as the page's connection to sshd) one-stream bulk MB/s.
func (r *Report) addBrowser(br browserResult, res map[string]measures) {
	ws := br.wasm
	raw := ws.wire["identity"].bytes
	for _, enc := range []string{"br", "gzip"} {
		got := ws.wire[enc]
		path := "gateway HTTP, Accept-Encoding: " + enc
		if got.encoding != enc {
			path += " (served " + got.encoding + ")"
		}
		row := Row{Figure: figWasmBytes, Path: path, PathID: "browser-wasm-" + enc, Value: ptr(float64(got.bytes)),
			Note: fmt.Sprintf("%s body bytes of %s, %.1f MiB; uncompressed %d bytes, %.1f MiB", got.encoding, ws.path,
				mib(got.bytes), raw, mib(raw))}
		if enc == "br" && got.encoding == "br" {
			row.Target = fmt.Sprintf("≤%.1f MiB (was %.2f MiB): %.3f MiB, %s", targetWasmMiB, baselineWasmMiB,
				mib(got.bytes), mark(mib(got.bytes) <= targetWasmMiB))
			if ws.sftpBrotli > 0 {
				row.Note += fmt.Sprintf("; the file panel's SFTP module, fetched on first use only: %d bytes brotli, %.2f MiB",
					ws.sftpBrotli, mib(ws.sftpBrotli))
			}
		}
		r.Rows = append(r.Rows, row)
	}

	runs := []struct {
		id, path, what string
		runs           []pageRun
	}{
		{"browser-cold", "headless Chromium, HTTP cache off", "the HTTP cache off", br.cold},
		{"browser-warm", "headless Chromium, HTTP cache on", "the HTTP cache on, after a load to fill it", br.warm},
	}
	for _, k := range runs {
		prompts := field(k.runs, func(p pageRun) float64 { return p.Prompt })
		r.Rows = append(r.Rows, Row{Figure: figPageLoad, Path: k.path, PathID: k.id, Value: ptr(median(prompts)),
			Note: fmt.Sprintf("median of %d runs (%.0f–%.0f ms) with %s; medians from navigation start: "+
				"logged-in page shown %.0f ms, wasm response ended %.0f ms (%s), host key asked %.0f ms, console open %.0f ms. "+
				"Includes the page and its session check, fetching and compiling the wasm, the tube over WebSocket, "+
				"direct-tcpip to the virtual name %s:22 (OpenSSH ssh -R over TCP), SSH end to end with sshd "+
				"(host key trusted on first use, clicked at once; ed25519 key), a pty, and the login shell's prompt in #terminal",
				len(prompts), slices.Min(prompts), slices.Max(prompts), k.what,
				median(field(k.runs, func(p pageRun) float64 { return p.App })),
				median(field(k.runs, func(p pageRun) float64 { return p.WasmEnd })),
				wasmFetched(k.runs, ws),
				median(field(k.runs, func(p pageRun) float64 { return p.HostKey })),
				median(field(k.runs, func(p pageRun) float64 { return p.Open })),
				browserHost)})
	}

	row := Row{Figure: figBrowserMBs, Path: "gateway listener → page -L (Wasm client) → sshd", PathID: "browser-L",
		Cipher: br.hostCipher, Value: ptr(br.forwardMBs),
		Note: fmt.Sprintf("one stream for %v to the sink through %s, a -L 0:SINK added with #forward-spec in the page with the console open: "+
			"gateway listener → WebSocket tube → Wasm client → SSH (%s) to sshd in a direct-tcpip channel of that tube → "+
			"the virtual name's ssh -R tube (%s) → sshd → sink. × ssh -L is against ssh -L with the page's cipher to sshd",
			br.bulkTime, br.listen, br.hostCipher, br.publishCipher)}
	if l := res["loopback"].bulk; l > 0 {
		row.VsLoopback = ptr(br.forwardMBs / l)
	}
	if o := res["ssh-L-"+shortCipher(br.hostCipher)].bulk; o > 0 {
		row.VsOpenSSH = ptr(br.forwardMBs / o)
	}
	r.Rows = append(r.Rows, row)
	r.addBrowserCPU(br)
}

// addBrowserCPU adds the CPU rows of the page's -L stream, beside
// OpenSSH's encrypting end with the page's cipher to sshd if it ran.
func (r *Report) addBrowserCPU(br browserResult) {
	var enc float64
	for _, c := range r.CPU {
		if c.PathID == "ssh-L-"+shortCipher(br.hostCipher) && c.Process == roleSSH && c.Direction == dirTo {
			enc = c.MsPerMB
		}
	}
	for _, c := range br.cpu {
		row := CPURow{Path: "page -L (Wasm client in Chromium)", PathID: "browser-L", Cipher: br.hostCipher,
			Direction: dirTo, Process: c.Role, CoresBusy: c.CoresBusy, MsPerMB: c.MsPerMB}
		if enc > 0 {
			row.VsEncrypting = ptr(c.MsPerMB / enc)
		}
		r.CPU = append(r.CPU, row)
	}
}

// addBrowserSkipped adds the browser figures' rows without values.
func (r *Report) addBrowserSkipped(why string) {
	for _, f := range []string{figWasmBytes, figPageLoad, figBrowserMBs} {
		r.Rows = append(r.Rows, Row{Figure: f, Path: "headless Chromium", PathID: "browser", Note: why})
	}
}

// wasmFetched says how the wasm came in the last of runs, from its
// resource timing: its body's bytes and, found by size, the encoding; or
// from the HTTP cache.
func wasmFetched(runs []pageRun, ws wasmSize) string {
	if len(runs) == 0 {
		return "no runs"
	}
	p := runs[len(runs)-1]
	if p.WasmTransfer == 0 && p.WasmDecoded > 0 {
		return "from the HTTP cache"
	}
	enc := "?"
	for _, e := range wasmEncodings {
		if float64(ws.wire[e].bytes) == p.WasmEncoded {
			enc = ws.wire[e].encoding
		}
	}
	return fmt.Sprintf("%.0f bytes, %s", p.WasmEncoded, enc)
}

func field(runs []pageRun, f func(pageRun) float64) []float64 {
	out := make([]float64, len(runs))
	for i, p := range runs {
		out[i] = f(p)
	}
	return out
}

// median of vs (the mean of the middle two for an even count); 0 if empty.
func median(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(vs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }
