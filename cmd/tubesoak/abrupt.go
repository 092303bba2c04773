package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"syscall"
	"time"
)

// Victims: clients killed while their channels are busy.
const (
	victimStreams = 8
	victimSize    = 4 << 20
	victimPace    = 2 * time.Millisecond // per 16 KiB chunk: each stream stays busy for a second or so
	goneTimeout   = 15 * time.Second     // a killed client's port must be closed by then
)

var victimKinds = []string{"openssh-ws", "openssh-tcp", "go-ws", "go-tcp"}

// victims starts a client every interval, the kinds in turn, sends
// victimStreams paced streams through it (half through its published
// port, half through its virtual name), kills it mid-stream (SIGKILL for
// ssh; for a Go client, its TCP connection closed without an SSH goodbye),
// and checks that every stream ended (an error is expected, a stall is a
// failure) and that the gateway closed the client's port.
func (s *soak) victims(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.victim(ctx, i); err != nil {
			if ctx.Err() != nil {
				return
			}
			s.stats.problem("a killed client", "client %d: %v", i, err)
		}
	}
}

func (s *soak) victim(ctx context.Context, i int) error {
	kind := victimKinds[i%len(victimKinds)]
	name := fmt.Sprintf("victim-%s-%d", kind, i)
	var (
		portAddr, desc string
		kill           func()
		cleanup        func()
	)
	switch kind {
	case "openssh-ws", "openssh-tcp":
		tr := transportTCP
		if kind == "openssh-ws" {
			tr = transportWS
		}
		oc, err := startOpenSSH(ctx, s.gw, s.id, name, tr, name, s.cfg.OpenSSHRekey, s.tg.next())
		if err != nil {
			return err
		}
		portAddr, desc = oc.addr(), oc.describe()
		kill = func() { syscall.Kill(oc.proc.PID(), syscall.SIGKILL) } // ssh alone: gateway connect must notice
		cleanup = oc.proc.Stop
	default:
		tr := transportTCP
		if kind == "go-ws" {
			tr = transportWS
		}
		gc, addr, _, err := s.startGoForwarder(ctx, name, tr)
		if err != nil {
			return err
		}
		portAddr, desc = addr, gc.describe()
		kill = gc.drop
		cleanup = func() {}
	}
	defer cleanup()
	routes := []route{portRoute(portAddr, desc), s.dialers.nameRoute(name, desc)}
	if err := waitStream(ctx, nil, routes[1].dial); err != nil {
		return fmt.Errorf("%s not reachable by its name: %w", desc, err)
	}

	var wg sync.WaitGroup
	for j := range victimStreams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.runStream(routes[j%2], streamSpec{size: victimSize, seed: uint64(1e15) + uint64(i*victimStreams+j), pace: victimPace}, true)
		}()
	}
	time.Sleep(time.Duration(100+rand.IntN(300)) * time.Millisecond)
	kill()
	s.nKilled.Add(1)
	wg.Wait() // every stream is bounded by the watchdog

	// The gateway must close the dead client's listener.
	deadline := time.Now().Add(goneTimeout)
	for {
		c, err := net.DialTimeout("tcp", portAddr, time.Second)
		if err != nil {
			if errors.Is(err, syscall.ECONNREFUSED) {
				return nil
			}
		} else {
			c.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: its published port %s still open %v after the kill", desc, portAddr, goneTimeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
