package sshserver

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
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

// startGateway starts a server with limits; reg, if given, sets the
// registry's caps (forward.DefaultMaxPerOwner and DefaultMaxPerUser
// otherwise, as the gateway's flags default to).
func startGateway(t *testing.T, limits Limits, reg ...func(*forward.Registry)) *testGateway {
	t.Helper()
	hk, store := newDataDir(t)
	log := slog.New(slog.NewTextHandler(newTestWriter(t), nil))
	registry := forward.NewRegistry(log)
	registry.MaxPerOwner, registry.MaxPerUser = forward.DefaultMaxPerOwner, forward.DefaultMaxPerUser
	for _, f := range reg {
		f(registry)
	}
	srv, err := New(Config{HostKeys: hk, Users: store, Registry: registry, Log: log, Limits: limits})
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

// newDataDir makes host keys and a user store in a fresh data dir.
func newDataDir(t *testing.T) ([]ssh.Signer, *users.Store) {
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
	return hk, store
}

// testWriter logs the server's lines to the test, and drops those that
// come after the test has ended (a tube's goroutine may still be closing),
// which t.Log would panic on.
type testWriter struct {
	t    *testing.T
	mu   sync.Mutex
	done bool
}

func newTestWriter(t *testing.T) *testWriter {
	w := &testWriter{t: t}
	t.Cleanup(func() { w.mu.Lock(); w.done = true; w.mu.Unlock() })
	return w
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSpace(string(p)))
	}
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
