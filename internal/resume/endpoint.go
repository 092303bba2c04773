package resume

import (
	"context"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// Transport is one message transport under a stream: a WebSocket, as
// package bridge adapts it. A stream uses one at a time.
type Transport interface {
	// ReadMessage returns the next message, which the caller then owns.
	// A close frame from the peer is returned as a *CloseError; any other
	// error is a drop (the stream may resume on another transport).
	ReadMessage(ctx context.Context) ([]byte, error)
	// WriteMessage sends p as one message and does not keep p.
	WriteMessage(ctx context.Context, p []byte) error
	// Close ends the transport with a close frame of code and reason, or,
	// when code is 0, at once without one (as a drop looks to the peer).
	// Either ends a ReadMessage or WriteMessage under way: the stream
	// reads and sends with no context of their own, and end so when the
	// transport is detached.
	Close(code int, reason string) error
}

// Releaser is a Transport that pools its messages: the stream gives each
// message ReadMessage returned back to Release once it no longer holds
// any of it, and never touches it after.
type Releaser interface {
	Release(msg []byte)
}

// queued is a received message's bytes not yet read, with the message
// they are in and where it goes back once they are read.
type queued struct {
	b, msg  []byte
	release func([]byte) // nil: the message is not pooled
}

// ErrBadFrame is wrapped by errors about messages that break the
// protocol; a Transport returns it for a message of the wrong kind (a
// WebSocket text message).
var ErrBadFrame = errBadFrame

// Defaults of the options.
const (
	DefaultBound     = 8 << 20          // unacknowledged bytes each side keeps
	DefaultHeartbeat = 10 * time.Second // idle ACK period
	DefaultWindow    = 2 * time.Minute  // how long the gateway keeps a dropped tube
	// MinHeartbeat and MaxHeartbeat bound the heartbeat a client asks for.
	MinHeartbeat = time.Second
	MaxHeartbeat = 20 * time.Second
)

const (
	// maxChunk is the largest payload of one DATA frame.
	maxChunk = 256 << 10
	// recvQueueMax bounds the received bytes waiting for Read: beyond it
	// the transport is not read (the peer's bound then stops its writer).
	recvQueueMax = 1 << 20
	// ackEvery received bytes not yet acknowledged are acknowledged at once.
	ackEvery = 256 << 10
	// ackDelay is how soon fewer bytes are acknowledged when nothing is
	// sent to carry the ack.
	ackDelay = 20 * time.Millisecond
	// deadFactor × heartbeat of silence makes a transport dead.
	deadFactor = 3
	// goodbyeWait bounds how long a failed send waits for the transport's
	// reader to say whether the peer closed it (see sendFailed). The
	// reader of a broken connection returns at once; the bound is only
	// for one that would not.
	goodbyeWait = 5 * time.Second
)

// endpoint is one side of a stream: what the client's Conn and the
// server's Session share.
type endpoint struct {
	bound       int
	heartbeat   time.Duration
	timeout     time.Duration
	goodbyeWait time.Duration // see sendFailed; under mu
	// lost is told (without locks held) that the transport of the current
	// generation failed with err; it is not told of ends the endpoint
	// chose itself.
	lost func(err error)
	// onEnd is told (without locks held) once the stream has ended, for
	// whatever reason.
	onEnd func(err error)

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every change waiters care about
	done    chan struct{} // closed when the stream ends

	chunks []*chunk // not yet acknowledged, in order
	// kept is the memory chunks hold (their costs), what bound caps; the
	// budget, once set, has it taken from it too (nil: only bound caps it).
	kept     int64
	budget   *Budget
	sendBase uint64 // bytes the peer has acknowledged
	sendNext uint64 // bytes written

	recvNext  uint64   // bytes received
	readQ     []queued // received, not yet read
	readQLen  int
	held      queued // a message ReadContiguous returned the end of, given back at the next read
	ackedRecv uint64 // the last ack sent
	ackDue    bool
	ackTimer  *time.Timer

	err   error // why the stream ended (io.EOF: the peer ended it)
	rdl   time.Time
	wdl   time.Time
	stall bool // the reader waits for room in readQ, or for WriteTo's writer
	// While a WriteTo runs, sink is its writer, and the reader of a
	// Streamer transport writes DATA payloads to it directly (stream.go).
	sink       io.Writer
	sinkErr    error // the sink's first write error
	sunk       int64 // bytes the reader wrote to sinks
	draining   bool  // WriteTo is writing a message of readQ to the sink
	delivering bool  // a reader is writing a payload to the sink
	waitWr     int   // writers waiting for the peer's acks
	// closedLocally: the owner closed the stream, which ends once the peer
	// has acknowledged what was sent (closing.go); the owner's reads and
	// writes fail with net.ErrClosed meanwhile.
	closedLocally bool
	// The owner's reader parked (park.go): parked runs it again; parkWait:
	// it waits in parkRead; idleRead: the linger timer found it idle;
	// lingering: that timer is set; lastData: when bytes last came.
	parked    func()
	parkWait  bool
	idleRead  bool
	lingering bool
	linger    *time.Timer
	lastData  time.Time

	tr       Transport     // nil while detached
	gen      uint64        // counts attached transports
	readDone chan struct{} // closed when the reader of tr has returned
	// sendBroken is the gen of a transport a send failed on: nothing more
	// is sent on it while its reader decides how it ended (0: none).
	sendBroken uint64
	lastRecv   time.Time
	lastSend   time.Time
	tick       *time.Timer

	writeMu  sync.Mutex // one sender on the transport at a time
	wireNext uint64     // next offset to send on tr; written under both locks
	sending  *chunk     // the chunk being sent, if any; written under both locks
}

func newEndpoint(bound int, heartbeat, timeout time.Duration) *endpoint {
	if bound <= 0 {
		bound = DefaultBound
	}
	if heartbeat <= 0 {
		heartbeat = DefaultHeartbeat
	}
	if timeout <= 0 {
		timeout = deadFactor * heartbeat
	}
	return &endpoint{
		bound: bound, heartbeat: heartbeat, timeout: timeout,
		goodbyeWait: min(goodbyeWait, timeout),
		changed:     make(chan struct{}), done: make(chan struct{}),
	}
}

// broadcast wakes every waiter; e.mu is held.
func (e *endpoint) broadcast() {
	close(e.changed)
	e.changed = make(chan struct{})
}

// waitLocked waits for a change or the deadline; e.mu is held, released
// while waiting and held again on return. It reports false at the deadline.
func (e *endpoint) waitLocked(deadline time.Time) bool { return e.waitLockedOr(deadline, nil) }

// waitLockedOr is waitLocked that also returns when also is closed (nil:
// never).
func (e *endpoint) waitLockedOr(deadline time.Time, also <-chan struct{}) bool {
	ch := e.changed
	e.mu.Unlock()
	defer e.mu.Lock()
	if deadline.IsZero() {
		select {
		case <-ch:
		case <-also:
		}
		return true
	}
	d := time.Until(deadline)
	if d <= 0 {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-also:
		return true
	case <-t.C:
		return false
	}
}

func expired(deadline time.Time) bool {
	return !deadline.IsZero() && !time.Now().Before(deadline)
}

// Read reads received bytes, waiting while there are none; it returns
// io.EOF once the peer has ended the stream and everything is read.
func (e *endpoint) Read(p []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.releaseHeldLocked()
	for {
		if e.closedLocally {
			return 0, net.ErrClosed
		}
		if len(e.readQ) > 0 {
			n := 0
			for n < len(p) && len(e.readQ) > 0 {
				q := &e.readQ[0]
				m := copy(p[n:], q.b)
				n += m
				if m == len(q.b) {
					if q.release != nil {
						q.release(q.msg)
					}
					*q = queued{}
					e.readQ = e.readQ[1:]
				} else {
					q.b = q.b[m:]
				}
			}
			if len(e.readQ) == 0 {
				e.readQ = nil
			}
			e.readQLen -= n
			if e.stall {
				e.broadcast()
			}
			return n, nil
		}
		if e.err != nil {
			return 0, e.err
		}
		if expired(e.rdl) || !e.waitLocked(e.rdl) {
			return 0, os.ErrDeadlineExceeded
		}
	}
}

// ackLocked takes the peer's acknowledgement of a bytes; e.mu is held.
func (e *endpoint) ackLocked(a uint64) error {
	if a > e.sendNext {
		return badFrame("ack of %d bytes, but only %d were sent", a, e.sendNext)
	}
	if a <= e.sendBase {
		return nil
	}
	n := 0
	var freed int64
	for n < len(e.chunks) && e.chunks[n].end() <= a {
		freed += int64(e.chunks[n].cost)
		e.releaseLocked(e.chunks[n])
		e.chunks[n] = nil
		n++
	}
	e.chunks = e.chunks[n:]
	if len(e.chunks) == 0 {
		e.chunks = nil // an idle stream holds no buffer
	}
	e.kept -= freed
	if e.budget != nil {
		e.budget.give(freed)
	}
	e.sendBase = a
	if e.waitWr > 0 {
		e.broadcast()
	}
	return nil
}

// receive takes one message of the transport of gen. It returns an error
// for a message that breaks the protocol. It reports whether the stream
// keeps msg (its bytes wait for Read), and then gives it to release once
// they are read; and whether msg was a heartbeat (no data, and an ack of
// nothing new: the peer has nothing to say).
func (e *endpoint) receive(gen uint64, msg []byte, release func([]byte)) (kept, heartbeat bool, err error) {
	f, err := decodeStream(msg)
	if err != nil {
		return false, false, err
	}
	e.mu.Lock()
	if e.gen != gen || e.tr == nil {
		e.mu.Unlock()
		return false, false, nil
	}
	e.lastRecv = time.Now()
	heartbeat = !f.data && f.ack <= e.sendBase
	if err := e.ackLocked(f.ack); err != nil {
		e.mu.Unlock()
		return false, false, err
	}
	now := false
	if f.data {
		if f.offset > e.recvNext {
			e.mu.Unlock()
			return false, false, badFrame("DATA at offset %d, but only %d bytes came before it", f.offset, e.recvNext)
		}
		if skip := e.recvNext - f.offset; skip < uint64(len(f.payload)) {
			p := f.payload[skip:]
			for e.readQLen >= recvQueueMax && e.gen == gen && e.err == nil {
				e.stall = true
				e.waitLocked(time.Time{})
			}
			e.stall = false
			if e.gen != gen || e.err != nil {
				e.mu.Unlock()
				return false, false, nil
			}
			e.readQ = append(e.readQ, queued{b: p, msg: msg, release: release})
			kept = true
			e.readQLen += len(p)
			now = e.receivedLocked(len(p))
			e.broadcast()
		}
	}
	var parked func()
	if kept {
		parked = e.unparkLocked()
	}
	e.mu.Unlock()
	resumeParked(parked)
	if now {
		e.kickIfDue()
	}
	return kept, heartbeat, nil
}

// delayedAck acknowledges what came in since the last ack.
func (e *endpoint) delayedAck() {
	e.mu.Lock()
	if e.recvNext > e.ackedRecv {
		e.ackDue = true
	}
	e.mu.Unlock()
	e.kickIfDue()
}

func (e *endpoint) setDeadlines(r, w bool, t time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if r {
		e.rdl = t
	}
	if w {
		e.wdl = t
	}
	e.broadcast()
	if r && !t.IsZero() {
		resumeParked(e.unparkLocked()) // to meet the deadline
	}
}
