package acceptloop

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// flakyListener fails its first n accepts with err, then accepts.
type flakyListener struct {
	net.Listener
	mu  sync.Mutex
	n   int
	err error
}

func (l *flakyListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if l.n > 0 {
		l.n--
		l.mu.Unlock()
		return nil, l.err
	}
	l.mu.Unlock()
	return l.Listener.Accept()
}

func TestAcceptRidesOutEMFILE(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	counts := map[string]int{}
	var mu sync.Mutex
	ln := Wrap(&flakyListener{Listener: raw, n: 6, err: fmt.Errorf("accept: %w", syscall.EMFILE)}, "ssh",
		slog.New(slog.NewTextHandler(&logs, nil)), func(kind string) { mu.Lock(); counts[kind]++; mu.Unlock() })
	defer ln.Close()
	go func() {
		if c, err := net.Dial("tcp", raw.Addr().String()); err == nil {
			defer c.Close()
		}
	}()
	c, err := ln.Accept()
	if err != nil {
		t.Fatalf("Accept returned %v; want it to ride out EMFILE", err)
	}
	c.Close()
	if counts["ssh"] != 6 {
		t.Errorf("counted %d accept errors, want 6", counts["ssh"])
	}
	if n := strings.Count(logs.String(), "accept failing"); n != 1 {
		t.Errorf("%d 'accept failing' lines for one burst, want 1:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "accept recovered") {
		t.Errorf("no 'accept recovered' line:\n%s", logs.String())
	}
	// Each line names the listener, although the attributes are only
	// added when there is something to log.
	want := "listener=ssh addr=" + raw.Addr().String()
	if n := strings.Count(logs.String(), want); n != 2 {
		t.Errorf("%d lines name the listener (%q), want 2:\n%s", n, want, logs.String())
	}
}

func TestAcceptReturnsOtherErrors(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	dead := errors.New("listener is gone")
	ln := Wrap(&flakyListener{Listener: raw, n: 1, err: dead}, "forward", nil, nil)
	if _, err := ln.Accept(); !errors.Is(err, dead) {
		t.Fatalf("Accept = %v, want %v", err, dead)
	}
}

func TestCloseEndsBackoff(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := Wrap(&flakyListener{Listener: raw, n: 1 << 30, err: syscall.ENFILE}, "http", nil, nil)
	done := make(chan error)
	go func() { _, err := ln.Accept(); done <- err }()
	ln.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close = %v, want net.ErrClosed", err)
	}
}

// A deadline set on the listener is its caller's (listenset's linger):
// Accept returns it rather than riding it out as a timeout.
func TestAcceptReturnsDeadline(t *testing.T) {
	raw, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	ln := Wrap(raw, "forward", nil, func(string) { t.Error("a deadline was counted as an accept error") })
	defer ln.Close()
	raw.SetDeadline(time.Now().Add(10 * time.Millisecond))
	done := make(chan error, 1)
	go func() { _, err := ln.Accept(); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Accept past the deadline = %v, want os.ErrDeadlineExceeded", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Accept rode out its own deadline")
	}
}
