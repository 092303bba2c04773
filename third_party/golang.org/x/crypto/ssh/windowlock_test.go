// Copyright 2026 The Tubegate Authors. Patch to golang.org/x/crypto/ssh;
// see third_party/patches/x-crypto-0016-window-read-under-its-lock.patch.

package ssh

import (
	"crypto/ed25519"
	"crypto/rand"
	"net"
	"sync"
	"testing"
)

// TestOpenChannelWhileConnectionEnds opens channels from a server with a
// window budget while the connection ends under them, so that the mux loop
// gives their windows back (leaveBudget) as they are being opened. Under
// the race detector (go test -race) this found the unlocked read of the
// window that patch 0016 puts under its lock.
func TestOpenChannelWhileConnectionEnds(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, err := NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	b := newTestBudget(64 << 20)
	conf := &ServerConfig{NoClientAuth: true, WindowBudget: func(ConnMetadata) WindowBudget { return b }}
	conf.AddHostKey(signer)
	for round := 0; round < 20; round++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		served := make(chan *ServerConn, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				served <- nil
				return
			}
			sc, chans, reqs, err := NewServerConn(c, conf)
			if err != nil {
				served <- nil
				return
			}
			go DiscardRequests(reqs)
			go func() {
				for nc := range chans {
					nc.Reject(Prohibited, "test")
				}
			}()
			served <- sc
		}()
		client, err := Dial("tcp", ln.Addr().String(), &ClientConfig{HostKeyCallback: InsecureIgnoreHostKey()})
		ln.Close()
		if err != nil {
			t.Fatal(err)
		}
		sc := <-served
		if sc == nil {
			t.Fatal("server handshake failed")
		}
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 50; i++ {
					if _, _, err := sc.OpenChannel("test", nil); err != nil && i > 5 {
						return
					}
				}
			}()
		}
		client.Close()
		wg.Wait()
		sc.Close()
	}
	waitFor(t, "every window given back", func() bool { return b.lent() == 0 })
}
