package connlimit

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a log sink safe for the burst timer's goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serve accepts on l until it closes, handing each connection to conns.
func serve(l net.Listener) <-chan net.Conn {
	conns := make(chan net.Conn, 64)
	go func() {
		defer close(conns)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns <- c
		}
	}()
	return conns
}

// dialFrom connects to addr from the loopback address src.
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedByServer reports whether the server end of c was closed (a read
// ends at once) rather than kept open (a written byte is echoed back).
func closedByServer(t *testing.T, c net.Conn) bool {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second)) // liveness bound
	if _, err := c.Write([]byte("x")); err != nil {
		return true
	}
	_, err := c.Read(make([]byte, 1))
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("neither closed nor served within 10s")
	}
	return err != nil
}

// echo serves each accepted connection with an echo until it ends.
func echo(conns <-chan net.Conn) {
	go func() {
		for c := range conns {
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
}

func TestPerSourceAndTotal(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	l := Wrap(raw, Config{PerSource: 3, Total: 5, Quiet: 50 * time.Millisecond, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	defer l.Close()
	echo(serve(l))
	addr := raw.Addr().String()

	var first []net.Conn
	for i := 0; i < 5; i++ {
		first = append(first, dialFrom(t, "127.0.0.1", addr))
	}
	closed := 0
	for _, c := range first {
		if closedByServer(t, c) {
			closed++
		}
	}
	if closed != 2 || l.Refused(ReasonPerSource) != 2 {
		t.Fatalf("5 from one source with a cap of 3: %d closed, %d counted; want 2", closed, l.Refused(ReasonPerSource))
	}
	// Another source has its own count, up to the total of 5.
	b1, b2, b3 := dialFrom(t, "127.0.0.2", addr), dialFrom(t, "127.0.0.2", addr), dialFrom(t, "127.0.0.3", addr)
	if closedByServer(t, b1) || closedByServer(t, b2) {
		t.Fatal("a second source was refused under both caps")
	}
	if !closedByServer(t, b3) || l.Refused(ReasonTotal) != 1 {
		t.Fatalf("the 6th connection in all was not refused (total refused %d)", l.Refused(ReasonTotal))
	}
	if got := l.Open(); got != 5 {
		t.Fatalf("Open() = %d, want 5", got)
	}
	// Closing gives the slots back.
	for _, c := range first {
		c.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for l.Open() != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("slots not given back: Open() = %d, want 2", l.Open())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if closedByServer(t, dialFrom(t, "127.0.0.1", addr)) {
		t.Fatal("refused after the source's connections closed")
	}
	// One line for the first refusal, one summing up the rest of the burst.
	for !strings.Contains(logs.String(), "in that burst") {
		if time.Now().After(deadline) {
			t.Fatalf("no burst summary logged:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := strings.Count(logs.String(), "connection refused: too many open connections"); n != 1 {
		t.Errorf("%d first-refusal lines for one burst, want 1:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "per_source=1 total=1") {
		t.Errorf("burst summary does not count the other refusals:\n%s", logs.String())
	}
}

func TestExempt(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	proxy := netip.MustParseAddr("127.0.0.1")
	l := Wrap(raw, Config{PerSource: 1, Exempt: func(a netip.Addr) bool { return a == proxy }})
	defer l.Close()
	echo(serve(l))
	for i := 0; i < 4; i++ {
		if closedByServer(t, dialFrom(t, "127.0.0.1", raw.Addr().String())) {
			t.Fatalf("connection %d from an exempt source refused", i+1)
		}
	}
	dialFrom(t, "127.0.0.2", raw.Addr().String())
	if !closedByServer(t, dialFrom(t, "127.0.0.2", raw.Addr().String())) {
		t.Fatal("a source that is not exempt went past its cap")
	}
}

func TestCloseOnce(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := Wrap(raw, Config{PerSource: 1})
	conns := serve(l)
	c := dialFrom(t, "127.0.0.1", raw.Addr().String())
	defer c.Close()
	sc := <-conns
	sc.Close()
	sc.Close()
	if l.Open() != 0 {
		t.Fatalf("Open() = %d after a double close, want 0", l.Open())
	}
	l.Close()
	if _, ok := <-conns; ok {
		t.Fatal("accepted after Close")
	}
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}
}

// TestSharedLimiter: listeners wrapped by one Limiter count a source across
// all of them (a gateway's published ports), and a listener's Close leaves
// the others and the connections it accepted counted.
func TestSharedLimiter(t *testing.T) {
	lim := New(Config{PerSource: 2, Total: 3})
	var addrs []string
	var lns []*Listener
	for i := 0; i < 2; i++ {
		raw, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		l := lim.Wrap(raw)
		defer l.Close()
		echo(serve(l))
		addrs = append(addrs, raw.Addr().String())
		lns = append(lns, l)
	}
	a1, a2 := dialFrom(t, "127.0.0.1", addrs[0]), dialFrom(t, "127.0.0.1", addrs[1])
	if closedByServer(t, a1) || closedByServer(t, a2) {
		t.Fatal("refused under the per-source cap")
	}
	if !closedByServer(t, dialFrom(t, "127.0.0.1", addrs[1])) || lim.Refused(ReasonPerSource) != 1 {
		t.Fatal("a third connection from one source, on the other listener, was not refused")
	}
	if closedByServer(t, dialFrom(t, "127.0.0.2", addrs[0])) {
		t.Fatal("another source refused under both caps")
	}
	if !closedByServer(t, dialFrom(t, "127.0.0.3", addrs[1])) || lim.Refused(ReasonTotal) != 1 {
		t.Fatal("the 4th connection in all, across both listeners, was not refused")
	}
	lns[0].Close()
	if got := lim.Open(); got != 3 {
		t.Fatalf("Open() = %d after closing one listener, want 3 (its connections stay counted)", got)
	}
	a1.Close()
	deadline := time.Now().Add(5 * time.Second)
	for lim.Open() != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("slot not given back: Open() = %d", lim.Open())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if closedByServer(t, dialFrom(t, "127.0.0.1", addrs[1])) {
		t.Fatal("refused after the source's connection closed")
	}
}

// TestCloseWriteHalfCloses: an accepted connection keeps TCP's half-close,
// which forwards rely on to end a request.
func TestCloseWriteHalfCloses(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := Wrap(raw, Config{PerSource: 1})
	defer l.Close()
	conns := serve(l)
	c := dialFrom(t, "127.0.0.1", raw.Addr().String())
	sc := <-conns
	defer sc.Close()
	cw, ok := sc.(interface{ CloseWrite() error })
	if !ok {
		t.Fatal("accepted conn has no CloseWrite")
	}
	if err := cw.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("client read after CloseWrite: %v, want EOF", err)
	}
	if _, err := c.Write([]byte("y")); err != nil {
		t.Fatal(err)
	}
	sc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(sc, make([]byte, 1)); err != nil {
		t.Fatalf("the read half closed with the write half: %v", err)
	}
}
