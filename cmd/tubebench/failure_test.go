package main

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// blackHole accepts connections and reads them, but never answers: a path
// that stalls, as a tube frozen in a key re-exchange did.
func blackHole(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				io.Copy(io.Discard, c)
				c.Close()
			}()
		}
	}()
	return ln.Addr().String()
}

// TestAStalledFigureFailsNamedAndTheOthersGoOn measures a path that
// answers, one that stalls and one whose setup fails, with a short
// IOGrace: each figure of the stalled path fails within its bound with a
// message naming the figure and the path, the good path keeps its
// figures, and the report shows the failures instead of values.
func TestAStalledFigureFailsNamedAndTheOthersGoOn(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // liveness bound only
	defer cancel()
	tg, err := startTargets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.close()
	hole := blackHole(t)

	cfg := defaultConfig()
	cfg.Duration = 50 * time.Millisecond
	cfg.IOGrace = 300 * time.Millisecond
	cfg.Streams = 4
	cfg.Workers = 2
	cfg.MaxPings = 100
	paths := []path{
		{ID: "loopback", Name: "loopback TCP", Kind: "loopback",
			setup: func(context.Context) (endpoints, error) {
				return endpoints{echo: tg.EchoAddr(), sink: tg.SinkAddr(), close: func() {}}, nil
			}},
		{ID: "gw-websocket-go-chacha20", Name: "gateway WS, Go client -R", Kind: "gateway", Cipher: "chacha20-poly1305@openssh.com",
			setup: func(context.Context) (endpoints, error) {
				return endpoints{echo: hole, sink: hole, close: func() {}}, nil
			}},
		{ID: "gw-tcp-go-chacha20", Name: "gateway TCP, Go client -R", Kind: "gateway", Cipher: "chacha20-poly1305@openssh.com",
			setup: func(context.Context) (endpoints, error) { return endpoints{}, errors.New("ssh to gateway: refused") }},
	}
	results := map[string]measures{}
	for _, p := range paths {
		results[p.ID] = measurePath(ctx, cfg, p, "")
	}

	if f := results["loopback"].failed; len(f) != 0 {
		t.Errorf("loopback failed: %v", f)
	}
	stalled := results["gw-websocket-go-chacha20"].failed
	for key, want := range map[string]string{
		"bulk":     "bulk MB/s, 1 stream via gateway WS, Go client -R, chacha20: bulk ack from " + hole + ": ",
		"rtt":      "RTT µs, 1-byte ping-pong via gateway WS, Go client -R, chacha20: pong " + hole + ": ",
		"conns":    "new conns/s (1 KiB echo, 8 at a time) via gateway WS, Go client -R, chacha20: echo read " + hole + ": ",
		"parallel": "aggregate MB/s, 100 streams via gateway WS, Go client -R, chacha20: bulk ack from " + hole + ": ",
	} {
		err := stalled[key]
		if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.HasSuffix(err.Error(), "i/o timeout") {
			t.Errorf("%s: %v, want %q...i/o timeout", key, err, want)
		}
	}
	for _, key := range cfg.Figures {
		if err := results["gw-tcp-go-chacha20"].failed[key]; err == nil || !strings.Contains(err.Error(), "via gateway TCP, Go client -R, chacha20: setup: ssh to gateway: refused") {
			t.Errorf("%s of the path that could not be set up: %v", key, err)
		}
	}

	rep := &Report{}
	rep.addPaths(cfg, paths, results)
	for _, r := range rep.Rows {
		failedPath := r.PathID != "loopback"
		if failedPath != (r.Value == nil) || failedPath != strings.HasPrefix(r.Note, "failed: ") {
			t.Errorf("%s / %s: value %v, note %q", r.Figure, r.Path, r.Value, r.Note)
		}
	}
	rep.Failures = append(rep.Failures, stalled["bulk"].Error())
	if md := rep.Markdown(); !strings.Contains(md, "1 figures failed:\n- bulk MB/s, 1 stream via gateway WS") {
		t.Errorf("the table does not list the failure:\n%s", md)
	}
}
