package main

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
)

// targets are the loopback servers every forward leads to: each answers
// the stream protocol (see answer). There are several, so that no single
// address runs out of ports under the churn.
type targets struct {
	lns   []net.Listener
	n     atomic.Uint64
	wd    *watchdog
	stats *stats
	wg    sync.WaitGroup
}

// startTargets listens on count loopback ports.
func startTargets(count int, wd *watchdog, st *stats) (*targets, error) {
	t := &targets{wd: wd, stats: st}
	for range count {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.close()
			return nil, fmt.Errorf("target listener: %w", err)
		}
		t.lns = append(t.lns, ln)
		t.wg.Add(1)
		go t.serve(ln)
	}
	return t, nil
}

// next is a target's address, round robin.
func (t *targets) next() string {
	return t.lns[t.n.Add(1)%uint64(len(t.lns))].Addr().String()
}

func (t *targets) serve(ln net.Listener) {
	defer t.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			r := guard(t.wd.watch(c), answer)
			t.stats.target(r)
		}()
	}
}

// close stops accepting (streams in flight finish on their own).
func (t *targets) close() {
	for _, ln := range t.lns {
		ln.Close()
	}
	t.wg.Wait()
}
