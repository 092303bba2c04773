package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/tubegate/tubegate/internal/forward"
	"github.com/tubegate/tubegate/internal/gwproc"
)

// idleConcurrency bounds the handshakes in flight while tubes are opened,
// below the gateway's --max-handshakes-per-source.
const idleConcurrency = 16

// idleSettle is how long the gateway is left alone before its RSS is read.
const idleSettle = 2 * time.Second

// The gateway's runtime gauges read around the idle tubes.
const (
	mGoroutines = "go_goroutines"
	mHeap       = "go_memstats_heap_inuse_bytes"
	mStack      = "go_memstats_stack_inuse_bytes"
)

var idleMetrics = []string{mGoroutines, mHeap, mStack}

// listenersPerPort is what a published loopback port holds open in the
// gateway besides its tube's carrier: listeners on 127.0.0.1 and [::1].
const listenersPerPort = 2

// fdReserve is what the gateway keeps open besides tubes (its own
// listeners, the log, the data dir) with a margin.
const fdReserve = 256

// idleResult is what n idle tubes cost the gateway.
type idleResult struct {
	n                  int
	ports              int // tubes that publish a port; the others a virtual name
	rssPerTubeKiB      float64
	goroutinesPerTube  float64
	heapPerTubeKiB     float64 // Go heap in use
	stackPerTubeKiB    float64 // goroutine stacks
	baseRSSKiB, rssKiB int64
	openTime           time.Duration
}

// idlePorts is how many of n idle tubes publish a port (the rest publish a
// virtual name, which holds no file descriptor): all of them while the
// gateway's open files limit (inherited from this process) allows one
// descriptor a tube and two more a port.
func idlePorts(n int) int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return n
	}
	return max(0, min(n, (int(lim.Cur)-fdReserve-n)/listenersPerPort))
}

// idleTubes opens n tubes to a fresh gateway over transport, each holding
// one -R forward (a port, or a virtual name past idlePorts), and reads the
// gateway's RSS before and after.
func idleTubes(ctx context.Context, g *gateway, transport string, n int, id *identity, prof profiler) (idleResult, error) {
	ports := idlePorts(n)
	time.Sleep(idleSettle / 4)
	base, err := gwproc.RSSKiB(g.Proc.PID())
	if err != nil {
		return idleResult{}, err
	}
	baseM, err := g.Metrics(ctx, idleMetrics...)
	if err != nil {
		return idleResult{}, err
	}
	clients := make([]*ssh.Client, n)
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.Close()
			}
		}
	}()
	start := time.Now()
	if err := openIdleTubes(ctx, g, transport, id, clients, 0, ports); err != nil {
		return idleResult{}, err
	}
	opened := time.Since(start)
	time.Sleep(idleSettle)
	rss, err := gwproc.RSSKiB(g.Proc.PID())
	if err != nil {
		return idleResult{}, err
	}
	m, err := g.Metrics(ctx, idleMetrics...)
	if err != nil {
		return idleResult{}, err
	}
	if err := errors.Join(
		prof.fetch(ctx, g.PprofAddr, "heap?gc=1", "idle-"+transport+".heap.pprof"),
		prof.fetch(ctx, g.PprofAddr, "goroutine?debug=1", "idle-"+transport+".goroutines.txt"),
	); err != nil {
		return idleResult{}, err
	}
	return idleResult{
		n:                 n,
		ports:             ports,
		rssPerTubeKiB:     float64(rss-base) / float64(n),
		goroutinesPerTube: (m[mGoroutines] - baseM[mGoroutines]) / float64(n),
		heapPerTubeKiB:    (m[mHeap] - baseM[mHeap]) / 1024 / float64(n),
		stackPerTubeKiB:   (m[mStack] - baseM[mStack]) / 1024 / float64(n),
		baseRSSKiB:        base,
		rssKiB:            rss,
		openTime:          opened,
	}, nil
}

// openIdleTubes opens len(clients) tubes over transport, numbered from
// first, each holding one -R forward: a port if its number is below
// ports, else a virtual name.
func openIdleTubes(ctx context.Context, g *gateway, transport string, id *identity, clients []*ssh.Client, first, ports int) error {
	sem := make(chan struct{}, idleConcurrency)
	errs := make(chan error, len(clients))
	var wg sync.WaitGroup
	for j := range clients {
		i := first + j
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			dctx, cancel := context.WithTimeout(ctx, gwproc.StartTimeout)
			defer cancel()
			c, err := dialTube(dctx, g, transport, "", id)
			if err != nil {
				errs <- fmt.Errorf("tube %d: %w", i, err)
				return
			}
			clients[j] = c
			if i < ports {
				_, err = listen(c, "127.0.0.1:0")
			} else {
				err = listenName(c, fmt.Sprintf("idle%d.%s", i, benchUser))
			}
			if err != nil {
				errs <- fmt.Errorf("tube %d: tcpip-forward: %w", i, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// listenName publishes a virtual name from c, bounded like listen. Nothing
// connects to it: the tube only holds it.
func listenName(c *ssh.Client, name string) error {
	payload := ssh.Marshal(forward.ForwardRequest{BindAddr: name, BindPort: 1})
	ch := make(chan error, 1)
	go func() {
		ok, _, err := c.SendRequest(forward.ReqTCPIPForward, true, payload)
		if err == nil && !ok {
			err = fmt.Errorf("refused")
		}
		ch <- err
	}()
	select {
	case err := <-ch:
		if err != nil {
			return fmt.Errorf("-R %s:1: %w", name, err)
		}
		return nil
	case <-time.After(gwproc.StartTimeout):
		return fmt.Errorf("-R %s:1: no answer in %v", name, gwproc.StartTimeout)
	}
}
