package listenset

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tubegate/tubegate/internal/idlepoll"
)

// echoServer serves listeners of a set: each connection gets its first
// byte back.
type echoServer struct {
	t      *testing.T
	served atomic.Int64
	mu     sync.Mutex
	failed []error
}

func (e *echoServer) serve(l *Listener) {
	l.Serve(l.Accept, func(c net.Conn) {
		e.served.Add(1)
		go func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			b := make([]byte, 1)
			if _, err := io.ReadFull(c, b); err == nil {
				c.Write(b)
			}
		}()
	}, func(err error) {
		e.mu.Lock()
		e.failed = append(e.failed, err)
		e.mu.Unlock()
	})
}

func listen(t *testing.T, s *Set) *Listener {
	t.Helper()
	raw, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	l := s.Add(raw)
	t.Cleanup(func() { l.Close() })
	return l
}

// roundTrip connects to l and checks that a byte comes back.
func roundTrip(t *testing.T, l *Listener) {
	t.Helper()
	c, err := net.DialTimeout("tcp", l.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte{'x'}); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("through %s: %v", l.Addr(), err)
	}
}

// accepting counts the goroutines serving listeners (bursts, and the
// plain loops of listeners outside a poller).
func accepting() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "listenset.(*Listener).run(")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// waitAccepting waits for the goroutines serving listeners to come down
// to want.
func waitAccepting(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for accepting() > want {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines serve listeners, want %d", accepting(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// newSet makes a set for t, once the listeners of earlier tests have gone.
func newSet(t *testing.T, linger time.Duration) *Set {
	waitAccepting(t, 0)
	return New(newPoller(t), linger)
}

func newPoller(t *testing.T) *idlepoll.Poller {
	p, err := idlepoll.New(slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// TestIdleListenersHoldNoGoroutine is the point of the package: a hundred
// idle listeners cost no goroutine, each serves a connection in a burst
// of its own, and goes back to costing none.
func TestIdleListenersHoldNoGoroutine(t *testing.T) {
	s := newSet(t, 20*time.Millisecond)
	e := &echoServer{t: t}
	var ls []*Listener
	for range 100 {
		l := listen(t, s)
		e.serve(l)
		ls = append(ls, l)
	}
	if n := accepting(); n != 0 {
		t.Fatalf("100 idle listeners hold %d goroutines, want none", n)
	}
	for round := range 2 {
		for _, l := range ls {
			roundTrip(t, l)
		}
		waitAccepting(t, 0)
		if got, want := e.served.Load(), int64(100*(round+1)); got != want {
			t.Fatalf("served %d connections, want %d", got, want)
		}
	}
	if s.poll.Watched() != 100 {
		t.Errorf("the set watches %d listeners, want 100", s.poll.Watched())
	}
}

// TestBurstThenIdleLosesNothing hands a listener back and forth between
// the set and its burst goroutine as fast as a 1 ms linger allows, with
// connections arriving around each hand-over: every one is served.
func TestBurstThenIdleLosesNothing(t *testing.T) {
	s := newSet(t, time.Millisecond)
	e := &echoServer{t: t}
	l := listen(t, s)
	e.serve(l)
	const n = 300
	var wg sync.WaitGroup
	for i := range n {
		if i%3 == 0 {
			time.Sleep(time.Duration(i%7) * 300 * time.Microsecond)
		}
		wg.Add(1)
		go func() { defer wg.Done(); roundTrip(t, l) }()
		if i%50 == 0 {
			wg.Wait()
		}
	}
	wg.Wait()
	if got := e.served.Load(); got != n {
		t.Fatalf("served %d connections, want %d", got, n)
	}
}

// TestCloseIdleAndBusy closes one listener idle in the set and one in a
// burst: both leave the set, neither reports a failure, and their ports
// refuse.
func TestCloseIdleAndBusy(t *testing.T) {
	s := newSet(t, time.Hour) // a burst lasts until the close
	e := &echoServer{t: t}
	idle, busy := listen(t, s), listen(t, s)
	e.serve(idle)
	e.serve(busy)
	roundTrip(t, busy)
	if n := accepting(); n != 1 {
		t.Fatalf("%d goroutines serve the listeners, want the busy one's", n)
	}
	for _, l := range []*Listener{idle, busy} {
		addr := l.Addr().String()
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts after Close", addr)
		}
	}
	waitAccepting(t, 0) // the busy one's burst ended
	if s.poll.Watched() != 0 {
		t.Errorf("the set still watches %d listeners", s.poll.Watched())
	}
	if len(e.failed) != 0 {
		t.Errorf("closing reported failures: %v", e.failed)
	}
}

// TestFailureEndsListener: an accept error that is not a deadline's or a
// close's is reported once, and the listener is no longer served.
func TestFailureEndsListener(t *testing.T) {
	s := newSet(t, time.Hour)
	l := listen(t, s)
	gone := errors.New("listener is gone")
	failed := make(chan error, 2)
	l.Serve(func() (net.Conn, error) {
		c, err := l.Accept()
		if err == nil {
			c.Close()
			return nil, gone
		}
		return nil, err
	}, func(net.Conn) { t.Error("handled a connection") }, func(err error) { failed <- err })
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := <-failed; !errors.Is(err, gone) {
		t.Fatalf("failed(%v), want %v", err, gone)
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.poll.Watched() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("a failed listener stays in the set")
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case err := <-failed:
		t.Fatalf("failure reported twice (%v)", err)
	case <-time.After(50 * time.Millisecond):
	}
}

// TestPollerClosedUnderIdleListeners: listeners idle in a poller that
// stops are woken and go on with a goroutine each.
func TestPollerClosedUnderIdleListeners(t *testing.T) {
	waitAccepting(t, 0)
	poll := newPoller(t)
	s := New(poll, 5*time.Millisecond)
	e := &echoServer{t: t}
	l := listen(t, s)
	e.serve(l)
	roundTrip(t, l)
	waitAccepting(t, 0)
	poll.Close()
	waitAccepting(t, 1) // woken: a burst, then its own goroutine
	time.Sleep(20 * time.Millisecond)
	if n := accepting(); n != 1 {
		t.Fatalf("%d goroutines serve the listener, want 1", n)
	}
	roundTrip(t, l)
}

// TestNilSetAndClosedSet serve with a goroutine per listener.
func TestNilSetAndClosedSet(t *testing.T) {
	stopped := newPoller(t)
	stopped.Close()
	for name, s := range map[string]*Set{"nil": nil, "no poller": New(nil, 0), "poller closed": New(stopped, 0)} {
		t.Run(name, func(t *testing.T) {
			waitAccepting(t, 0)
			e := &echoServer{t: t}
			l := listen(t, s)
			e.serve(l)
			roundTrip(t, l)
			if n := accepting(); n != 1 {
				t.Errorf("%d goroutines serve one listener, want 1", n)
			}
			l.Close()
			waitAccepting(t, 0)
		})
	}
}

// TestManyListenersMuchTraffic: several listeners busy at once, each with
// its own burst, while others come and go.
func TestManyListenersMuchTraffic(t *testing.T) {
	s := newSet(t, 5*time.Millisecond)
	e := &echoServer{t: t}
	var wg sync.WaitGroup
	for i := range 8 {
		l := listen(t, s)
		e.serve(l)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 40 {
				roundTrip(t, l)
				if j%10 == 0 {
					time.Sleep(10 * time.Millisecond) // past the linger
				}
			}
			if i%2 == 0 {
				l.Close()
			}
		}()
	}
	wg.Wait()
	if got := e.served.Load(); got != 8*40 {
		t.Fatalf("served %d connections, want %d", got, 8*40)
	}
	if s.poll.Watched() != 4 {
		t.Errorf("the set watches %d listeners, want the 4 still open", s.poll.Watched())
	}
}

func ExampleSet() {
	poll, err := idlepoll.New(nil)
	if err != nil {
		panic(err)
	}
	defer poll.Close()
	s := New(poll, 0)
	raw, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		panic(err)
	}
	l := s.Add(raw)
	defer l.Close()
	done := make(chan struct{})
	l.Serve(l.Accept, func(c net.Conn) { c.Close(); close(done) }, func(err error) {})
	c, _ := net.Dial("tcp", l.Addr().String())
	defer c.Close()
	<-done
	fmt.Println("served")
	// Output: served
}
