package sshserver

import (
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/tubegate/tubegate/internal/users"
)

func TestBadInputClosesOnlyThatTube(t *testing.T) {
	g := startGateway(t, Limits{HandshakeTimeout: 2 * time.Second})
	g.addUser(t, "alice")
	good := g.dial(t, "alice")
	inputs := [][]byte{
		[]byte("GET / HTTP/1.1\r\n\r\n"),
		bytes.Repeat([]byte{0xff}, 70000),
		[]byte("SSH-2.0-x\r\n\x00\x00\x01\x00\x06\x14"), // truncated KEXINIT
	}
	for _, in := range inputs {
		c, err := net.Dial("tcp", g.addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Write(in)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		io.Copy(io.Discard, c) // the server closes it
		c.Close()
	}
	sess, err := good.NewSession()
	if err != nil {
		t.Fatalf("the good tube died with the bad ones: %v", err)
	}
	if _, err := sess.Output("status"); err != nil {
		t.Fatal(err)
	}
	g.dial(t, "alice") // and new tubes still come in
}

// stallConn stops delivering reads once stalled, like a client that
// vanished without closing its connection.
type stallConn struct {
	net.Conn
	mu      sync.Mutex
	stalled bool
}

func (c *stallConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	s := c.stalled
	c.mu.Unlock()
	if s {
		select {} // never returns; the test's cleanup closes the process's sockets
	}
	return c.Conn.Read(p)
}

func TestKeepaliveClosesDeadTube(t *testing.T) {
	g := startGateway(t, Limits{KeepaliveInterval: 100 * time.Millisecond, KeepaliveMax: 3})
	g.addUser(t, "alice")
	raw, err := net.Dial("tcp", g.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	sc := &stallConn{Conn: raw}
	cc, chans, reqs, err := ssh.NewClientConn(sc, g.addr, g.clientConfig("alice"))
	if err != nil {
		t.Fatal(err)
	}
	go ssh.NewClient(cc, chans, reqs)
	waitFor(t, "tube registered", func() bool { return g.srv.Tubes() == 1 })
	sc.mu.Lock()
	sc.stalled = true
	sc.mu.Unlock()
	waitFor(t, "silent tube closed by keepalive", func() bool { return g.srv.Tubes() == 0 })
}

func TestChannelLimit(t *testing.T) {
	g := startGateway(t, Limits{MaxChannels: 2})
	g.addUser(t, "alice")
	c := g.dial(t, "alice")
	for i := 0; i < 2; i++ {
		s, err := c.NewSession()
		if err != nil {
			t.Fatalf("session %d: %v", i, err)
		}
		defer s.Close()
	}
	if _, err := c.NewSession(); err == nil || !strings.Contains(err.Error(), "channels open") {
		t.Errorf("third channel: err = %v, want a resource-shortage refusal", err)
	}
}

func TestDeletedUserIsCutOff(t *testing.T) {
	g := startGateway(t, Limits{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go g.srv.WatchUsers(ctx)
	g.addUser(t, "alice")
	g.addUser(t, "bob")
	alice, bob := g.dial(t, "alice"), g.dial(t, "bob")
	ln, err := alice.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go echo(ln)
	if err := g.store.Delete("alice"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "alice's tube closed", func() bool { return g.srv.Tubes() == 1 })
	waitFor(t, "alice's listener closed", func() bool {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), 200*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	if _, err := bob.NewSession(); err != nil {
		t.Errorf("bob's tube suffered: %v", err)
	}
}

func TestPanicClosesOnlyThatTube(t *testing.T) {
	g := startGateway(t, Limits{})
	g.srv.cfg.Commands = map[string]CommandFunc{
		"boom": func(context.Context, *Tube, []string, io.Writer, io.Writer) int { panic("handler bug") },
	}
	g.addUser(t, "alice")
	victim, bystander := g.dial(t, "alice"), g.dial(t, "alice")
	sess, err := victim.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	sess.Run("boom")
	waitFor(t, "the panicking tube closed", func() bool { return g.srv.Tubes() == 1 })
	sess, err = bystander.NewSession()
	if err != nil {
		t.Fatalf("the other tube died too: %v", err)
	}
	if _, err := sess.Output("status"); err != nil {
		t.Fatal(err)
	}
	g.dial(t, "alice") // and the gateway still takes tubes
}

func TestPasswordGuessesThrottled(t *testing.T) {
	g := startGateway(t, Limits{})
	hash, err := users.HashPassword("correct-horse")
	if err != nil {
		t.Fatal(err)
	}
	if err := g.store.Add(users.User{Name: "dora", PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	try := func(pw string) error {
		c, err := ssh.Dial("tcp", g.addr, &ssh.ClientConfig{
			User: "dora", Auth: []ssh.AuthMethod{ssh.Password(pw)},
			HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second,
		})
		if err == nil {
			c.Close()
		}
		return err
	}
	for i := 0; i < 10; i++ {
		if try("guess") == nil {
			t.Fatal("a wrong password was accepted")
		}
	}
	if err := try("correct-horse"); err == nil {
		t.Error("after 10 wrong passwords from one address the right one still got in: guessing is not throttled")
	}
}
