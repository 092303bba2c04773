package gwclient

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/tubegate/tubegate/internal/forward"
)

// fakeGateway is an in-process SSH server standing in for the gateway.
type fakeGateway struct {
	conn  ssh.Conn
	chans <-chan ssh.NewChannel
	reqs  <-chan *ssh.Request
}

// connect makes a tube to a fake gateway that answers requests with
// answer (nil: leave them unanswered, as a dead peer does).
func connect(t *testing.T, answer func(*ssh.Request)) (*Tube, *fakeGateway) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{NoClientAuth: true}
	cfg.AddHostKey(signer)
	lnr, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lnr.Close()
	a, err := net.Dial("tcp", lnr.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b, err := lnr.Accept()
	if err != nil {
		t.Fatal(err)
	}
	fg := make(chan *fakeGateway, 1)
	go func() {
		sc, chans, reqs, err := ssh.NewServerConn(b, cfg)
		if err != nil {
			t.Error(err)
			close(fg)
			return
		}
		g := &fakeGateway{conn: sc, chans: chans, reqs: reqs}
		if answer != nil {
			go func() {
				for req := range reqs {
					answer(req)
				}
			}()
		}
		fg <- g
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tube, err := NewTube(ctx, a, "gw", &ssh.ClientConfig{User: "u", HostKeyCallback: ssh.InsecureIgnoreHostKey()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tube.Close() })
	g := <-fg
	if g == nil {
		t.FailNow()
	}
	return tube, g
}

func acceptForwards(req *ssh.Request) {
	req.Reply(req.Type == forward.ReqTCPIPForward || req.Type == forward.ReqCancelTCPIPForward, nil)
}

// TestListenVirtualName: a listener on a virtual name gets the
// forwarded-tcpip channels the gateway opens for that name.
func TestListenVirtualName(t *testing.T) {
	tube, g := connect(t, acceptForwards)
	ln, err := tube.Listen("web.alice", 8080)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		ch, reqs, err := g.conn.OpenChannel(forward.ChanForwardedTCPIP,
			ssh.Marshal(forward.NewForwardedTCPIP("web.alice", 8080, nil)))
		if err != nil {
			t.Error(err)
			return
		}
		go ssh.DiscardRequests(reqs)
		ch.Write([]byte("hello"))
		ch.Close()
	}()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(c)
	if string(got) != "hello" {
		t.Errorf("read %q through the virtual name's listener", got)
	}
	if ln.Address.String() != "web.alice:8080" {
		t.Errorf("Address = %s", ln.Address)
	}
}

// TestListenRefused: a refused tcpip-forward is ErrListenRefused.
func TestListenRefused(t *testing.T) {
	tube, _ := connect(t, func(req *ssh.Request) { req.Reply(false, nil) })
	if _, err := tube.Listen("web.alice", 8080); !errors.Is(err, ErrListenRefused) {
		t.Errorf("Listen = %v, want ErrListenRefused", err)
	}
}

// TestForwardLost: forward-lost@tubegate closes the listener it names and
// says why.
func TestForwardLost(t *testing.T) {
	tube, g := connect(t, acceptForwards)
	ln, err := tube.Listen("web.alice", 8080)
	if err != nil {
		t.Fatal(err)
	}
	g.conn.SendRequest(forward.ReqForwardLost, false, ssh.Marshal(forward.ForwardRequest{BindAddr: "web.alice", BindPort: 8080}))
	select {
	case <-ln.Lost():
	case <-time.After(5 * time.Second):
		t.Fatal("the listener was not lost")
	}
	if !strings.Contains(ln.LostErr().Error(), "failed and was closed") {
		t.Errorf("LostErr = %v", ln.LostErr())
	}
	if _, err := ln.Accept(); err == nil {
		t.Error("Accept on a lost listener succeeded")
	}
}

// TestOpenRefused: a refused direct-tcpip is an *OpenError with the
// gateway's reason.
func TestOpenRefused(t *testing.T) {
	tube, g := connect(t, acceptForwards)
	go func() {
		for nc := range g.chans {
			nc.Reject(ssh.Prohibited, "not permitted by your policy")
		}
	}()
	_, err := tube.Open(context.Background(), "db.lan", 5432)
	var oe *OpenError
	if !errors.As(err, &oe) || oe.Reason != ssh.Prohibited || oe.Error() != "db.lan:5432: not permitted by your policy" {
		t.Errorf("Open = %v", err)
	}
}

// TestKeepaliveClosesDeadTube: a gateway that stops answering is noticed
// after max keepalives and the tube ends with that reason.
func TestKeepaliveClosesDeadTube(t *testing.T) {
	tube, _ := connect(t, nil)
	go tube.Keepalive(context.Background(), 20*time.Millisecond, 3, nil)
	select {
	case <-tube.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the tube to a silent gateway is still up")
	}
	if !strings.Contains(tube.Err().Error(), "keepalives") {
		t.Errorf("Err = %v", tube.Err())
	}
}

// TestKeepaliveKeepsLiveTube: answered keepalives leave the tube up.
func TestKeepaliveKeepsLiveTube(t *testing.T) {
	tube, g := connect(t, nil)
	answered := make(chan struct{}, 100)
	go func() {
		for req := range g.reqs {
			req.Reply(false, nil) // OpenSSH answers keepalives with a failure
			answered <- struct{}{}
		}
	}()
	go tube.Keepalive(context.Background(), 10*time.Millisecond, 2, nil)
	for range 10 {
		select {
		case <-answered:
		case <-tube.Done():
			t.Fatalf("tube ended: %v", tube.Err())
		case <-time.After(10 * time.Second):
			t.Fatal("no keepalives")
		}
	}
}

// fakeResumable stands in for a resumable transport: attached or not;
// a drop detaches it, as a real drop does until the tube resumes.
type fakeResumable struct {
	attached atomic.Bool
	drops    chan struct{}
}

func (f *fakeResumable) Attached() bool { return f.attached.Load() }
func (f *fakeResumable) Drop() {
	f.attached.Store(false)
	f.drops <- struct{}{}
}

// TestKeepaliveDropsResumableTransport: on a resumable tube, unanswered
// keepalives drop the WebSocket (so that the tube resumes) and leave the
// tube up; while the transport is detached nothing is counted.
func TestKeepaliveDropsResumableTransport(t *testing.T) {
	tube, _ := connect(t, nil)
	r := &fakeResumable{drops: make(chan struct{}, 100)}
	r.attached.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go tube.Keepalive(ctx, 10*time.Millisecond, 2, r)
	waitDrop := func() {
		t.Helper()
		select {
		case <-r.drops:
		case <-tube.Done():
			t.Fatalf("the resumable tube was closed: %v", tube.Err())
		case <-time.After(10 * time.Second):
			t.Fatal("no drop after unanswered keepalives")
		}
	}
	waitDrop()
	time.Sleep(200 * time.Millisecond) // 20 ticks while detached
	select {
	case <-r.drops:
		t.Fatal("a detached transport was dropped")
	case <-tube.Done():
		t.Fatalf("the detached tube was closed: %v", tube.Err())
	default:
	}
	r.attached.Store(true) // "resumed", and still no answers
	waitDrop()
}
