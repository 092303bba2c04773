package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// The churn's streams: most small, some large enough to span a few key
// re-exchanges of the tubes they cross.
const (
	smallMax   = 16 << 10
	largeSize  = 128 << 10
	largeEvery = 33 // one stream in largeEvery is large
	idleEvery  = 20 // one stream in idleEvery goes to a random idle tube
	burstSize  = 1 << 20
	burstCount = 100 // streams at once through one Go tube (the re-exchange deadlock needed 64+)
)

// churnTubes are the long-lived clients the churn goes through: Go and
// OpenSSH, over WebSocket and TCP, each with a virtual name and a
// published port, all with small rekey thresholds.
type churnTubes struct {
	gos     []*goClient
	openssh []*opensshClient
	routes  []route
	bursts  []route // published ports of the Go tubes
}

// openChurn starts perKind clients of each kind (Go WS, Go TCP, OpenSSH
// over gateway connect, OpenSSH over TCP).
func (s *soak) openChurn(ctx context.Context, perKind int) (*churnTubes, error) {
	ct := &churnTubes{}
	for i := range perKind {
		for _, tr := range []string{transportWS, transportTCP} {
			name := fmt.Sprintf("churn-go-%s-%d", tr, i)
			gc, _, rts, err := s.startGoForwarder(ctx, name, tr)
			if err != nil {
				ct.close()
				return nil, err
			}
			ct.gos = append(ct.gos, gc)
			ct.routes = append(ct.routes, rts...)
			ct.bursts = append(ct.bursts, rts[0])
		}
		for _, tr := range []string{transportWS, transportTCP} {
			name := fmt.Sprintf("churn-openssh-%s-%d", tr, i)
			oc, err := startOpenSSH(ctx, s.gw, s.id, name, tr, name, s.cfg.OpenSSHRekey, s.tg.next())
			if err != nil {
				ct.close()
				return nil, err
			}
			ct.openssh = append(ct.openssh, oc)
			ct.routes = append(ct.routes, portRoute(oc.addr(), oc.describe()), s.dialers.nameRoute(oc.vname, oc.describe()))
		}
	}
	return ct, nil
}

// startGoForwarder dials a Go tube with the small rekey threshold, serves
// its forwards and publishes a loopback port and a virtual name (its own
// name); the routes are the port's, then the name's.
func (s *soak) startGoForwarder(ctx context.Context, name, tr string) (*goClient, string, []route, error) {
	dctx, cancel := context.WithTimeout(ctx, openTimeout)
	defer cancel()
	gc, err := dialGo(dctx, s.gw, s.id, name, tr, s.cfg.GoRekey)
	if err != nil {
		return nil, "", nil, err
	}
	gc.serveForwards(s.tg)
	port, err := gc.publish("127.0.0.1", 0)
	if err == nil {
		_, err = gc.publish(name, namePort)
	}
	if err != nil {
		gc.close()
		return nil, "", nil, err
	}
	desc := gc.describe()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	return gc, addr, []route{portRoute(addr, desc), s.dialers.nameRoute(name, desc)}, nil
}

func (gc *goClient) describe() string {
	return fmt.Sprintf("%s (Go client -R over %s)", gc.name, gc.transport)
}

func (oc *opensshClient) describe() string {
	how := "OpenSSH ssh -R over TCP"
	if oc.transport == transportWS {
		how = "OpenSSH ssh -R + gateway connect"
	}
	return fmt.Sprintf("%s (%s)", oc.name, how)
}

func (ct *churnTubes) close() {
	for _, gc := range ct.gos {
		gc.close()
	}
	for _, oc := range ct.openssh {
		oc.proc.Stop()
	}
}

// churnJob is one new connection of the churn: a route and a size picked
// from its sequence number.
func (s *soak) churnJob(_ context.Context, seq int64) {
	rng := rand.New(rand.NewPCG(uint64(seq), 0x50a4))
	var rt route
	if seq%idleEvery == idleEvery-1 && len(s.idle.routes) > 0 {
		rt = s.idle.routes[rng.IntN(len(s.idle.routes))]
	} else {
		rt = s.churn.routes[rng.IntN(len(s.churn.routes))]
	}
	size := int64(1 + rng.IntN(smallMax))
	if seq%largeEvery == 0 {
		size = largeSize
	}
	s.runStream(rt, streamSpec{size: size, seed: uint64(seq)}, false)
}

// bursts sends burstCount streams of burstSize at once through one Go
// tube's published port every interval, the tubes in turn, until ctx ends:
// many busy channels on one tube while it rekeys.
func (s *soak) bursts(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rt := s.churn.bursts[i%len(s.churn.bursts)]
		var wg sync.WaitGroup
		for j := range burstCount {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.runStream(rt, streamSpec{size: burstSize, seed: uint64(1e12) + uint64(i*burstCount+j)}, false)
			}()
		}
		wg.Wait()
		s.nBursts.Add(1)
	}
}
