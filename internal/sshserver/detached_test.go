package sshserver

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// detachConn is a carrier that says whether it is detached, as a
// resumable tube's does, and counts how often it was asked.
type detachConn struct {
	net.Conn
	detached atomic.Bool
	asked    atomic.Int32
}

func (c *detachConn) Detached() bool {
	c.asked.Add(1)
	return c.detached.Load()
}

// TestKeepaliveSparesDetachedTube: while its carrier is detached (a
// resumable tube waiting for its client) a tube that answers nothing is
// left to the resume window, however many keepalive periods pass; once
// attached again, silence closes it as before.
func TestKeepaliveSparesDetachedTube(t *testing.T) {
	const interval, maxMissed = 100 * time.Millisecond, 2
	g := startGateway(t, Limits{KeepaliveInterval: interval, KeepaliveMax: maxMissed})
	g.addUser(t, "alice")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	carrier := make(chan *detachConn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		dc := &detachConn{Conn: c}
		carrier <- dc
		g.srv.ServeConn(context.Background(), dc, ConnOptions{Transport: "test"})
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	sc := &stallConn{Conn: raw}
	cc, chans, reqs, err := ssh.NewClientConn(sc, ln.Addr().String(), g.clientConfig("alice"))
	if err != nil {
		t.Fatal(err)
	}
	defer ssh.NewClient(cc, chans, reqs).Close()
	dc := <-carrier
	waitFor(t, "tube registered", func() bool { return g.srv.Tubes() == 1 })

	dc.detached.Store(true)
	sc.mu.Lock()
	sc.stalled = true // answers nothing from now on
	sc.mu.Unlock()
	// Wait for more keepalive periods than the silence allowed, counted by
	// the keepalive's own questions, not by the clock.
	start := dc.asked.Load()
	waitFor(t, "keepalive periods to pass", func() bool {
		return dc.asked.Load() >= start+2*maxMissed+2 || g.srv.Tubes() == 0
	})
	if g.srv.Tubes() != 1 {
		t.Fatal("the keepalive closed a detached tube")
	}
	dc.detached.Store(false)
	waitFor(t, "a silent attached tube closed by keepalive", func() bool { return g.srv.Tubes() == 0 })
}
