package resume

// Parked readers: an idle tube's two reading goroutines let go while its
// client sends nothing, as a raw tube's one does (x/crypto patch 0023).
//
//   - The transport's reader (readLoop) parks where the transport can wait
//     without a goroutine (a Parker: the gateway's WebSocket, in its
//     idlepoll.Poller). The client's heartbeats wake it, and it parks
//     again at once after one.
//   - The owner's reader (x/crypto's, through Session.ParkRead) parks
//     once no bytes have come for readLinger. It learns of that from a
//     timer that runs while it waits, renewed only when it fires (about
//     once a second in bulk, where the reader waits between messages
//     all the time): a timer set at each wait would cost the bulk path
//     one per packet. Bytes arriving run it again.

import (
	"time"
)

// Parker is a Transport whose reader can let go of its goroutine while
// the peer sends nothing. ParkRead is called between messages: it returns
// false when the caller should read on (a message is on its way, or came
// soon enough), true when the peer has been idle; resume is then called,
// once, from a goroutine of its own, when the transport is readable
// again, or closed. idle says the last message was a heartbeat: the
// peer has just said it has nothing to send, so the transport need not
// wait to see whether more comes before it parks.
type Parker interface {
	ParkRead(resume func(), idle bool) bool
}

// readLinger is how long the owner's reader waits with no bytes received
// before it may park.
const readLinger = time.Second

// parkRead parks the owner's reader, called at a boundary of its reads
// (between two SSH packets): it waits while nothing is received, and
// returns true, keeping resume to run when bytes come (or the stream
// ends, or is closed, or a read deadline is set), once it has waited
// with nothing received for readLinger. It returns false when the reader
// should read on.
func (e *endpoint) parkRead(resume func()) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.releaseHeldLocked() // its bytes are done with: the next read would give it back
	e.idleRead = false
	for len(e.readQ) == 0 && e.err == nil && !e.closedLocally && e.rdl.IsZero() {
		if e.idleRead {
			e.idleRead = false
			e.parked = resume
			return true
		}
		e.parkWait = true
		e.lingerLocked()
		e.waitLocked(time.Time{})
		e.parkWait = false
	}
	return false
}

// lingerLocked has the linger timer run while the owner's reader waits
// in parkRead (it is already, unless it fired since); e.mu is held.
func (e *endpoint) lingerLocked() {
	if e.lingering {
		return
	}
	e.lingering = true
	d := max(readLinger-time.Since(e.lastData), 0)
	if e.linger == nil {
		e.linger = time.AfterFunc(d, e.onLinger)
	} else {
		e.linger.Reset(d)
	}
}

// onLinger tells the owner's reader, waiting in parkRead, to park when
// nothing has been received for readLinger; it waits for the rest of
// readLinger if bytes came since. A reader that is not waiting has the
// timer run again when it next waits.
func (e *endpoint) onLinger() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.lingering = false
	if !e.parkWait || e.err != nil {
		return
	}
	if d := readLinger - time.Since(e.lastData); d > 0 {
		e.lingering = true
		e.linger.Reset(d)
		return
	}
	e.idleRead = true
	e.linger = nil // a parked tube holds no timer; the next wait makes one
	e.broadcast()
}

// unparkLocked takes the parked reader, if any, for the caller to run
// (with go) once e.mu, held here, is released; nil if none is parked.
func (e *endpoint) unparkLocked() func() {
	f := e.parked
	e.parked = nil
	return f
}

// resumeParked runs f, a reader unparkLocked took, in a goroutine of its
// own; nil does nothing.
func resumeParked(f func()) {
	if f != nil {
		go f()
	}
}

// ParkRead parks x/crypto's reader while the client sends nothing (patch
// 0023): the session runs it again when bytes come.
func (s *Session) ParkRead(resume func()) bool { return s.e.parkRead(resume) }
