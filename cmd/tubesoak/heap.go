package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// heapProfiles reads the gateway's heap after a forced garbage
// collection (/debug/pprof/heap?gc=1, then the heap in use from /metrics)
// and, when dir is set, saves each profile there as NN-NAME.pb.gz, to be
// compared with `go tool pprof -base`.
type heapProfiles struct {
	s   *soak
	dir string // "" to read the heap without saving profiles

	mu sync.Mutex
	n  int
}

// take forces a collection in the gateway, saves its heap profile as
// name, and returns the heap in use just after.
func (h *heapProfiles) take(ctx context.Context, name string) (float64, error) {
	var buf bytes.Buffer
	var w io.Writer = io.Discard
	if h.dir != "" {
		w = &buf
	}
	if err := h.s.gw.Pprof(ctx, "heap?gc=1", w); err != nil {
		return 0, err
	}
	m, err := h.s.gw.Metrics(ctx, mHeap)
	if err != nil {
		return 0, err
	}
	if h.dir != "" {
		h.mu.Lock()
		h.n++
		file := filepath.Join(h.dir, fmt.Sprintf("%02d-%s.pb.gz", h.n, name))
		h.mu.Unlock()
		if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
			return 0, fmt.Errorf("heap profile: %w", err)
		}
		fmt.Fprintf(h.s.out, "tubesoak: heap profile %s: heap in use after a forced GC %s\n", file, mib(m[mHeap]))
	}
	return m[mHeap], nil
}

// every saves a profile each interval until ctx ends (only with a dir).
func (h *heapProfiles) every(ctx context.Context, interval time.Duration, start time.Time) {
	if h.dir == "" || interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			name := fmt.Sprintf("load-%v", time.Since(start).Round(time.Second))
			if _, err := h.take(ctx, name); err != nil && ctx.Err() == nil {
				s := h.s
				s.stats.problem("heap profile unreadable", "%v", err)
			}
		}
	}
}
