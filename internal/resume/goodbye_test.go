package resume

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// goodbyeTransport is a Transport that behaves as a WebSocket does when
// the peer's close frame arrives: once its reader has taken the close
// frame, sends fail (the WebSocket answers the close and closes), but the
// reader returns the close frame only later. Here "later" is when the
// test says so (release), so the race is played in a fixed order.
type goodbyeTransport struct {
	welcome []byte

	mu        sync.Mutex
	greeted   bool
	closing   bool          // the close frame is taken: sends fail
	goodbye   chan struct{} // closed: the peer's close frame has arrived
	taken     chan struct{} // closed by the reader once it took the close frame
	release   chan struct{} // closed: the reader returns the close frame
	sendFails chan struct{} // closed when a send has failed
	failOnce  sync.Once
	code      int
}

func newGoodbyeTransport(code int) *goodbyeTransport {
	return &goodbyeTransport{
		welcome:   welcome{window: time.Minute, heartbeat: DefaultHeartbeat}.encode(),
		goodbye:   make(chan struct{}),
		taken:     make(chan struct{}),
		release:   make(chan struct{}),
		sendFails: make(chan struct{}),
		code:      code,
	}
}

func (t *goodbyeTransport) ReadMessage(ctx context.Context) ([]byte, error) {
	t.mu.Lock()
	if !t.greeted {
		t.greeted = true
		t.mu.Unlock()
		return t.welcome, nil
	}
	t.mu.Unlock()
	select {
	case <-t.goodbye:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	t.mu.Lock()
	t.closing = true
	t.mu.Unlock()
	close(t.taken)
	// The close frame is taken; the reader returns it whatever happens to
	// ctx meanwhile (as coder/websocket's reader does).
	<-t.release
	return nil, &CloseError{Code: t.code, Reason: "the gateway is shutting down"}
}

func (t *goodbyeTransport) WriteMessage(ctx context.Context, p []byte) error {
	t.mu.Lock()
	closing := t.closing
	t.mu.Unlock()
	if closing {
		t.failOnce.Do(func() { close(t.sendFails) })
		return net.ErrClosed
	}
	return nil
}

func (t *goodbyeTransport) Close(code int, reason string) error { return nil }

// stateLog collects a Conn's states.
type stateLog struct {
	mu     sync.Mutex
	states []State
}

func (l *stateLog) add(s State) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.states = append(l.states, s)
}

// after returns the first state after Connected, if any.
func (l *stateLog) after() (State, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.states {
		if s.Kind != Connected {
			return s, true
		}
	}
	return State{}, false
}

// dialGoodbye dials a Conn on tr; its redials fail.
func dialGoodbye(t *testing.T, tr Transport, log *stateLog) *Conn {
	t.Helper()
	dials := 0
	dial := func(ctx context.Context) (Transport, error) {
		dials++
		if dials == 1 {
			return tr, nil
		}
		return nil, errors.New("connection refused (the gateway is gone)")
	}
	c, err := Dial(context.Background(), dial, Options{OnState: log.add})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestGoodbyeWinsOverRacingSendError: the peer's close frame reached the
// reader, and a send failed on the closing transport before the reader
// returned the close frame. The stream must end with the peer's goodbye,
// not take the send error for a drop and resume.
func TestGoodbyeWinsOverRacingSendError(t *testing.T) {
	tr := newGoodbyeTransport(CloseRestart)
	var log stateLog
	c := dialGoodbye(t, tr, &log)

	close(tr.goodbye)
	<-tr.taken
	if _, err := c.Write([]byte("an SSH packet")); err != nil {
		t.Fatalf("write: %v", err)
	}
	select { // Write sent on this goroutine, and has returned
	case <-tr.sendFails:
	default:
		t.Fatal("the write was not sent on the closing transport")
	}
	close(tr.release)

	waitFor(t, "a state after connected", func() bool { _, ok := log.after(); return ok })
	s, _ := log.after()
	var ce *CloseError
	if s.Kind != Failed || !errors.As(s.Err, &ce) || ce.Code != CloseRestart {
		t.Fatalf("after the gateway's goodbye raced a send: state %v; want failed with the close frame (%d)", s, CloseRestart)
	}
	if _, err := c.Read(make([]byte, 1)); err == nil || !strings.Contains(err.Error(), "shutting down") {
		t.Errorf("read after the goodbye: %v; want the gateway's reason", err)
	}
}

// TestSendErrorWithoutGoodbyeResumes: a send fails and the reader sees
// no close frame (it never returns): after goodbyeWait the send error
// counts as a drop, and the Conn resumes.
func TestSendErrorWithoutGoodbyeResumes(t *testing.T) {
	tr := newGoodbyeTransport(CloseRestart)
	var log stateLog
	c := dialGoodbye(t, tr, &log)
	c.e.mu.Lock()
	c.e.goodbyeWait = 10 * time.Millisecond
	c.e.mu.Unlock()

	tr.mu.Lock()
	tr.closing = true // sends fail; the reader stays blocked
	tr.mu.Unlock()
	if _, err := c.Write([]byte("an SSH packet")); err != nil {
		t.Fatalf("write: %v", err)
	}
	waitFor(t, "a state after connected", func() bool { _, ok := log.after(); return ok })
	s, _ := log.after()
	if s.Kind != Reconnecting || !errors.Is(s.Err, net.ErrClosed) {
		t.Fatalf("after a send failed with no goodbye: state %v; want reconnecting for the send error", s)
	}
	close(tr.release)
}
