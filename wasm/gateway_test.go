package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/tubegate/tubegate/internal/forward"
)

// TestForwardLostShownOnItsRow: when the gateway says a -L forward's
// listener died (forward-lost@tubegate), the page's forward carries the
// reason, which the forwards table shows.
func TestForwardLostShownOnItsRow(t *testing.T) {
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	serverConn := make(chan ssh.Conn, 1)
	go func() {
		sc, chans, reqs, err := ssh.NewServerConn(b, cfg)
		if err != nil {
			t.Error(err)
			close(serverConn)
			return
		}
		go func() {
			for nc := range chans {
				nc.Reject(ssh.Prohibited, "no")
			}
		}()
		go func() {
			for req := range reqs {
				req.Reply(req.Type == "tcpip-forward", nil)
			}
		}()
		serverConn <- sc
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	g, err := NewGateway(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	sc := <-serverConn
	if sc == nil {
		t.FailNow()
	}
	f := &Forward{ID: "f1"}
	gln, err := g.tube.Listen("web.alice", 8080)
	if err != nil {
		t.Fatal(err)
	}
	f.serveGatewayListener(gln, nil)
	sc.SendRequest("forward-lost@tubegate", false, ssh.Marshal(forward.ForwardRequest{BindAddr: "web.alice", BindPort: 8080}))
	deadline := time.Now().Add(5 * time.Second)
	for f.Info().LastErr == "" {
		if time.Now().After(deadline) {
			t.Fatal("the forward does not say its listener was lost")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(f.Info().LastErr, "on the gateway failed") {
		t.Errorf("LastErr = %q", f.Info().LastErr)
	}
}
