package faultproxy

import (
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// echo serves an echo on loopback until the test ends.
func echo(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	return ln.Addr().String()
}

func start(t *testing.T) *Proxy {
	t.Helper()
	p, err := New("127.0.0.1:0", echo(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func dial(t *testing.T, p *Proxy) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip sends msg and reads it back, within wait.
func roundTrip(c net.Conn, msg string, wait time.Duration) error {
	c.SetDeadline(time.Now().Add(wait))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write([]byte(msg)); err != nil {
		return err
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	if string(buf) != msg {
		return errors.New("echo differs")
	}
	return nil
}

func TestForwards(t *testing.T) {
	p := start(t)
	c := dial(t, p)
	if err := roundTrip(c, "hello", 10*time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestResetSendsRST(t *testing.T) {
	p := start(t)
	c := dial(t, p)
	if err := roundTrip(c, "hello", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if n := p.Reset(); n != 1 {
		t.Fatalf("reset %d connections, want 1", n)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := c.Read(make([]byte, 1))
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read after reset: %v, want ECONNRESET", err)
	}
	if err := roundTrip(dial(t, p), "again", 10*time.Second); err != nil {
		t.Fatalf("a new connection after a reset: %v", err)
	}
}

func TestBlackHoleKeepsConnectionOpenAndSilent(t *testing.T) {
	p := start(t)
	c := dial(t, p)
	if err := roundTrip(c, "hello", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	p.BlackHole()
	err := roundTrip(c, "lost", 200*time.Millisecond)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("through a black hole: %v, want a timeout (no data, no close)", err)
	}
	if err := roundTrip(dial(t, p), "new", 10*time.Second); err != nil {
		t.Fatalf("a new connection after BlackHole: %v", err)
	}
}

func TestBlackHoleForHolesNewConnectionsThenRecovers(t *testing.T) {
	p := start(t)
	p.BlackHoleFor(time.Hour)
	err := roundTrip(dial(t, p), "lost", 200*time.Millisecond)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("a new connection during the outage: %v, want a timeout", err)
	}
	p.BlackHoleFor(0) // the network is back
	if err := roundTrip(dial(t, p), "back", 10*time.Second); err != nil {
		t.Fatalf("after the outage: %v", err)
	}
}

func TestLatencyDelays(t *testing.T) {
	p := start(t)
	c := dial(t, p)
	p.SetLatency(50 * time.Millisecond)
	start := time.Now()
	if err := roundTrip(c, "slow", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	// A lower bound, which a sleep guarantees: 50 ms each way.
	if rtt := time.Since(start); rtt < 100*time.Millisecond {
		t.Fatalf("round trip took %v with 50 ms each way", rtt)
	}
}
