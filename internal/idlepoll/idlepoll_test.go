package idlepoll

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"
)

// pair returns the two ends of a loopback TCP connection.
func pair(t *testing.T) (a, b *net.TCPConn) {
	t.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan *net.TCPConn, 1)
	go func() {
		c, _ := ln.AcceptTCP()
		done <- c
	}()
	a, err = net.DialTCP("tcp", nil, ln.Addr().(*net.TCPAddr))
	if err != nil {
		t.Fatal(err)
	}
	b = <-done
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

func newPoller(t *testing.T) *Poller {
	p, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func rawConn(t *testing.T, c syscall.Conn) syscall.RawConn {
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

// woken returns a wake function and the channel it reports on.
func woken() (func(), chan struct{}) {
	ch := make(chan struct{}, 10)
	return func() { ch <- struct{}{} }, ch
}

func expectWake(t *testing.T, ch chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no wake-up", what)
	}
}

func expectNoWake(t *testing.T, ch chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
		t.Fatalf("%s: woken", what)
	case <-time.After(50 * time.Millisecond):
	}
}

// TestWakeOncePerArm: an armed socket wakes once when its peer writes, not
// again until armed again; armed while readable, it wakes at once.
func TestWakeOncePerArm(t *testing.T) {
	p := newPoller(t)
	a, b := pair(t)
	wake, ch := woken()
	w := p.Watch(rawConn(t, b), wake)
	if err := w.Arm(); err != nil {
		t.Fatal(err)
	}
	expectNoWake(t, ch, "idle socket")
	a.Write([]byte("x"))
	expectWake(t, ch, "after a write")
	a.Write([]byte("y"))
	expectNoWake(t, ch, "not armed again")
	if err := w.Arm(); err != nil {
		t.Fatal(err)
	}
	expectWake(t, ch, "armed while readable")
	buf := make([]byte, 2)
	if n, err := b.Read(buf); n != 2 || err != nil {
		t.Fatalf("read %d, %v", n, err)
	}
	if err := w.Arm(); err != nil {
		t.Fatal(err)
	}
	expectNoWake(t, ch, "read out")
	a.Close()
	expectWake(t, ch, "peer closed")
	if p.Watched() != 1 {
		t.Errorf("Watched = %d, want 1", p.Watched())
	}
	if w.Stop() {
		t.Error("Stop after the wake-up reports it armed")
	}
	if p.Watched() != 0 {
		t.Errorf("Watched after Stop = %d, want 0", p.Watched())
	}
}

// TestStopDisarms: a socket stopped while armed does not wake, and its
// descriptor, once closed and taken by another socket, is that socket's.
func TestStopDisarms(t *testing.T) {
	p := newPoller(t)
	a, b := pair(t)
	wake, ch := woken()
	w := p.Watch(rawConn(t, b), wake)
	if err := w.Arm(); err != nil {
		t.Fatal(err)
	}
	if !w.Stop() {
		t.Error("Stop of an armed socket reports it was not")
	}
	a.Write([]byte("x"))
	expectNoWake(t, ch, "stopped")
	b.Close()
	if err := w.Arm(); err == nil {
		t.Error("Arm of a closed socket succeeded")
	}
	if p.Watched() != 0 {
		t.Errorf("Watched = %d, want 0", p.Watched())
	}
}

// TestCloseWakesArmed: closing the poller wakes what is armed in it, and
// Arm fails from then on.
func TestCloseWakesArmed(t *testing.T) {
	p := newPoller(t)
	_, b := pair(t)
	_, d := pair(t)
	wake, ch := woken()
	if err := p.Watch(rawConn(t, b), wake).Arm(); err != nil {
		t.Fatal(err)
	}
	w2 := p.Watch(rawConn(t, d), wake)
	if err := w2.Arm(); err != nil {
		t.Fatal(err)
	}
	w2.Stop()
	p.Close()
	expectWake(t, ch, "the armed socket at Close")
	expectNoWake(t, ch, "the stopped one")
	if err := p.Watch(rawConn(t, d), wake).Arm(); !errors.Is(err, ErrStopped) {
		t.Errorf("Arm after Close = %v, want ErrStopped", err)
	}
}

// TestManySockets: a thousand sockets wait in one poller and each wakes
// for its own write.
func TestManySockets(t *testing.T) {
	p := newPoller(t)
	const n = 1000
	type end struct {
		a  *net.TCPConn
		ch chan struct{}
	}
	ends := make([]end, n)
	for i := range ends {
		a, b := pair(t)
		wake, ch := woken()
		if err := p.Watch(rawConn(t, b), wake).Arm(); err != nil {
			t.Fatal(err)
		}
		ends[i] = end{a, ch}
	}
	for i := n - 1; i >= 0; i -= 3 {
		ends[i].a.Write([]byte("x"))
	}
	for i, e := range ends {
		if (n-1-i)%3 == 0 {
			expectWake(t, e.ch, "written")
		}
	}
	for i, e := range ends {
		if (n-1-i)%3 != 0 && len(e.ch) != 0 {
			t.Fatalf("socket %d woke with nothing written", i)
		}
	}
}

type passThrough struct{ net.Conn }

func (p passThrough) ReadThrough() net.Conn { return p.Conn }

type buffering struct{ net.Conn }

func TestSocket(t *testing.T) {
	_, b := pair(t)
	if s := Socket(passThrough{passThrough{b}}); s != syscall.Conn(b) {
		t.Errorf("Socket(pass-through wrappers) = %v, want the TCP socket", s)
	}
	if s := Socket(passThrough{buffering{b}}); s != nil {
		t.Errorf("Socket(under a buffering wrapper) = %v, want nil", s)
	}
	if s := Socket(passThrough{nil}); s != nil {
		t.Errorf("Socket(a wrapper not passing through yet) = %v, want nil", s)
	}
}
