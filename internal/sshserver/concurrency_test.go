package sshserver

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/tubegate/tubegate/internal/forward"
)

// TestTubesPerUserHoldUnderConcurrency fires many handshakes of one user
// at once: no more than MaxTubesPerUser may be admitted, however they
// interleave (the slot is reserved at auth, under the lock that counts).
func TestTubesPerUserHoldUnderConcurrency(t *testing.T) {
	const limit, tries = 4, 64
	g := startGateway(t, Limits{MaxTubesPerUser: limit, MaxHandshakesPerSource: 2 * tries})
	g.addUser(t, "alice")
	var admitted atomic.Int32
	var mu sync.Mutex
	var clients []*ssh.Client
	var wg sync.WaitGroup
	for range tries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := ssh.Dial("tcp", g.addr, g.clientConfig("alice"))
			if err != nil {
				return
			}
			admitted.Add(1)
			mu.Lock()
			clients = append(clients, c)
			mu.Unlock()
		}()
	}
	wg.Wait()
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	if n := admitted.Load(); n > limit || n == 0 {
		t.Errorf("%d concurrent handshakes admitted %d tubes, want the limit %d", tries, n, limit)
	}
	if n := g.srv.Tubes(); n > limit {
		t.Errorf("%d tubes live, limit %d", n, limit)
	}
	// Slots come back: once the tubes close, the user gets in again.
	for _, c := range clients {
		c.Close()
	}
	clients = nil
	waitFor(t, "tubes gone", func() bool { return g.srv.Tubes() == 0 })
	g.dial(t, "alice")
}

// TestForwardLimitsHoldUnderConcurrency fires many tcpip-forwards at once,
// from one tube and from several tubes of one user: neither the per-tube
// nor the per-user cap may be overshot.
func TestForwardLimitsHoldUnderConcurrency(t *testing.T) {
	const perTube, perUser, tubes, tries = 6, 10, 16, 12
	g := startGateway(t, Limits{}, func(r *forward.Registry) { r.MaxPerOwner, r.MaxPerUser = perTube, perUser })
	g.addUser(t, "alice")
	var ok atomic.Int32
	perTubeOK := make([]atomic.Int32, tubes)
	clients := make([]*ssh.Client, tubes)
	for i := range clients {
		clients[i] = g.dial(t, "alice")
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, c := range clients {
		for j := range tries {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				// Virtual names and loopback listeners, which take longer.
				req := forward.ForwardRequest{BindAddr: fmt.Sprintf("t%d-n%d.alice", i, j), BindPort: 22}
				if j%2 == 1 {
					req = forward.ForwardRequest{BindAddr: "127.0.0.1", BindPort: 0}
				}
				granted, _, err := c.SendRequest("tcpip-forward", true, ssh.Marshal(req))
				if err == nil && granted {
					ok.Add(1)
					perTubeOK[i].Add(1)
				}
			}()
		}
	}
	close(start)
	wg.Wait()
	if n := ok.Load(); n != perUser {
		t.Errorf("%d concurrent forwards over %d tubes: %d granted, want exactly the per-user limit %d",
			tubes*tries, tubes, n, perUser)
	}
	for i := range perTubeOK {
		if n := perTubeOK[i].Load(); n > perTube {
			t.Errorf("tube %d: %d forwards granted, per-tube limit %d", i, n, perTube)
		}
	}
	if n := g.srv.cfg.Registry.Count(); n != perUser {
		t.Errorf("registry holds %d endpoints, want %d", n, perUser)
	}
}
