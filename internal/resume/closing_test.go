package resume

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// TestCloseWhileAwayKeepsTheTail: a tube the gateway closes while its
// client is away, with bytes the client has not received, is not lost:
// the client comes back, gets every byte, then the end (close 1000).
// The gateway's own reads and writes fail at once.
func TestCloseWhileAwayKeepsTheTail(t *testing.T) {
	f := newFixture(t, ServerConfig{Window: time.Minute})
	c, s := f.connect(f.opts())
	f.failDial.Store(true)
	c.Drop()
	waitFor(t, "the tube to be detached", func() bool { return s.Detached() })
	tail := bytes.Repeat([]byte("tail"), 10000)
	if _, err := s.Write(tail); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := s.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Write after Close = %v, want net.ErrClosed", err)
	}
	if _, err := s.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Read after Close = %v, want net.ErrClosed", err)
	}
	f.failDial.Store(false)
	got, err := io.ReadAll(c)
	if err != nil || !bytes.Equal(got, tail) {
		t.Fatalf("the client came back for %d bytes (%v), want the %d of the tail and an end", len(got), err, len(tail))
	}
}

// TestCloseWhileAwayEndsAtTheWindow: a client that does not come back
// for the tail does not hold the tube past the resume window.
func TestCloseWhileAwayEndsAtTheWindow(t *testing.T) {
	f := newFixture(t, ServerConfig{Window: 300 * time.Millisecond})
	c, s := f.connect(f.opts())
	f.failDial.Store(true)
	c.Drop()
	waitFor(t, "the tube to be detached", func() bool { return s.Detached() })
	if _, err := s.Write([]byte("never read")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	select {
	case <-s.e.done:
	case <-time.After(10 * time.Second):
		t.Fatal("a closed tube whose client stayed away outlived the resume window")
	}
}

// TestCloseWithNothingPendingEndsAtOnce: with every byte acknowledged,
// Close ends the tube at once, and the client reads the end.
func TestCloseWithNothingPendingEndsAtOnce(t *testing.T) {
	f := newFixture(t, ServerConfig{Window: time.Minute})
	c, s := f.connect(f.opts())
	s.Close()
	select {
	case <-s.e.done:
	case <-time.After(time.Second):
		t.Fatal("Close with nothing unacknowledged did not end the tube at once")
	}
	if _, err := io.ReadAll(c); err != nil {
		t.Fatalf("the client's read after the gateway's close: %v, want the end", err)
	}
}
