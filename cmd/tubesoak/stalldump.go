package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sync/atomic"
	"time"
)

// maxStallDumps bounds the dumps one run takes: the first stalls are the
// ones worth reading.
const maxStallDumps = 2

// stallDumps writes goroutine dumps of the gateway (its /debug/pprof) and
// of this process (the clients' side) when the watchdog finds stalled
// streams, into dir, and says where. A stall is a deadlock to be read,
// not guessed at: both ends' stacks show the cycle.
type stallDumps struct {
	s     *soak
	dir   string
	taken atomic.Int32
}

func (d *stallDumps) onStall(n int) {
	i := d.taken.Add(1)
	if i > maxStallDumps {
		return
	}
	stamp := time.Now().Format("150405")
	gwPath := filepath.Join(d.dir, fmt.Sprintf("stall%d-%s-gateway.txt", i, stamp))
	clPath := filepath.Join(d.dir, fmt.Sprintf("stall%d-%s-clients.txt", i, stamp))
	if err := os.MkdirAll(d.dir, 0o755); err != nil {
		fmt.Fprintf(d.s.out, "tubesoak: stall dumps: %v\n", err)
		return
	}
	if f, err := os.Create(clPath); err == nil {
		pprof.Lookup("goroutine").WriteTo(f, 2)
		f.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if f, err := os.Create(gwPath); err == nil {
		if err := d.s.gw.Pprof(ctx, "goroutine?debug=2", f); err != nil {
			fmt.Fprintf(f, "could not read the gateway's goroutines: %v\n", err)
		}
		f.Close()
	}
	fmt.Fprintf(d.s.out, "tubesoak: %d streams stalled; goroutine dumps: %s (gateway), %s (clients)\n", n, gwPath, clPath)
}
