package sshserver

import (
	"net"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// TestKeepaliveClosesStuckTube: a client that stops reading while data
// flows to it blocks the gateway's writers for that tube (its TCP window
// is full). The tube must still be closed, and logged, once it has
// answered no keepalive for KeepaliveInterval × KeepaliveMax: the deadline
// is the timer's, not the blocked probe's.
func TestKeepaliveClosesStuckTube(t *testing.T) {
	const interval, maxMissed = time.Second, 3
	g := startGateway(t, Limits{KeepaliveInterval: interval, KeepaliveMax: maxMissed})
	g.addUser(t, "alice")
	raw, err := net.Dial("tcp", g.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.(*net.TCPConn).SetReadBuffer(16 << 10)
	sc := &stallConn{Conn: raw}
	cc, chans, reqs, err := ssh.NewClientConn(sc, g.addr, g.clientConfig("alice"))
	if err != nil {
		t.Fatal(err)
	}
	client := ssh.NewClient(cc, chans, reqs)
	ln, err := client.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go echo(ln)
	waitFor(t, "tube registered", func() bool { return g.srv.Tubes() == 1 })

	sc.mu.Lock()
	sc.stalled = true
	sc.mu.Unlock()
	stalled := time.Now()
	// Push data at the tube until the gateway's writes to the client block.
	for range 4 {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		go c.Write(make([]byte, 8<<20))
	}
	waitFor(t, "stuck tube closed by keepalive", func() bool { return g.srv.Tubes() == 0 })
	took := time.Since(stalled)
	t.Logf("stuck tube closed %v after it went silent (limit %v)", took.Round(time.Millisecond), interval*maxMissed)
	// A liveness bound with one interval of slack for a loaded machine; the
	// old probe-paced keepalive took twice the limit.
	if limit := interval*maxMissed + interval + interval/2; took > limit {
		t.Errorf("stuck tube closed after %v, want within about %v", took, interval*maxMissed)
	}
}
