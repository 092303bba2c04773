package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// startEcho runs a TCP echo service on a loopback port for the test's lifetime and returns its port.
func startEcho(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("echo service: %v", err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]struct{}{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = struct{}{}
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = io.Copy(c, c)
				c.Close()
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return l.Addr().(*net.TCPAddr).Port
}

// echoRoundTrip connects to addr, which must lead to an echo service, writes n random bytes while
// reading n bytes back, and compares the sha256 of both directions. It does not rely on half-close.
func echoRoundTrip(addr string, n int64, timeout time.Duration) error {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return fmt.Errorf("dial %s: %w", addr, err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		return fmt.Errorf("set deadline: %w", err)
	}
	sent := sha256.New()
	writeErr := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.MultiWriter(c, sent), io.LimitReader(rand.Reader, n))
		writeErr <- err
	}()
	recv := sha256.New()
	got, rerr := io.CopyN(recv, c, n)
	if rerr != nil {
		c.Close() // unblock the writer
		<-writeErr
		return fmt.Errorf("read back %d of %d bytes from %s: %w", got, n, addr, rerr)
	}
	if err := <-writeErr; err != nil {
		return fmt.Errorf("write %d bytes to %s: %w", n, addr, err)
	}
	if s, r := sent.Sum(nil), recv.Sum(nil); !bytes.Equal(s, r) {
		return fmt.Errorf("%d bytes through %s: sha256 sent %x, received %x", n, addr, s, r)
	}
	return nil
}

// requireEcho requires a small round trip through addr.
func requireEcho(t *testing.T, addr string) {
	t.Helper()
	if err := echoRoundTrip(addr, 4096, 20*time.Second); err != nil {
		t.Fatalf("echo through %s: %v", addr, err)
	}
}

// requireClosedByPeer requires that the peer closes c (a read returns EOF or a reset) within
// timeout, discarding whatever it sends first.
func requireClosedByPeer(t *testing.T, c net.Conn, timeout time.Duration, what string) {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		t.Fatalf("set deadline: %v", err)
	}
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("%s: the gateway did not close the connection within %v", what, timeout)
	}
	// err == nil is EOF; any other error (a reset) also means the gateway closed it.
}
