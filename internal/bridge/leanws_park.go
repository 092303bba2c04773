//go:build !js

package bridge

// An idle raw tube's reader, parked: x/crypto's reading goroutine (patch
// 0023) lets go while the client sends nothing, and the socket waits in
// the gateway's idlepoll.Poller with every other idle one.
//
// How the reader learns the client is idle: the socket always has a read
// deadline, readLinger ahead when it was set, which is renewed only when
// it passes (so a busy tube sets it once a second, not at every frame: a
// deadline set moves the runtime's timers and wakes its network poller,
// a few microseconds each time). When it passes inside a frame, or after
// bytes came since it was set, the read is simply retried; when it
// passes at a frame's boundary with nothing read for a whole readLinger,
// the reader parks.

import (
	"errors"
	"net"
	"os"
	"sync"
	"time"

	"github.com/tubegate/tubegate/internal/idlepoll"
)

// readLinger is how long a raw tube's reader waits for the client's next
// frame before it parks: it parks one to two readLingers after the last.
const readLinger = time.Second

// errIdle is parkingConn.Read's error at a frame's boundary after
// readLinger with nothing read.
var errIdle = errors.New("bridge: the client is idle")

// parkingConn is the gateway's connection of a raw WebSocket tube (plain
// TCP beneath pass-through wrappers), whose reader may be parked in an
// idlepoll.Poller. Closing it takes it out of the poller and resumes a
// parked reader, which then meets the close.
type parkingConn struct {
	net.Conn
	watch *idlepoll.Watch

	// The reader's (under leanWS.readMu):
	past       []byte // read with the upgrade request, to be read first
	atBoundary bool   // the read is parkRead's, at a frame's boundary
	active     bool   // bytes were read since the linger deadline was set

	mu       sync.Mutex
	resume   func() // while parked
	closed   bool
	deadline bool // a read deadline of the owner's is set: no linger
}

// newParkingConn returns nc, past its bytes already read, ready to park
// in idle; or nil where it cannot: no poller, or no socket beneath nc
// whose readiness is nc's (TLS, or a proxy protocol header's reader).
func newParkingConn(nc net.Conn, idle *idlepoll.Poller, past []byte) *parkingConn {
	sock := idlepoll.Socket(nc)
	if sock == nil || idle == nil {
		return nil
	}
	rc, err := sock.SyscallConn()
	if err != nil {
		return nil
	}
	pc := &parkingConn{Conn: nc, past: past}
	pc.watch = idle.Watch(rc, pc.wake)
	nc.SetReadDeadline(time.Now().Add(readLinger))
	return pc
}

// Read reads the bytes read with the upgrade request first, then the
// socket, riding out the linger deadline except where the client has
// been idle at a frame's boundary (errIdle).
func (pc *parkingConn) Read(p []byte) (int, error) {
	if len(pc.past) > 0 {
		n := copy(p, pc.past)
		if pc.past = pc.past[n:]; len(pc.past) == 0 {
			pc.past = nil
		}
		return n, nil
	}
	for {
		n, err := pc.Conn.Read(p)
		if n > 0 {
			pc.active = true
		}
		if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
			return n, err
		}
		pc.mu.Lock()
		owners := pc.deadline
		idle := n == 0 && pc.atBoundary && !pc.active && !owners
		if !owners && !idle {
			pc.active = false
			pc.Conn.SetReadDeadline(time.Now().Add(readLinger))
		}
		pc.mu.Unlock()
		switch {
		case owners:
			return n, err
		case idle:
			return 0, errIdle
		case n > 0:
			return n, nil
		}
	}
}

// SetDeadline and SetReadDeadline set the owner's deadline; a zero one
// brings the linger deadline back.
func (pc *parkingConn) SetDeadline(t time.Time) error {
	if err := pc.SetReadDeadline(t); err != nil {
		return err
	}
	return pc.Conn.SetWriteDeadline(t)
}

func (pc *parkingConn) SetReadDeadline(t time.Time) error {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	pc.deadline = !t.IsZero()
	if t.IsZero() {
		t = time.Now().Add(readLinger)
	}
	return pc.Conn.SetReadDeadline(t)
}

// park arms the socket for resume; false if the reader should read on
// (the socket is closed, or the poller stopped).
func (pc *parkingConn) park(resume func()) bool {
	pc.mu.Lock()
	if pc.closed {
		pc.mu.Unlock()
		return false
	}
	pc.resume = resume
	pc.mu.Unlock()
	err := pc.watch.Arm()
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if err != nil {
		if pc.resume != nil { // not taken by Close: read on
			pc.resume = nil
			pc.lingerLocked()
			return false
		}
		return true // Close took it, and runs it
	}
	if pc.closed {
		pc.watch.Stop() // Close ran while it was armed: it runs resume
	}
	return true
}

// lingerLocked sets the linger deadline again, the last one having passed
// (unless the owner has set one); pc.mu is held.
func (pc *parkingConn) lingerLocked() {
	if !pc.deadline {
		pc.active = false
		pc.Conn.SetReadDeadline(time.Now().Add(readLinger))
	}
}

// wake runs the parked reader (the poller found the socket readable).
func (pc *parkingConn) wake() {
	pc.mu.Lock()
	f := pc.resume
	pc.resume = nil
	if f != nil {
		pc.lingerLocked()
	}
	pc.mu.Unlock()
	if f != nil {
		f()
	}
}

// Close takes the socket out of the poller, closes it, and resumes a
// parked reader.
func (pc *parkingConn) Close() error {
	pc.mu.Lock()
	pc.closed = true
	f := pc.resume
	pc.resume = nil
	pc.mu.Unlock()
	pc.watch.Stop()
	err := pc.Conn.Close()
	if f != nil {
		go f()
	}
	return err
}

// parkRead reads up to the client's next frame, parking the reader
// instead if none comes for readLinger (x/crypto's readParker, through
// leanConn), or at once when now is true (the client said it is idle:
// a resumable tube's heartbeat). Inside a frame it does not: more of the
// frame is on its way, and the bulk of a large one is read around the
// 128-byte buffer, which a read now would fill.
func (c *leanWS) parkRead(resume func(), now bool) bool {
	pc := c.park
	if pc == nil {
		return false
	}
	c.readMu.Lock()
	defer c.readMu.Unlock()
	if c.frameLeft > 0 || c.br.Buffered() > 0 || len(pc.past) > 0 {
		return false
	}
	if now {
		return pc.park(resume) // bytes already come wake it at once
	}
	pc.atBoundary = true
	_, err := c.br.Peek(1)
	pc.atBoundary = false
	if !errors.Is(err, errIdle) {
		return false // bytes came, or an error the next read meets again
	}
	return pc.park(resume)
}

// ParkRead parks x/crypto's reader while the client is idle (patch 0023).
func (l *leanConn) ParkRead(resume func()) bool { return l.c.parkRead(resume, false) }
