package sshserver

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// stallBound is a liveness bound, not a speed target: a round that moves
// its bytes at all finishes in a few seconds even under -race on 2 cores.
const stallBound = 60 * time.Second

// TestRekeyUnderLoadNeverStalls is the regression test for the key
// re-exchange deadlock between two Go ends: a client with a tiny
// RekeyThreshold holds one -R forward and, five rounds over, 128 streams of
// 1 MiB each go through its published port at once, echoed by the client. Without the fix in x/crypto's
// handshake transport (third_party/), the first round stalled for good:
// writers held channel locks waiting for the exchange, the mux waited for
// one of those locks to answer a CHANNEL_CLOSE, and the reader, blocked
// behind the mux, never read the peer's KEXINIT.
func TestRekeyUnderLoadNeverStalls(t *testing.T) {
	const streams, size = 128, 1 << 20
	g := startGateway(t, Limits{MaxChannels: 4 * streams})
	g.addUser(t, "alice")
	cfg := g.clientConfig("alice")
	cfg.RekeyThreshold = 4 << 10
	c, err := ssh.Dial("tcp", bufferedRelay(t, g.addr, 512), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ended := make(chan error, 1)
	go func() { ended <- c.Wait() }()
	defer func() { c.Close(); <-ended }()
	ln, err := c.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go echo(ln)

	for round := range 5 {
		errs := make(chan error, streams)
		var wg sync.WaitGroup
		for i := range streams {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- sha256Echo(ln.Addr().String(), i, size)
			}()
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(stallBound):
			buf := make([]byte, 8<<20)
			n := runtime.Stack(buf, true)
			t.Fatalf("round %d: tube stalled: %d streams of %d bytes did not finish in %v; goroutines:\n%s",
				round, streams, size, stallBound, buf[:n])
		}
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("round %d: %v", round, err)
			}
		}
		select {
		case err := <-ended:
			ended <- err
			t.Errorf("round %d: the client's connection ended: %v", round, err)
		default:
		}
		if t.Failed() {
			return
		}
	}
}

// sha256Echo sends size pseudo-random bytes through an echo at addr,
// closes its write side and checks that the same bytes come back.
func sha256Echo(addr string, seed, size int) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	data := bytes.Repeat([]byte(fmt.Sprintf("stream %d;", seed)), size/8)[:size]
	want := sha256.Sum256(data)
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		c.(*net.TCPConn).CloseWrite()
		werr <- err
	}()
	h := sha256.New()
	n, err := io.Copy(h, c)
	if err != nil {
		return fmt.Errorf("stream %d: read after %d bytes: %w", seed, n, err)
	}
	if err := <-werr; err != nil {
		return fmt.Errorf("stream %d: write: %w", seed, err)
	}
	if n != int64(size) || !bytes.Equal(h.Sum(nil), want[:]) {
		return fmt.Errorf("stream %d: got %d bytes, sha256 %x; want %d bytes, %x", seed, n, h.Sum(nil), size, want)
	}
	return nil
}

// bufferedRelay relays each connection to addr through queues of up to
// depth 32 KiB chunks in each direction, like the buffers of a WebSocket
// carrier and a second process: much data is in flight between the ends,
// so a kexInit arrives behind it. It returns the relay's address.
func bufferedRelay(t *testing.T, addr string, depth int) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	pump := func(dst, src net.Conn) {
		q := make(chan []byte, depth)
		go func() {
			defer dst.Close()
			for p := range q {
				if _, err := dst.Write(p); err != nil {
					return
				}
			}
		}()
		defer close(q)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				q <- buf[:n]
			}
			if err != nil {
				return
			}
		}
	}
	go func() {
		for {
			a, err := ln.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", addr)
			if err != nil {
				a.Close()
				continue
			}
			go pump(a, b)
			go pump(b, a)
		}
	}()
	return ln.Addr().String()
}
