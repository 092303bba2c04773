package resume

// The endpoint's transport: attaching one (and resending from the peer's
// offset), reading it, heartbeats and the dead-transport timeout, a failed
// transport detaching, and the stream's end. endpoint.go has the stream
// itself (the buffers, Read, acks), send.go its sending side.

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// readLoop reads the transport of gen until it fails or is replaced,
// and closes done when it returns. Where tr is a Parker, the reader lets
// go of its goroutine while the peer sends nothing, and carries on in
// another when it sends (park.go).
//
// Its reads are given no context (coder/websocket arms and disarms a
// context.AfterFunc for each message read with one: 5% of a receiving
// gateway's CPU): whatever detaches tr closes it, which ends them.
func (e *endpoint) readLoop(tr Transport, gen uint64, done chan<- struct{}) {
	r := &transportReader{e: e, tr: tr, gen: gen}
	if rel, ok := tr.(Releaser); ok {
		r.release = rel.Release
	}
	r.st, _ = tr.(Streamer)
	r.pk, _ = tr.(Parker)
	r.resume = func() {
		if r.read() {
			return // parked: resume runs it again
		}
		close(done)
	}
	r.resume()
}

// transportReader is readLoop's state, kept while it is parked.
type transportReader struct {
	e       *endpoint
	tr      Transport
	gen     uint64
	release func([]byte) // nil: messages are not pooled
	st      Streamer     // nil: tr is not one
	pk      Parker       // nil: tr is not one
	resume  func()
	// heartbeat: the last message was one; the peer is idle
	heartbeat bool
}

// read reads messages until the transport fails or is replaced, or the
// reader parks (it then reports true).
func (r *transportReader) read() (parked bool) {
	e, gen := r.e, r.gen
	for {
		if r.st != nil && e.sinking() {
			stop, err := e.streamNext(r.st, gen, r.release)
			switch {
			case errors.Is(err, ErrBadFrame):
				e.protocolError(gen, err)
				return false
			case err != nil:
				e.transportFailed(gen, err)
				return false
			case stop:
				return false
			}
			continue
		}
		// After a heartbeat the transport may park at once; resumed, the
		// reader reads what woke it first.
		idle := r.heartbeat
		r.heartbeat = false
		if r.pk != nil && r.pk.ParkRead(r.resume, idle) {
			return true
		}
		msg, err := r.tr.ReadMessage(context.Background())
		if err != nil {
			e.transportFailed(gen, err)
			return false
		}
		if r.heartbeat, err = e.receiveWhole(gen, msg, r.release); err != nil {
			e.protocolError(gen, err)
			return false
		}
	}
}

// sinking reports whether a WriteTo waits for the stream's bytes.
func (e *endpoint) sinking() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.sink != nil
}

// sendFailed takes a send on the transport of gen that failed with err.
// That send may have raced the peer's close frame: a WebSocket refuses
// sends as soon as its reader has taken a close frame, before the reader
// returns it, so the writer may see the end first, as an error. The
// reader's word wins: nothing more is sent on gen, and the transport
// fails with err only once its reader has returned (having failed the
// transport first with what it read: the peer's goodbye, or its own
// error), or after goodbyeWait if it has not. readDone is closed when
// that reader returns.
func (e *endpoint) sendFailed(gen uint64, readDone <-chan struct{}, err error) {
	e.mu.Lock()
	if e.gen != gen || e.tr == nil {
		e.mu.Unlock()
		return
	}
	e.sendBroken = gen
	wait := e.goodbyeWait
	e.mu.Unlock()
	go func() {
		t := time.NewTimer(wait)
		defer t.Stop()
		for {
			select {
			case <-readDone:
			case <-t.C:
				// A reader that waits for our own side (Read, or WriteTo's
				// writer) has not had the chance to read the goodbye,
				// which may wait behind the bytes it holds.
				e.mu.Lock()
				stalled := e.stall && e.gen == gen
				e.mu.Unlock()
				if stalled {
					t.Reset(wait)
					continue
				}
			}
			break
		}
		e.transportFailed(gen, err)
	}()
}

// protocolError ends the stream for a peer that broke the protocol.
func (e *endpoint) protocolError(gen uint64, err error) {
	e.mu.Lock()
	stale := e.gen != gen
	e.mu.Unlock()
	if !stale {
		e.end(err, CloseBadFrame, err.Error())
	}
}

// onTick runs every heartbeat while a transport is attached: it sends a
// heartbeat ACK unless something went out in the last half heartbeat (so
// a message goes at least every 1.5 heartbeats), and drops a transport
// that brought nothing for the timeout.
func (e *endpoint) onTick() {
	e.mu.Lock()
	if e.tr == nil || e.err != nil {
		e.mu.Unlock()
		return
	}
	now := time.Now()
	if e.stall {
		e.lastRecv = now // the peer waits for us, not we for it
	}
	if silent := now.Sub(e.lastRecv); silent >= e.timeout {
		gen := e.gen
		e.mu.Unlock()
		e.transportFailed(gen, fmt.Errorf("nothing received for %v (the connection is dead)", silent.Round(time.Millisecond)))
		return
	}
	if now.Sub(e.lastSend) >= e.heartbeat/2 || e.recvNext > e.ackedRecv {
		e.ackDue = true
	}
	e.tick.Reset(e.heartbeat)
	e.mu.Unlock()
	e.kickIfDue()
}

// transportFailed detaches the transport of gen, if it is still the
// current one, and tells lost.
func (e *endpoint) transportFailed(gen uint64, err error) {
	e.mu.Lock()
	if e.gen != gen || e.tr == nil || e.err != nil {
		e.mu.Unlock()
		return
	}
	tr := e.detachLocked()
	e.mu.Unlock()
	go tr.Close(0, "")
	if errors.Is(err, ErrBadFrame) {
		e.end(err, CloseBadFrame, err.Error())
		return
	}
	if e.lost != nil {
		e.lost(err)
	}
}

// detachLocked takes the transport off the stream and returns it, for
// the caller to close (which ends its reader, parked or not); e.mu is
// held and a transport attached.
func (e *endpoint) detachLocked() Transport {
	tr := e.tr
	e.tr = nil
	e.gen++
	if e.tick != nil {
		e.tick.Stop()
	}
	e.broadcast()
	return tr
}

// attach puts tr under the stream, after the peer reported having
// received peerRecv bytes, and resends from there. greet, if not nil,
// makes the first message: it is given the bytes received so far and
// returns what to send (the server's WELCOME).
func (e *endpoint) attach(tr Transport, peerRecv uint64, greet func(recv uint64) []byte) error {
	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	e.mu.Lock()
	if e.err != nil {
		err := e.err
		e.mu.Unlock()
		return err
	}
	if peerRecv < e.sendBase || peerRecv > e.sendNext {
		e.mu.Unlock()
		return badFrame("the peer has received %d bytes, but %d were acknowledged and %d sent", peerRecv, e.sendBase, e.sendNext)
	}
	var old Transport
	if e.tr != nil {
		old = e.detachLocked() // the server still thought the old one alive
	}
	e.gen++ // from here no message of an older transport counts
	e.ackLocked(peerRecv)
	recv := e.recvNext
	e.mu.Unlock()
	if old != nil {
		go old.Close(0, "")
	}
	if greet != nil {
		ctx, cancel := context.WithTimeout(context.Background(), e.timeout)
		err := tr.WriteMessage(ctx, greet(recv))
		cancel()
		if err != nil {
			return fmt.Errorf("send WELCOME: %w", err)
		}
	}
	e.mu.Lock()
	if e.err != nil {
		err := e.err
		e.mu.Unlock()
		return err
	}
	gen := e.gen
	e.tr = tr
	e.wireNext = peerRecv
	e.ackedRecv = recv
	now := time.Now()
	e.lastRecv, e.lastSend = now, now
	if e.tick == nil {
		e.tick = time.AfterFunc(e.heartbeat, e.onTick)
	} else {
		e.tick.Reset(e.heartbeat)
	}
	readDone := make(chan struct{})
	e.readDone = readDone
	e.broadcast()
	e.mu.Unlock()
	go e.readLoop(tr, gen, readDone)
	e.pumpLocked()
	return nil
}

// end ends the stream with err (io.EOF: a normal end) and closes the
// transport, if any, with code and reason. Only the first call counts.
func (e *endpoint) end(err error, code int, reason string) bool {
	e.mu.Lock()
	if e.err != nil {
		e.mu.Unlock()
		return false
	}
	e.err = err
	var tr Transport
	if e.tr != nil {
		tr = e.detachLocked()
	}
	if e.tick != nil {
		e.tick.Stop()
	}
	if e.ackTimer != nil {
		e.ackTimer.Stop()
	}
	if e.linger != nil {
		e.linger.Stop()
	}
	for _, c := range e.chunks {
		e.releaseLocked(c)
	}
	e.chunks = nil
	if e.budget != nil {
		e.budget.give(e.kept)
		e.budget = nil
	}
	e.kept = 0
	close(e.done)
	e.broadcast()
	parked := e.unparkLocked()
	e.mu.Unlock()
	resumeParked(parked)
	if tr != nil {
		if len(reason) > 120 { // a close frame carries at most 123 bytes of reason
			reason = reason[:120]
		}
		tr.Close(code, reason)
	}
	if e.onEnd != nil {
		e.onEnd(err)
	}
	return true
}

// attached reports whether a transport is attached.
func (e *endpoint) attached() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.tr != nil
}

// ended reports the error the stream ended with, or nil.
func (e *endpoint) ended() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}
