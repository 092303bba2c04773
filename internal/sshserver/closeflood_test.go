package sshserver

import (
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// TestChannelClosesUnderBidirectionalLoad: many channels carry data both
// ways at once over small socket buffers, and both ends close channels
// while the other end is still writing to them. Each end's mux answers a
// CHANNEL_CLOSE; it must never wait for a writer of that channel that is
// itself waiting for the network, or both ends can stop reading at once
// and the tube freezes.
func TestChannelClosesUnderBidirectionalLoad(t *testing.T) {
	const streams, rounds = 64, 3
	g := startGateway(t, Limits{MaxChannels: 4 * streams})
	g.addUser(t, "alice")
	raw, err := net.Dial("tcp", g.addr)
	if err != nil {
		t.Fatal(err)
	}
	tc := raw.(*net.TCPConn)
	tc.SetReadBuffer(32 << 10)
	tc.SetWriteBuffer(32 << 10)
	cc, chans, reqs, err := ssh.NewClientConn(raw, g.addr, g.clientConfig("alice"))
	if err != nil {
		t.Fatal(err)
	}
	c := ssh.NewClient(cc, chans, reqs)
	defer c.Close()
	ln, err := c.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// The client side writes a lot back and closes each channel after a
	// random share of it, whatever the other side is doing.
	go func() {
		for {
			ch, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer ch.Close()
				go io.Copy(io.Discard, ch)
				buf := make([]byte, 32<<10)
				for n := rand.IntN(64) + 1; n > 0; n-- {
					if _, err := ch.Write(buf); err != nil {
						return
					}
				}
			}()
		}
	}()
	for round := range rounds {
		start := time.Now()
		var timedOut atomic.Int32
		var wg sync.WaitGroup
		for range streams {
			wg.Add(1)
			go func() {
				defer wg.Done()
				conn, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					return
				}
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(stallBound))
				read := make(chan error, 1)
				go func() { _, err := io.Copy(io.Discard, conn); read <- err }()
				buf := make([]byte, 32<<10)
				for n := rand.IntN(64) + 1; n > 0; n-- {
					if _, err := conn.Write(buf); err != nil {
						if isTimeout(err) {
							timedOut.Add(1)
						}
						return
					}
				}
				conn.(*net.TCPConn).CloseWrite()
				if err := <-read; isTimeout(err) {
					timedOut.Add(1)
				}
			}()
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(stallBound):
			buf := make([]byte, 8<<20)
			n := runtime.Stack(buf, true)
			t.Fatalf("round %d: tube froze; goroutines:\n%s", round, buf[:n])
		}
		t.Logf("round %d: %d streams in %v", round, streams, time.Since(start).Round(time.Millisecond))
		if n := timedOut.Load(); n > 0 {
			t.Fatalf("round %d: %d streams moved nothing until their %v deadline: the tube froze", round, n, stallBound)
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
