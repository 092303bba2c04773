package resume

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// syncBuf is a log sink tests can read.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fixture is a Server and a dialer that reaches it over mem transports.
type fixture struct {
	t        *testing.T
	srv      *Server
	logs     *syncBuf
	sessions chan *Session
	errs     chan error
	failDial atomic.Bool
	// streaming, when set before the first dial, makes every client end
	// a Streamer (stream_test.go).
	streaming *streamStats
	// wrapServer, when set before the first dial, wraps the server's end
	// of every transport dialed (park_test.go).
	wrapServer func(*memTransport) Transport

	mu     sync.Mutex
	ends   []*memTransport // the client's end of every transport dialed
	states []State
}

func newFixture(t *testing.T, cfg ServerConfig) *fixture {
	f := &fixture{t: t, logs: &syncBuf{}, sessions: make(chan *Session, 16), errs: make(chan error, 64)}
	cfg.Log = slog.New(slog.NewTextHandler(f.logs, nil))
	f.srv = NewServer(cfg)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", f.logs)
		}
	})
	return f
}

func (f *fixture) dial(ctx context.Context) (Transport, error) {
	if f.failDial.Load() {
		return nil, errors.New("network unreachable (test)")
	}
	a, b := memPair()
	f.mu.Lock()
	f.ends = append(f.ends, a)
	f.mu.Unlock()
	var server Transport = b
	if f.wrapServer != nil {
		server = f.wrapServer(b)
	}
	go func() {
		sess, err := f.srv.Accept(context.Background(), server, "192.0.2.1", nil, nil)
		if err != nil {
			f.errs <- err
		}
		if sess != nil {
			f.sessions <- sess
		}
	}()
	if f.streaming != nil {
		return &streamMem{memTransport: a, stats: f.streaming}, nil
	}
	return a, nil
}

// last returns the client's end of the latest transport.
func (f *fixture) last() *memTransport {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ends[len(f.ends)-1]
}

func (f *fixture) opts() Options {
	return Options{Heartbeat: time.Second, OnState: func(s State) {
		f.mu.Lock()
		f.states = append(f.states, s)
		f.mu.Unlock()
	}}
}

func (f *fixture) connect(opts Options) (*Conn, *Session) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, f.dial, opts)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { c.Close() })
	select {
	case s := <-f.sessions:
		f.t.Cleanup(func() { s.Close() })
		return c, s
	case <-time.After(10 * time.Second):
		f.t.Fatal("no session")
	}
	return nil, nil
}

func (f *fixture) kinds() []StateKind {
	f.mu.Lock()
	defer f.mu.Unlock()
	var k []StateKind
	for _, s := range f.states {
		k = append(k, s.Kind)
	}
	return k
}

// waitFor polls cond for liveness only.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// pump writes n pseudo-random bytes to w in writes of random sizes and
// returns their hash.
func pump(w io.Writer, n int, seed uint64) ([32]byte, error) {
	r := rand.New(rand.NewPCG(seed, seed))
	h := sha256.New()
	buf := make([]byte, 70000)
	for n > 0 {
		k := min(n, 1+r.IntN(len(buf)))
		for i := range buf[:k] {
			buf[i] = byte(r.Uint32())
		}
		h.Write(buf[:k])
		if _, err := w.Write(buf[:k]); err != nil {
			return [32]byte{}, err
		}
		n -= k
	}
	return [32]byte(h.Sum(nil)), nil
}

func drain(r io.Reader, n int) ([32]byte, error) {
	h := sha256.New()
	_, err := io.CopyN(h, r, int64(n))
	return [32]byte(h.Sum(nil)), err
}

func TestRoundTripBothWays(t *testing.T) {
	f := newFixture(t, ServerConfig{Window: time.Minute})
	c, s := f.connect(f.opts())
	const n = 3 << 20
	type res struct {
		sum [32]byte
		err error
	}
	up, down := make(chan res, 2), make(chan res, 2)
	go func() { h, err := pump(c, n, 1); up <- res{h, err} }()
	go func() { h, err := pump(s, n, 2); down <- res{h, err} }()
	go func() { h, err := drain(s, n); up <- res{h, err} }()
	go func() { h, err := drain(c, n); down <- res{h, err} }()
	for _, ch := range []chan res{up, down} {
		a, b := <-ch, <-ch
		if a.err != nil || b.err != nil || a.sum != b.sum {
			t.Fatalf("stream differs: %v %v", a.err, b.err)
		}
	}
	waitFor(t, "all acknowledged", func() bool { return c.Unacked() == 0 && s.e.unacked() == 0 })
	c.e.mu.Lock()
	held := c.e.chunks
	c.e.mu.Unlock()
	if held != nil {
		t.Errorf("an idle stream still holds %d chunks", len(held))
	}
}

// TestDropsLoseNothing: the transport drops again and again under a bulk
// stream both ways; every byte arrives once, in order.
func TestDropsLoseNothing(t *testing.T) {
	f := newFixture(t, ServerConfig{Window: time.Minute})
	c, s := f.connect(f.opts())
	const n = 8 << 20
	type res struct {
		sum [32]byte
		err error
	}
	up, down := make(chan res, 2), make(chan res, 2)
	go func() { h, err := pump(c, n, 3); up <- res{h, err} }()
	go func() { h, err := pump(s, n, 4); down <- res{h, err} }()
	go func() { h, err := drain(s, n); up <- res{h, err} }()
	go func() { h, err := drain(c, n); down <- res{h, err} }()
	drops := 0
	for i := 0; i < 6; i++ {
		waitFor(t, "attached", c.Attached)
		time.Sleep(time.Duration(5+i*3) * time.Millisecond)
		if i%2 == 0 {
			c.Drop() // the client sees it first
		} else {
			f.last().peer.Close(0, "") // the server sees it first
		}
		drops++
	}
	for _, ch := range []chan res{up, down} {
		a, b := <-ch, <-ch
		if a.err != nil || b.err != nil || a.sum != b.sum {
			t.Fatalf("stream differs across %d drops: %v %v", drops, a.err, b.err)
		}
	}
	if k := f.kinds(); k[0] != Connected || !containsKind(k, Resumed) {
		t.Errorf("states %v, want connected then resumed ones", k)
	}
}

func containsKind(ks []StateKind, k StateKind) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

// TestBoundBlocksWriterDropsNothing: with no transport, Write keeps up
// to the bound and then waits; once a transport is back every byte goes.
func TestBoundBlocksWriterDropsNothing(t *testing.T) {
	f := newFixture(t, ServerConfig{Window: time.Minute})
	opts := f.opts()
	opts.Bound = 64 << 10
	c, s := f.connect(opts)
	f.failDial.Store(true)
	c.Drop()
	var wrote atomic.Int64
	done := make(chan error, 1)
	const n = 256 << 10
	go func() {
		buf := bytes.Repeat([]byte{'x'}, 1000)
		for i := 0; i < n/1000; i++ {
			if _, err := c.Write(buf); err != nil {
				done <- err
				return
			}
			wrote.Add(1000)
		}
		done <- nil
	}()
	// The bound counts the buffers kept (a 4 KiB chunk for each write).
	waitFor(t, "the writer to fill the bound", func() bool { return keptCapacity(c.e) > opts.Bound-smallChunkPoolCap })
	time.Sleep(50 * time.Millisecond) // a writer that ignored the bound would go on now
	if w, kept := wrote.Load(), keptCapacity(c.e); kept > opts.Bound || w > int64(opts.Bound) {
		t.Fatalf("wrote %d, keeping %d bytes of buffers: beyond the bound %d", w, kept, opts.Bound)
	}
	f.failDial.Store(false)
	got, err := io.ReadAll(io.LimitReader(s, n/1000*1000))
	if err != nil || len(got) != n/1000*1000 || bytes.Count(got, []byte{'x'}) != len(got) {
		t.Fatalf("after the outage got %d bytes, %v", len(got), err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestTokenSingleUseAndRotated: each resume gets a new token; an old one,
// a forged one and one of another tube are refused.
func TestTokenSingleUseAndRotated(t *testing.T) {
	f := newFixture(t, ServerConfig{Window: time.Minute})
	c, s := f.connect(f.opts())
	c2, s2 := f.connect(f.opts())
	c.mu.Lock()
	first := c.token
	c.mu.Unlock()
	c.Drop()
	waitFor(t, "resumed", c.Attached)
	c.mu.Lock()
	second := c.token
	c.mu.Unlock()
	if first == second {
		t.Fatal("the token was not rotated on resume")
	}
	try := func(token [TokenSize]byte) error {
		a, b := memPair()
		go f.srv.Accept(context.Background(), b, "192.0.2.9", nil, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := handshake(ctx, a, hello{resume: true, token: token, heartbeat: time.Second})
		return err
	}
	var forged [TokenSize]byte
	forged[0] = 1
	for name, tok := range map[string][TokenSize]byte{"used": first, "forged": forged} {
		var ce *CloseError
		if err := try(tok); !errors.As(err, &ce) || ce.Code != CloseRefused {
			t.Errorf("%s token: %v, want close %d", name, err, CloseRefused)
		}
	}
	// The live token of tube 2 resumes tube 2, not tube 1.
	c2.mu.Lock()
	tok2 := c2.token
	c2.mu.Unlock()
	c2.Drop()
	waitFor(t, "tube 2 resumed", c2.Attached)
	c2.Write([]byte("two"))
	buf := make([]byte, 3)
	if _, err := io.ReadFull(s2, buf); err != nil || string(buf) != "two" {
		t.Fatalf("tube 2: %q %v", buf, err)
	}
	if err := try(tok2); err == nil {
		t.Error("tube 2's used token resumed something")
	}
	c.Write([]byte("one"))
	if _, err := io.ReadFull(s, buf); err != nil || string(buf) != "one" {
		t.Fatalf("tube 1: %q %v", buf, err)
	}
	if !strings.Contains(f.logs.String(), "resume refused") {
		t.Error("no log line for the refused resumes")
	}
}

// TestBadFrameClosesTube: a malformed frame ends that tube with a reason
// in the log and a close 4400; the server carries on.
func TestBadFrameClosesTube(t *testing.T) {
	f := newFixture(t, ServerConfig{Window: time.Minute})
	for _, bad := range [][]byte{{0x7f, 1, 2}, {frameData, 0, 0}, {frameAck, 1}, append([]byte{frameData}, make([]byte, 30)...)} {
		a, b := memPair()
		got := make(chan *Session, 1)
		go func() { s, _ := f.srv.Accept(context.Background(), b, "192.0.2.2", nil, nil); got <- s }()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if _, err := handshake(ctx, a, hello{heartbeat: time.Second}); err != nil {
			t.Fatal(err)
		}
		s := <-got
		if bad[0] == frameData && len(bad) > dataHeader {
			bad[1] = 9 // an offset after a gap
		}
		a.WriteMessage(ctx, bad)
		_, err := a.ReadMessage(ctx)
		cancel()
		var ce *CloseError
		if !errors.As(err, &ce) || ce.Code != CloseBadFrame {
			t.Errorf("frame % x: client saw %v, want close %d", bad[:3], err, CloseBadFrame)
		}
		if _, err := s.Read(make([]byte, 1)); !errors.Is(err, ErrBadFrame) {
			t.Errorf("frame % x: the session read %v, want a bad frame error", bad[:3], err)
		}
	}
	// The stream's end is seen by its reader first, and the server forgets
	// the token just after (onEnd runs once the stream has ended).
	left := -1
	for end := time.Now().Add(5 * time.Second); left != 0 && time.Now().Before(end); time.Sleep(time.Millisecond) {
		f.srv.mu.Lock()
		left = len(f.srv.byToken)
		f.srv.mu.Unlock()
	}
	if left != 0 {
		t.Errorf("%d tokens of tubes ended by bad frames are still known", left)
	}
	c, s := f.connect(f.opts())
	c.Write([]byte("still serving"))
	buf := make([]byte, 13)
	if _, err := io.ReadFull(s, buf); err != nil {
		t.Fatal(err)
	}
}

// TestWindowPassedEndsTube: a tube not resumed in time ends on both sides.
func TestWindowPassedEndsTube(t *testing.T) {
	f := newFixture(t, ServerConfig{Window: 300 * time.Millisecond})
	c, s := f.connect(f.opts())
	f.failDial.Store(true)
	c.Drop()
	if _, err := s.Read(make([]byte, 1)); !errors.Is(err, ErrWindowPassed) {
		t.Errorf("session read %v, want %v", err, ErrWindowPassed)
	}
	_, err := c.Read(make([]byte, 1))
	if err == nil || !strings.Contains(err.Error(), "window") {
		t.Errorf("client read %v, want a window error", err)
	}
	waitFor(t, "the ended tube counted out of the detached ones", func() bool { return f.srv.Detached() == 0 })
}

// TestWindowZeroEndsOnDrop: resumption off ends the tube on a drop, and
// WELCOME says so.
func TestWindowZeroEndsOnDrop(t *testing.T) {
	f := newFixture(t, ServerConfig{})
	c, s := f.connect(f.opts())
	if c.window != 0 {
		t.Fatalf("WELCOME window %v, want 0", c.window)
	}
	c.Drop()
	if _, err := s.Read(make([]byte, 1)); err == nil {
		t.Error("session lives on after a drop with resumption off")
	}
	if _, err := c.Read(make([]byte, 1)); err == nil || !strings.Contains(err.Error(), "window 0") {
		t.Errorf("client read %v", err)
	}
}

// TestBlackHoleDetected: a transport that brings nothing is taken for
// dead after the timeout and replaced; nothing is lost.
func TestBlackHoleDetected(t *testing.T) {
	f := newFixture(t, ServerConfig{Window: time.Minute})
	c, s := f.connect(f.opts())
	first := f.last()
	first.setBlackHole()
	c.Write([]byte("across the black hole"))
	buf := make([]byte, 21)
	if _, err := io.ReadFull(s, buf); err != nil || string(buf) != "across the black hole" {
		t.Fatalf("%q %v", buf, err)
	}
	if f.last() == first {
		t.Fatal("no new transport")
	}
}

// TestCloseEndsPeer: a Close on either side is an end, not a drop.
func TestCloseEndsPeer(t *testing.T) {
	f := newFixture(t, ServerConfig{Window: time.Minute})
	c, s := f.connect(f.opts())
	c.Write([]byte("bye"))
	c.Close()
	got, err := io.ReadAll(s)
	if err != nil || string(got) != "bye" {
		t.Errorf("server read %q, %v; want bye then EOF", got, err)
	}
	c2, s2 := f.connect(f.opts())
	s2.Close()
	if _, err := io.ReadAll(c2); err != nil {
		t.Errorf("client read %v, want EOF", err)
	}
}

func TestDeadlines(t *testing.T) {
	f := newFixture(t, ServerConfig{Window: time.Minute})
	c, _ := f.connect(f.opts())
	c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, errDeadline) {
		t.Errorf("read past deadline: %v", err)
	}
}
