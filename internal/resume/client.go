package resume

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Dialer opens a new transport to the gateway (a WebSocket that
// negotiated Subprotocol).
type Dialer func(ctx context.Context) (Transport, error)

// Options configure a resuming client connection. The zero value uses
// the defaults.
type Options struct {
	// Bound is how many unacknowledged bytes are kept for a resend; a
	// Write beyond it waits (DefaultBound).
	Bound int
	// Heartbeat is the idle period after which each side sends an ACK
	// (DefaultHeartbeat; the gateway keeps it within MinHeartbeat and
	// MaxHeartbeat).
	Heartbeat time.Duration
	// Timeout is how long a transport may bring nothing before it is
	// taken for dead and replaced (3 × Heartbeat).
	Timeout time.Duration
	// OnState is told of every state change, from one goroutine at a
	// time (nil: not told). It must not block.
	OnState func(State)
	// LocalAddr and RemoteAddr are what the Conn reports (nil: a
	// placeholder).
	LocalAddr, RemoteAddr net.Addr
}

// StateKind is where a resuming connection stands.
type StateKind int

// The states a Conn reports.
const (
	// Connected: the first transport is up.
	Connected StateKind = iota
	// Reconnecting: the transport dropped; the Conn redials until
	// State.Deadline, after which the gateway has ended the tube.
	Reconnecting
	// Resumed: a new transport carries the stream on, nothing lost.
	Resumed
	// Failed: the stream is over; State.Err says why. Read and Write
	// return that error.
	Failed
)

func (k StateKind) String() string {
	switch k {
	case Connected:
		return "connected"
	case Reconnecting:
		return "reconnecting"
	case Resumed:
		return "resumed"
	case Failed:
		return "failed"
	}
	return fmt.Sprintf("StateKind(%d)", int(k))
}

// State is one state change of a Conn.
type State struct {
	Kind StateKind
	// Deadline is when the gateway gives the tube up (Reconnecting).
	Deadline time.Time
	// Attempt counts the redials of this outage, from 1 (Reconnecting).
	Attempt int
	// Err is why the transport dropped (Reconnecting: the last failure)
	// or why the stream ended (Failed).
	Err error
}

func (s State) String() string {
	switch s.Kind {
	case Reconnecting:
		left := time.Until(s.Deadline).Round(time.Second)
		return fmt.Sprintf("reconnecting (attempt %d, %v left): %v", s.Attempt, max(left, 0), s.Err)
	case Failed:
		return fmt.Sprintf("failed: %v", s.Err)
	}
	return s.Kind.String()
}

// Backoff between redials of one outage.
const (
	retryMin = 250 * time.Millisecond
	retryMax = 5 * time.Second
)

// Conn is the client's side of a resumable tube: a net.Conn whose bytes
// survive the drop of the transport under it. While the transport is
// down Read waits and Write keeps what it is given (up to the bound).
type Conn struct {
	e      *endpoint
	dial   Dialer
	opts   Options
	local  net.Addr
	remote net.Addr

	mu     sync.Mutex // token and window, between outages
	token  [TokenSize]byte
	window time.Duration

	stateMu sync.Mutex // OnState is called by one goroutine at a time
}

var _ net.Conn = (*Conn)(nil)

// Dial opens a resumable tube: it dials a transport, says HELLO and
// waits for the WELCOME, all within ctx. The Conn then redials by itself.
func Dial(ctx context.Context, dial Dialer, opts Options) (*Conn, error) {
	heartbeat := opts.Heartbeat
	if heartbeat <= 0 {
		heartbeat = DefaultHeartbeat
	}
	heartbeat = min(max(heartbeat, MinHeartbeat), MaxHeartbeat)
	tr, err := dial(ctx)
	if err != nil {
		return nil, err
	}
	w, err := handshake(ctx, tr, hello{heartbeat: heartbeat})
	if err != nil {
		tr.Close(0, "")
		return nil, err
	}
	if w.recv != 0 {
		tr.Close(CloseBadFrame, "WELCOME of a new tube must have offset 0")
		return nil, badFrame("WELCOME of a new tube with offset %d", w.recv)
	}
	c := &Conn{
		e:      newEndpoint(opts.Bound, heartbeat, opts.Timeout),
		dial:   dial,
		opts:   opts,
		local:  opts.LocalAddr,
		remote: opts.RemoteAddr,
		token:  w.token,
		window: w.window,
	}
	if c.local == nil {
		c.local = placeholder("client")
	}
	if c.remote == nil {
		c.remote = placeholder("gateway")
	}
	c.e.lost = c.lost
	c.e.onEnd = func(err error) { c.state(State{Kind: Failed, Err: err}) }
	if err := c.e.attach(tr, 0, nil); err != nil {
		tr.Close(0, "")
		return nil, err
	}
	c.state(State{Kind: Connected})
	return c, nil
}

// handshake sends h and reads the WELCOME, within ctx.
func handshake(ctx context.Context, tr Transport, h hello) (welcome, error) {
	if err := tr.WriteMessage(ctx, h.encode()); err != nil {
		return welcome{}, fmt.Errorf("send HELLO: %w", err)
	}
	msg, err := tr.ReadMessage(ctx)
	if err != nil {
		return welcome{}, fmt.Errorf("wait for WELCOME: %w", err)
	}
	return decodeWelcome(msg)
}

func (c *Conn) state(s State) {
	if c.opts.OnState != nil {
		c.stateMu.Lock()
		defer c.stateMu.Unlock()
		c.opts.OnState(s)
	}
}

// lost starts the redials after a drop, or ends the stream when the
// gateway ended it.
func (c *Conn) lost(err error) {
	var ce *CloseError
	if errors.As(err, &ce) {
		if ce.Code == CloseNormal {
			c.fail(io.EOF)
			return
		}
		c.fail(fmt.Errorf("the gateway ended the tube: %w", err))
		return
	}
	c.mu.Lock()
	window := c.window
	c.mu.Unlock()
	if window <= 0 {
		c.fail(fmt.Errorf("connection lost, and the gateway keeps no tube to resume (resume window 0): %w", err))
		return
	}
	go c.reconnect(err, time.Now().Add(window))
}

// fail ends the stream with err (onEnd reports it).
func (c *Conn) fail(err error) { c.e.end(err, 0, "") }

// permanent marks a refusal that a redial cannot change.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// reconnect redials until a transport resumes the stream, the gateway
// refuses, the deadline passes or the Conn is closed.
func (c *Conn) reconnect(cause error, deadline time.Time) {
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	go func() { // the Conn closing stops the redials
		select {
		case <-c.e.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	backoff := retryMin
	lastErr := cause
	for attempt := 1; ; attempt++ {
		c.state(State{Kind: Reconnecting, Deadline: deadline, Attempt: attempt, Err: lastErr})
		err := c.resume(ctx)
		if err == nil {
			c.state(State{Kind: Resumed})
			return
		}
		if c.e.ended() != nil {
			return
		}
		var p permanent
		if errors.As(err, &p) {
			c.fail(p.err)
			return
		}
		lastErr = err
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
		if ctx.Err() != nil {
			c.mu.Lock()
			window := c.window
			c.mu.Unlock()
			c.fail(fmt.Errorf("not resumed within the gateway's %v window (last attempt: %w)", window, lastErr))
			return
		}
		backoff = min(2*backoff, retryMax)
	}
}

// resume makes one attempt: dial, HELLO with the token, WELCOME, resend.
func (c *Conn) resume(ctx context.Context) error {
	actx, cancel := context.WithTimeout(ctx, c.e.timeout)
	defer cancel()
	tr, err := c.dial(actx)
	if err != nil {
		return err
	}
	c.e.mu.Lock()
	recv := c.e.recvNext
	c.e.mu.Unlock()
	c.mu.Lock()
	h := hello{resume: true, heartbeat: c.e.heartbeat, token: c.token, recv: recv}
	c.mu.Unlock()
	w, err := handshake(actx, tr, h)
	if err != nil {
		tr.Close(0, "")
		var ce *CloseError
		if errors.As(err, &ce) || errors.Is(err, ErrBadFrame) {
			return permanent{fmt.Errorf("the gateway refused to resume the tube: %w", err)}
		}
		return err
	}
	c.mu.Lock()
	c.token, c.window = w.token, w.window
	c.mu.Unlock()
	if err := c.e.attach(tr, w.recv, nil); err != nil {
		tr.Close(CloseBadFrame, "bad offset in WELCOME")
		return permanent{err}
	}
	return nil
}

// Read reads the gateway's bytes; it waits through outages.
func (c *Conn) Read(p []byte) (int, error) { return c.e.Read(p) }

// Write sends p, or keeps it for the next transport during an outage.
func (c *Conn) Write(p []byte) (int, error) { return c.e.Write(p) }

// WriteChunkBuffer is Write for bytes gathered in b[DATA header room:], a
// buffer from ChunkBuffer: the stream keeps b itself (until the gateway
// acknowledges its bytes) instead of copying them. b is the stream's from
// then on, whatever the outcome.
func (c *Conn) WriteChunkBuffer(b []byte) (int, error) { return c.e.writeChunkBuffer(b) }

// Close ends the tube: the gateway is told (close 1000) if a transport is
// up, and redials stop.
func (c *Conn) Close() error {
	c.e.end(net.ErrClosed, CloseNormal, "closed by the client")
	return nil
}

// Unacked returns the bytes kept until the gateway acknowledges them.
func (c *Conn) Unacked() int { return c.e.unacked() }

// Offsets returns the bytes written so far and the bytes received from
// the gateway so far.
func (c *Conn) Offsets() (sent, received uint64) {
	c.e.mu.Lock()
	defer c.e.mu.Unlock()
	return c.e.sendNext, c.e.recvNext
}

// Attached reports whether a transport carries the tube now.
func (c *Conn) Attached() bool { return c.e.attached() }

// Drop closes the current transport without a close frame, as a network
// failure would (for tests and tools); the Conn then resumes.
func (c *Conn) Drop() {
	c.e.mu.Lock()
	if c.e.tr == nil {
		c.e.mu.Unlock()
		return
	}
	gen := c.e.gen
	c.e.mu.Unlock()
	c.e.transportFailed(gen, errors.New("dropped on purpose"))
}

func (c *Conn) LocalAddr() net.Addr                { return c.local }
func (c *Conn) RemoteAddr() net.Addr               { return c.remote }
func (c *Conn) SetDeadline(t time.Time) error      { c.e.setDeadlines(true, true, t); return nil }
func (c *Conn) SetReadDeadline(t time.Time) error  { c.e.setDeadlines(true, false, t); return nil }
func (c *Conn) SetWriteDeadline(t time.Time) error { c.e.setDeadlines(false, true, t); return nil }

type placeholder string

func (p placeholder) Network() string { return "resume" }
func (p placeholder) String() string  { return string(p) }
