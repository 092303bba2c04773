package resume

// Direct delivery: a client Conn's WriteTo over a Streamer transport. The
// reader writes each DATA frame's payload straight from the transport to
// WriteTo's writer (package bridge splices it from the socket to a pipe),
// instead of reading the message into memory and queueing it for WriteTo.

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"time"
)

// A Streamer is a Transport that can write a message's tail to a writer
// without reading it into memory first.
type Streamer interface {
	Transport
	// BeginMessage starts reading the next message and returns its first
	// bytes: the whole message when it is at most n bytes long (more is
	// false), else its first n (more is true). head stays valid until the
	// next call; when more is true, the rest must be taken with ReadRest or
	// WriteRest before the next BeginMessage or ReadMessage.
	BeginMessage(ctx context.Context, n int) (head []byte, more bool, err error)
	// ReadRest returns the whole message begun, head included, as
	// ReadMessage would have.
	ReadRest() ([]byte, error)
	// WriteRest writes the rest of the message begun to w, less its first
	// skip bytes. It calls out before each write to w and done after it
	// with what the write took and its error, so that the caller can tell
	// waiting for w from waiting for the peer, and count what w has.
	WriteRest(w io.Writer, skip int64, out func(), done func(n int, err error)) error
}

// streamNext takes the next message of st, the transport of gen, while a
// WriteTo waits for the stream's bytes: a DATA frame's payload goes
// straight to WriteTo's writer, any other message to receive. It returns
// a transport error (a drop), or a protocol error wrapping ErrBadFrame; it
// reports stop when the reader should end without either (the writer
// failed).
func (e *endpoint) streamNext(st Streamer, gen uint64, release func([]byte)) (stop bool, err error) {
	head, more, err := st.BeginMessage(context.Background(), dataHeader)
	if err != nil {
		return false, err
	}
	if !more {
		_, err := e.receiveWhole(gen, bytes.Clone(head), nil)
		return false, err
	}
	if head[0] != frameData {
		return false, e.receiveRest(st, gen, release)
	}
	offset, ack := binary.BigEndian.Uint64(head[1:]), binary.BigEndian.Uint64(head[9:])
	e.mu.Lock()
	if e.gen != gen || e.tr == nil {
		e.mu.Unlock()
		return false, st.WriteRest(io.Discard, 0, func() {}, func(int, error) {})
	}
	e.lastRecv = time.Now()
	if err := e.ackLocked(ack); err != nil {
		e.mu.Unlock()
		return false, err
	}
	if offset > e.recvNext {
		e.mu.Unlock()
		return false, badFrame("DATA at offset %d, but only %d bytes came before it", offset, e.recvNext)
	}
	// Bytes go to the writer in order: after what WriteTo still has
	// queued, and after an older transport's delivery under way.
	for (len(e.readQ) > 0 || e.draining || e.delivering) && e.gen == gen && e.err == nil && e.sinkErr == nil {
		e.stall = true
		e.waitLocked(time.Time{})
	}
	e.stall = false
	switch {
	case e.sinkErr != nil:
		e.mu.Unlock()
		return true, nil
	case e.gen != gen || e.err != nil:
		e.mu.Unlock()
		return false, st.WriteRest(io.Discard, 0, func() {}, func(int, error) {})
	case e.sink == nil: // WriteTo returned meanwhile: the payload is queued for Read
		e.mu.Unlock()
		return false, e.receiveRest(st, gen, release)
	}
	sink, skip := e.sink, e.recvNext-offset
	e.delivering = true
	e.mu.Unlock()
	err = st.WriteRest(sink, int64(skip), e.deliverOut, e.deliverDone)
	e.mu.Lock()
	e.delivering = false
	stop = e.sinkErr != nil
	e.broadcast()
	e.mu.Unlock()
	if stop {
		return true, nil
	}
	return false, err
}

// receiveRest reads the rest of the message begun on st into memory and
// takes it as the reader of other transports does.
func (e *endpoint) receiveRest(st Streamer, gen uint64, release func([]byte)) error {
	msg, err := st.ReadRest()
	if err != nil {
		return err
	}
	_, err = e.receiveWhole(gen, msg, release)
	return err
}

// receiveWhole is receive, giving msg back to release (if not nil) when
// the stream does not keep it. It reports whether msg was a heartbeat.
func (e *endpoint) receiveWhole(gen uint64, msg []byte, release func([]byte)) (heartbeat bool, err error) {
	kept, heartbeat, err := e.receive(gen, msg, release)
	if !kept && release != nil {
		release(msg)
	}
	return heartbeat, err
}

// deliverOut marks the stream as waiting for WriteTo's writer, not for the
// peer, while a payload is written to it (see onTick).
func (e *endpoint) deliverOut() {
	e.mu.Lock()
	e.stall = true
	e.mu.Unlock()
}

// deliverDone counts n bytes WriteTo's writer took, and its error.
func (e *endpoint) deliverDone(n int, err error) {
	e.mu.Lock()
	e.stall = false
	e.sunk += int64(n)
	if err != nil && e.sinkErr == nil {
		e.sinkErr = err
		e.broadcast()
	}
	now := n > 0 && e.receivedLocked(n)
	e.mu.Unlock()
	if now {
		e.kickIfDue()
	}
}

// receivedLocked counts n more bytes received and schedules their
// acknowledgement; it reports whether one is due at once (then the
// caller, without e.mu, calls kickIfDue). e.mu is held.
func (e *endpoint) receivedLocked(n int) (now bool) {
	e.lastRecv = time.Now()
	e.lastData = e.lastRecv
	e.recvNext += uint64(n)
	if e.recvNext-e.ackedRecv >= ackEvery {
		e.ackDue = true
		return true
	}
	if e.ackTimer == nil {
		e.ackTimer = time.AfterFunc(ackDelay, e.delayedAck)
	} else {
		e.ackTimer.Reset(ackDelay)
	}
	return false
}
