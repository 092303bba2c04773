package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"time"

	"github.com/tubegate/tubegate/internal/gwproc"
)

// namePort is the port every virtual name is published with.
const namePort = 7000

// openTimeout bounds a dial or a channel open; one that takes longer is
// a stall (a tube whose channel opens go unanswered is stuck).
const openTimeout = 30 * time.Second

// route is one way to a forward: a published port, dialed over loopback,
// or a virtual name, reached by a direct-tcpip channel of a dialer tube.
type route struct {
	name string // for messages: which forward, of which client, how
	dial func() (net.Conn, error)
}

func dialTCP(addr string) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	return c, nil
}

// portRoute reaches a published port.
func portRoute(addr, owner string) route {
	return route{name: "port " + addr + " of " + owner, dial: func() (net.Conn, error) { return dialTCP(addr) }}
}

// dialers are the Go tubes that open direct-tcpip channels to virtual
// names, used round robin.
type dialers struct {
	tubes []*goClient
	n     atomic.Uint64
}

func (d *dialers) next() *goClient { return d.tubes[d.n.Add(1)%uint64(len(d.tubes))] }

// nameRoute reaches a virtual name through the dialer tubes.
func (d *dialers) nameRoute(vname, owner string) route {
	target := fmt.Sprintf("%s:%d", vname, namePort)
	return route{name: "name " + target + " of " + owner, dial: func() (net.Conn, error) { return d.next().dial(target) }}
}

// errOpenStalled is a dial or channel open that did not answer in time.
var errOpenStalled = errors.New("no answer")

// boundedDial runs dial for at most openTimeout.
func boundedDial(dial func() (net.Conn, error)) (net.Conn, error) {
	type dialed struct {
		c   net.Conn
		err error
	}
	ch := make(chan dialed, 1)
	go func() {
		c, err := dial()
		ch <- dialed{c, err}
	}()
	select {
	case d := <-ch:
		return d.c, d.err
	case <-time.After(openTimeout):
		go func() {
			if d := <-ch; d.c != nil {
				d.c.Close()
			}
		}()
		return nil, fmt.Errorf("open: %w in %v", errOpenStalled, openTimeout)
	}
}

// runStream sends one stream over rt and records it.
func (s *soak) runStream(rt route, spec streamSpec, expectFail bool) result {
	c, err := boundedDial(rt.dial)
	var r result
	switch {
	case errors.Is(err, errOpenStalled):
		r = result{outcome: outcomeStalled, size: spec.size, err: err}
	case err != nil:
		r = result{outcome: outcomeFailed, size: spec.size, err: err}
	default:
		r = guard(s.wd.watch(c), func(rw io.ReadWriter) result { return originate(rw, spec) })
	}
	s.stats.stream(rt.name, expectFail, r)
	return r
}

// waitStream polls until one small stream passes through dial, for at
// most gwproc.StartTimeout, or p exits.
func waitStream(ctx context.Context, p *gwproc.Proc, dial func() (net.Conn, error)) error {
	deadline := time.Now().Add(gwproc.StartTimeout)
	var err error
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if p != nil && p.ExitState() != "" {
			return fmt.Errorf("exited: %s", p.ExitState())
		}
		var c net.Conn
		if c, err = boundedDial(dial); err == nil {
			w := newWatchdog(10 * time.Second)
			wctx, cancel := context.WithCancel(ctx)
			go w.run(wctx)
			r := guard(w.watch(c), func(rw io.ReadWriter) result { return originate(rw, streamSpec{size: 1024, seed: 1}) })
			cancel()
			if err = r.err; r.outcome == outcomeOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("no stream passed in %v: %w", gwproc.StartTimeout, err)
}
