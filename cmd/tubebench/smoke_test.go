package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestBenchSmoke runs the whole harness with tiny counts against a freshly
// built gateway and checks that it produced every figure, the browser's in
// headless Chromium included (a missing chromium fails it). It asserts no
// timing: the figures of a smoke run mean nothing. It builds the gateway
// and needs Chromium, so the fast unit run (make unit) leaves the whole
// package to make test.
func TestBenchSmoke(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "gateway")
	build := exec.Command("go", "build", "-o", bin, "./cmd/gateway")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/gateway: %v\n%s", err, out)
	}
	cfg := defaultConfig()
	cfg.Gateway = bin
	cfg.Duration = 50 * time.Millisecond
	cfg.Streams = 4
	cfg.Workers = 2
	cfg.Tubes = 8
	cfg.ScaleStreams = []int{1, 4}
	cfg.ScaleTubes = []int{4, 8}
	cfg.IdleWindow = 100 * time.Millisecond
	cfg.MaxPings = 200
	cfg.BrowserRuns = 1
	cfg.RecoveryRuns = 2
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var progress io.Writer = io.Discard
	if testing.Verbose() {
		progress = os.Stderr
	}
	rep, err := run(ctx, cfg, progress)
	if err != nil {
		t.Fatal(err)
	}

	if len(rep.Failures) > 0 {
		t.Errorf("failed figures: %v", rep.Failures)
	}
	if sc := rep.Scaling; sc == nil || len(sc.Streams) != 2 || len(sc.Idle) != 2 {
		t.Errorf("scaling figures: %+v, want 2 stream counts and 2 idle steps", sc)
	} else {
		for _, p := range sc.Streams {
			if p.MBs <= 0 {
				t.Errorf("scaling, %d streams: %v MB/s, want a positive figure", p.Streams, p.MBs)
			}
		}
		if p := sc.Idle[1]; p.Tubes != 8 || p.RSSKiB <= 0 {
			t.Errorf("scaling, idle tubes: %+v, want 8 tubes and the gateway's RSS", p)
		}
	}
	figures := map[string]bool{}
	paths := map[string]bool{}
	for _, r := range rep.Rows {
		if r.Value == nil && r.Note == "" {
			t.Errorf("%s / %s: neither a value nor a note", r.Figure, r.Path)
		}
		if r.Value != nil {
			figures[r.Figure] = true
			paths[r.PathID] = true
		}
	}
	for _, f := range []string{figBulk, figBack, figP50, figP99, figConns, figParallel, figIdleRSS, figIdleGo, figRecovery,
		figWasmBytes, figPageLoad, figBrowserMBs} {
		if !figures[f] {
			t.Errorf("no %q figure", f)
		}
	}
	for _, p := range []string{
		"loopback", "ssh-L-aes128-gcm", "ssh-L-chacha20",
		"gw-websocket-go-aes128-gcm", "gw-tcp-go-aes128-gcm", "gw-websocket-openssh-aes128-gcm", "gw-tcp-openssh-aes128-gcm",
		"gw-websocket-tunnel-aes128-gcm",
		"gw-websocket-go-chacha20", "gw-tcp-go-chacha20", "gw-websocket-openssh-chacha20", "gw-tcp-openssh-chacha20",
		"idle-websocket", "idle-tcp",
		"browser-wasm-br", "browser-wasm-gzip", "browser-cold", "browser-warm", "browser-L",
	} {
		if !paths[p] {
			t.Errorf("no figures for path %s", p)
		}
	}
	for _, r := range rep.Rows {
		if r.Figure == figBulk && r.PathID == "gw-websocket-go-aes128-gcm" && (r.VsLoopback == nil || r.VsOpenSSH == nil) {
			t.Errorf("bulk over WebSocket lacks its ratios: %+v", r)
		}
		if r.Value != nil && *r.Value <= 0 && (r.Figure == figWasmBytes || r.Figure == figPageLoad || r.Figure == figBrowserMBs) {
			t.Errorf("%s / %s: %v, want a positive figure", r.Figure, r.Path, *r.Value)
		}
		if r.Figure == figBrowserMBs && (r.VsLoopback == nil || r.VsOpenSSH == nil) {
			t.Errorf("MB/s through the page's -L lacks its ratios: %+v", r)
		}
	}
	roles := map[string]bool{}
	for _, c := range rep.CPU {
		roles[c.PathID+" "+c.Direction+" "+c.Process] = true
	}
	for _, want := range []string{"ssh-L-aes128-gcm " + dirTo + " " + roleSSH, "ssh-L-aes128-gcm " + dirTo + " " + roleSSHD,
		"gw-websocket-openssh-aes128-gcm " + dirTo + " " + roleGateway, "gw-websocket-openssh-aes128-gcm " + dirTo + " " + roleConnect,
		"gw-websocket-tunnel-aes128-gcm " + dirTo + " " + roleTunnel,
		"ssh-L-aes128-gcm " + dirBack + " " + roleSSHD, "gw-websocket-openssh-aes128-gcm " + dirBack + " " + roleGateway,
		"gw-websocket-tunnel-aes128-gcm " + dirBack + " " + roleTunnel} {
		if !roles[want] {
			t.Errorf("no CPU row for %s", want)
		}
	}
	if len(rep.Goals) == 0 {
		t.Error("no goals")
	}
	if md := rep.Markdown(); len(md) == 0 {
		t.Error("empty Markdown")
	}
}
