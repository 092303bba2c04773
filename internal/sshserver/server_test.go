package sshserver

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/tubegate/tubegate/internal/forward"
	"github.com/tubegate/tubegate/internal/hostkeys"
	"github.com/tubegate/tubegate/internal/users"
)

// testGateway is an in-process server on a loopback listener.
type testGateway struct {
	srv   *Server
	store *users.Store
	addr  string
	keys  map[string]ssh.Signer
}

func startGateway(t *testing.T, limits Limits) *testGateway {
	t.Helper()
	dir := t.TempDir()
	hk, err := hostkeys.LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	store, err := users.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, nil))
	srv, err := New(Config{HostKeys: hk, Users: store, Registry: forward.NewRegistry(log), Log: log, Limits: limits})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Serve(ctx, ln); close(done) }()
	t.Cleanup(func() { cancel(); srv.Shutdown(); <-done })
	return &testGateway{srv: srv, store: store, addr: ln.Addr().String(), keys: map[string]ssh.Signer{}}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func (g *testGateway) addUser(t *testing.T, name string, permitOpen ...string) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	g.keys[name] = signer
	line := string(ssh.MarshalAuthorizedKey(signer.PublicKey()))
	if err := g.store.Add(users.User{Name: name, Keys: []string{line}, PermitOpen: permitOpen}); err != nil {
		t.Fatal(err)
	}
}

func (g *testGateway) dial(t *testing.T, name string) *ssh.Client {
	t.Helper()
	c, err := ssh.Dial("tcp", g.addr, g.clientConfig(name))
	if err != nil {
		t.Fatalf("ssh as %s: %v", name, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func (g *testGateway) clientConfig(name string) *ssh.ClientConfig {
	return &ssh.ClientConfig{
		User:            name,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(g.keys[name])},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(),
		Timeout:         5 * time.Second,
	}
}

// echo serves every connection of ln by echoing it.
func echo(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() { io.Copy(c, c); c.Close() }()
	}
}

func echoOnce(t *testing.T, c net.Conn) {
	t.Helper()
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "hello" {
		t.Fatalf("echo: %q, %v", buf, err)
	}
}

func TestAuth(t *testing.T) {
	g := startGateway(t, Limits{})
	g.addUser(t, "alice")
	g.addUser(t, "bob")
	g.dial(t, "alice")
	cfg := g.clientConfig("alice")
	cfg.Auth = []ssh.AuthMethod{ssh.PublicKeys(g.keys["bob"])}
	if _, err := ssh.Dial("tcp", g.addr, cfg); err == nil {
		t.Error("alice with bob's key: want auth failure")
	}
	cfg = g.clientConfig("nobody")
	cfg.Auth = []ssh.AuthMethod{ssh.Password("whatever1")}
	if _, err := ssh.Dial("tcp", g.addr, cfg); err == nil {
		t.Error("unknown user: want auth failure")
	}
}

func TestRemoteForwardAllocatesAndCarries(t *testing.T) {
	g := startGateway(t, Limits{})
	g.addUser(t, "alice")
	c := g.dial(t, "alice")
	ln, err := c.Listen("tcp", "127.0.0.1:0") // tcpip-forward with port 0
	if err != nil {
		t.Fatal(err)
	}
	go echo(ln)
	port := ln.Addr().(*net.TCPAddr).Port
	if port == 0 {
		t.Fatal("no port allocated")
	}
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	echoOnce(t, conn)
	// ssh -J gw -p PORT user@localhost: a direct-tcpip to the published
	// port goes through the owner's tube, for the owner and for users whose
	// permit-open names it; others are refused.
	g.addUser(t, "bob", fmt.Sprintf("localhost:%d", port))
	g.addUser(t, "carol")
	target := fmt.Sprintf("localhost:%d", port)
	for _, who := range []string{"alice", "bob"} {
		cl := c
		if who != "alice" {
			cl = g.dial(t, who)
		}
		conn, err := cl.Dial("tcp", target)
		if err != nil {
			t.Fatalf("%s to %s through the gateway: %v", who, target, err)
		}
		echoOnce(t, conn)
	}
	if _, err := g.dial(t, "carol").Dial("tcp", target); err == nil || !strings.Contains(err.Error(), "administratively prohibited") {
		t.Errorf("carol to %s: err = %v, want administratively prohibited", target, err)
	}
	ln.Close() // cancel-tcpip-forward
	waitFor(t, "port freed after cancel", func() bool {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), 200*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
}

func TestVirtualNameAcrossUsers(t *testing.T) {
	g := startGateway(t, Limits{})
	g.addUser(t, "alice")
	g.addUser(t, "bob", "myhost:22")
	g.addUser(t, "carol")
	alice := g.dial(t, "alice")
	ok, reply, err := alice.SendRequest("tcpip-forward", true, ssh.Marshal(forwardRequest{"myhost", 22}))
	if err != nil || !ok {
		t.Fatalf("publish myhost:22: ok=%v err=%v reply=%x", ok, err, reply)
	}
	forwarded := alice.HandleChannelOpen("forwarded-tcpip") // before any can arrive
	go func() {
		for nc := range forwarded {
			var p forwardedPayload
			if ssh.Unmarshal(nc.ExtraData(), &p) != nil || p.Addr != "myhost" || p.Port != 22 {
				nc.Reject(ssh.ConnectionFailed, "unexpected forwarded-tcpip payload")
				continue
			}
			ch, reqs, err := nc.Accept()
			if err != nil {
				continue
			}
			go ssh.DiscardRequests(reqs)
			go func() { io.Copy(ch, ch); ch.Close() }()
		}
	}()
	// The owner and a permitted user reach it; carol is refused.
	for _, who := range []string{"alice", "bob"} {
		client := alice
		if who != "alice" {
			client = g.dial(t, who)
		}
		conn, err := client.Dial("tcp", "myhost:22")
		if err != nil {
			t.Fatalf("%s to myhost:22: %v", who, err)
		}
		echoOnce(t, conn)
	}
	carol := g.dial(t, "carol")
	_, err = carol.Dial("tcp", "myhost:22")
	if err == nil || !strings.Contains(err.Error(), "administratively prohibited") {
		t.Errorf("carol to myhost:22: err = %v, want administratively prohibited", err)
	}
	// Another user cannot claim the name.
	ok, _, err = carol.SendRequest("tcpip-forward", true, ssh.Marshal(forwardRequest{"myhost", 22}))
	if err != nil || ok {
		t.Errorf("carol claiming myhost:22: ok=%v err=%v, want refused", ok, err)
	}
}

func TestDirectTCPIPPolicy(t *testing.T) {
	svc, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	go echo(svc)
	g := startGateway(t, Limits{})
	g.addUser(t, "alice", svc.Addr().String())
	g.addUser(t, "bob")
	conn, err := g.dial(t, "alice").Dial("tcp", svc.Addr().String())
	if err != nil {
		t.Fatalf("permitted -L: %v", err)
	}
	echoOnce(t, conn)
	_, err = g.dial(t, "bob").Dial("tcp", svc.Addr().String())
	if err == nil || !strings.Contains(err.Error(), "administratively prohibited") {
		t.Errorf("unpermitted -L: err = %v, want administratively prohibited", err)
	}
	// The policy is read per channel: a user edit applies to a live tube.
	bob := g.dial(t, "bob")
	if err := g.store.Update(func(m map[string]*users.User) error {
		m["bob"].PermitOpen = []string{"127.0.0.1:*"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	conn, err = bob.Dial("tcp", svc.Addr().String())
	if err != nil {
		t.Fatalf("after permitting bob: %v", err)
	}
	echoOnce(t, conn)
}

func TestSessionPrintsStatus(t *testing.T) {
	g := startGateway(t, Limits{})
	g.addUser(t, "alice")
	c := g.dial(t, "alice")
	if ok, _, err := c.SendRequest("tcpip-forward", true, ssh.Marshal(forwardRequest{"web", 80})); !ok || err != nil {
		t.Fatalf("publish: %v %v", ok, err)
	}
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out, err := sess.Output("")
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	for _, want := range []string{"you are alice", "web:80", "virtual name"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("status output lacks %q:\n%s", want, out)
		}
	}
	sess, _ = c.NewSession()
	var stderr bytes.Buffer
	sess.Stderr = &stderr
	err = sess.Run("rm -rf /")
	if ee, ok := err.(*ssh.ExitError); !ok || ee.ExitStatus() != 127 || !strings.Contains(stderr.String(), "no shell") {
		t.Errorf("unknown command: err=%v stderr=%q; want exit 127 and an explanation", err, stderr.String())
	}
}

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

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
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

func TestSplitAddrAlwaysValid(t *testing.T) {
	cases := map[string]struct {
		host string
		port int
	}{
		"10.1.2.3:4567": {"10.1.2.3", 4567},
		"[::1]:22":      {"::1", 22},
		"0.0.0.0:0":     {"127.0.0.1", 65535},
		"websocket/x":   {"127.0.0.1", 65535},
		"myhost:22":     {"127.0.0.1", 65535},
		"1.2.3.4:99999": {"127.0.0.1", 65535},
	}
	for in, want := range cases {
		h, p := splitAddr(forward.Addr{Net: "tcp", Address: in})
		if h != want.host || p != want.port {
			t.Errorf("splitAddr(%q) = %s, %d; want %s, %d", in, h, p, want.host, want.port)
		}
	}
	if h, p := splitAddr(nil); h != "127.0.0.1" || p != 65535 {
		t.Errorf("splitAddr(nil) = %s, %d", h, p)
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
