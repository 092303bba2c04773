// Copyright 2026 The Tubegate Authors. Patch to golang.org/x/crypto/ssh;
// see third_party/patches/x-crypto-0019-key-exchange-loop-only-while-needed.patch.

package ssh

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"net"
	"testing"
	"time"
)

// testServerPair dials a server with conf over loopback and returns both
// ends.
func testServerPair(t *testing.T, conf *ServerConfig, cconf *ClientConfig) (*ServerConn, <-chan NewChannel, <-chan *Request, *Client) {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, err := NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	conf.AddHostKey(signer)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type served struct {
		sc    *ServerConn
		chans <-chan NewChannel
		reqs  <-chan *Request
	}
	done := make(chan served, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- served{}
			return
		}
		sc, chans, reqs, err := NewServerConn(c, conf)
		if err != nil {
			done <- served{}
			return
		}
		done <- served{sc, chans, reqs}
	}()
	if cconf == nil {
		cconf = &ClientConfig{}
	}
	cconf.HostKeyCallback = InsecureIgnoreHostKey()
	client, err := Dial("tcp", ln.Addr().String(), cconf)
	if err != nil {
		t.Fatal(err)
	}
	s := <-done
	if s.sc == nil {
		t.Fatal("server handshake failed")
	}
	t.Cleanup(func() { client.Close(); s.sc.Close() })
	return s.sc, s.chans, s.reqs, client
}

// kexLoopRuns reports whether the connection's key exchange loop runs.
func kexLoopRuns(c Conn) bool {
	t := c.(*connection).transport.(*handshakeTransport)
	t.loopMu.Lock()
	defer t.loopMu.Unlock()
	return t.loopRunning
}

// waitKexLoopStopped waits until neither end's key exchange loop runs.
func waitKexLoopStopped(t *testing.T, ends ...Conn) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, c := range ends {
		for kexLoopRuns(c) {
			if time.Now().After(deadline) {
				t.Fatal("the key exchange loop still runs on an idle connection")
			}
			time.Sleep(time.Millisecond)
		}
	}
}

// TestKexLoopOnlyWhileNeeded checks that an idle connection has no key
// exchange loop at either end, and that key exchanges asked for after the
// loops stopped, by the byte limit (RekeyThreshold) while data flows both
// ways and by a direct request, still happen.
func TestKexLoopOnlyWhileNeeded(t *testing.T) {
	conf := &ServerConfig{NoClientAuth: true}
	conf.RekeyThreshold = 64 << 10
	sc, chans, reqs, client := testServerPair(t, conf,
		&ClientConfig{Config: Config{RekeyThreshold: 96 << 10}})
	go DiscardRequests(reqs)
	go func() {
		for nc := range chans {
			ch, creqs, err := nc.Accept()
			if err != nil {
				return
			}
			go DiscardRequests(creqs)
			go func() { io.Copy(ch, ch); ch.CloseWrite() }()
		}
	}()
	waitKexLoopStopped(t, sc.Conn, client.Conn)
	st := sc.Conn.(*connection).transport.(*handshakeTransport)
	ct := client.Conn.(*connection).transport.(*handshakeTransport)
	// kexes reads how many key exchanges each end has started.
	kexes := func() (uint64, uint64) { return uint64(st.kexInitsSent.Load()), uint64(ct.kexInitsSent.Load()) }

	for round := 0; round < 3; round++ {
		s0, c0 := kexes()
		ch, creqs, err := client.OpenChannel("echo", nil)
		if err != nil {
			t.Fatal(err)
		}
		go DiscardRequests(creqs)
		data := bytes.Repeat([]byte{byte(round), 1, 2, 3}, 256<<10) // 1 MiB: several exchanges
		go func() { ch.Write(data); ch.CloseWrite() }()
		got, err := io.ReadAll(ch)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("round %d: echoed %d of %d bytes, %v", round, len(got), len(data), err)
		}
		ch.Close()
		waitKexLoopStopped(t, sc.Conn, client.Conn)
		// 1 MiB each way past limits of 64 and 96 KiB, with both loops
		// stopped before: each end sends a kexInit at least once (the
		// packets written during an exchange are queued and do not count
		// towards the next, so 1 MiB takes one or two).
		if s1, c1 := kexes(); s1 == s0 || c1 == c0 {
			t.Fatalf("round %d: kexInits sent: server %d, client %d; want at least one each", round, s1-s0, c1-c0)
		}
	}
	// The client asks for one while both loops are stopped: the client's
	// loop starts to send its kexInit, the server's to answer it.
	s0, c0 := kexes()
	ct.requestKeyExchange()
	deadline := time.Now().Add(10 * time.Second)
	for s1, c1 := kexes(); s1 == s0 || c1 == c0; s1, c1 = kexes() {
		if time.Now().After(deadline) {
			t.Fatal("a key exchange asked for while the loops were stopped did not happen")
		}
		time.Sleep(time.Millisecond)
	}
	if ok, _, err := client.SendRequest("after-kex", true, nil); err != nil || ok {
		t.Fatalf("request after a key exchange: %v %v", ok, err)
	}
	waitKexLoopStopped(t, sc.Conn, client.Conn)
}
