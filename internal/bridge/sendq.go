package bridge

import (
	"net"
	"sync"
	"time"
)

// sendMax bounds the bytes a sendQueue holds, and so the largest message
// it sends (the resumable stream's largest DATA frame): a writer waits
// rather than add to a batch that would grow past it. A single larger
// write is sent on its own.
const sendMax = 256 << 10

// closeFlushWait bounds how long Close spends sending queued bytes to a
// peer that does not read.
const closeFlushWait = time.Second

// sendBufs recycles the queues' buffers: a queue holds one only while it
// has bytes to send, so an idle tube holds none.
var sendBufs = sync.Pool{New: func() any { b := make([]byte, 0, sendMax); return &b }}

func getSendBuf() []byte { return (*sendBufs.Get().(*[]byte))[:0] }

func putSendBuf(b []byte) {
	if cap(b) != sendMax {
		return // nil, or grown for a write larger than sendMax
	}
	b = b[:0]
	sendBufs.Put(&b)
}

// sendQueue sends a connection's writes from a goroutine of its own, so
// that the SSH transport goes on to its next packet while one is being
// sent, and what it writes meanwhile goes out together as the next write
// of the connection (one WebSocket message, one DATA frame, and the
// syscalls of one). A write made while nothing is being sent starts the
// sender at once: nothing waits on a timer. (Each write is one whole SSH
// packet: x/crypto patch 0006.) The sender runs
// only while there is something to send, so an idle connection has no
// goroutine and no buffer for it.
//
// Write keeps io.Writer's contract: the bytes are copied and sent in
// order; it waits while sendMax bytes are queued (backpressure, never
// unbounded memory); it fails with net.ErrClosed once closed, and with the
// error of a failed send on the next call.
type sendQueue struct {
	write func([]byte) (int, error)
	// A queue may hand its batches over instead (see handOffQueue): it
	// gathers them in buffers from getBuf, whose first hdr bytes are room
	// the receiver's framing fills, and handOff sends each and keeps its
	// buffer, so the batch is copied once, into the buffer, and not again.
	// putBuf takes back a buffer not handed over. By default the queue
	// has its own buffers, reused once write returns.
	handOff func([]byte) (int, error)
	getBuf  func() []byte
	putBuf  func([]byte)
	hdr     int

	mu      sync.Mutex
	room    *sync.Cond    // signalled when the sender takes a batch or stops
	pending []byte        // queued, not yet taken by the sender
	spare   []byte        // the buffer of the batch last sent, for reuse
	lending bool          // PacketBuffer lent the batch's tail; the sender waits for the Write
	running bool          // the sender goroutine runs
	stopped chan struct{} // closed when the running sender stops
	linger  time.Duration // senderLinger, but in tests
	idle    *time.Timer   // ends the running sender's linger
	idleGen uint64        // counts lingers
	idleEnd uint64        // the linger the timer ended
	err     error         // a failed send, returned by later writes
	closed  bool
}

func newSendQueue(write func([]byte) (int, error)) *sendQueue {
	q := &sendQueue{write: write, getBuf: getSendBuf, putBuf: putSendBuf, linger: senderLinger}
	q.room = sync.NewCond(&q.mu)
	return q
}

// handOffQueue returns a queue that sends its batches with handOff, in
// buffers from getBuf (len: hdr, the header room) that handOff keeps;
// putBuf takes back one it does not get. A small write to an idle queue
// goes out with write, as in any queue.
func handOffQueue(write, handOff func([]byte) (int, error), getBuf func() []byte, putBuf func([]byte), hdr int) *sendQueue {
	q := newSendQueue(write)
	q.handOff, q.getBuf, q.putBuf, q.hdr = handOff, getBuf, putBuf, hdr
	return q
}

// queuedLocked is how many bytes wait for the sender; q.mu is held.
func (q *sendQueue) queuedLocked() int {
	if q.pending == nil {
		return 0
	}
	return len(q.pending) - q.hdr
}

// syncMax is the largest write sent by the writer itself when nothing is
// queued or being sent: a keystroke, an echo or an ack goes out at once,
// as before, without the hand-over to the sender's goroutine (which cost
// a round trip 5–10 µs). Bulk packets are larger, and go through the
// sender so that the next one is made while this one is sent.
const syncMax = 1 << 10

// PacketBuffer lends n bytes at the end of the queued batch for the next
// Write to fill: x/crypto assembles and seals its next packet there (patch
// 0014), and that Write adds it to the batch without a copy. Until that
// Write the sender does not take the batch; on an idle queue, the Write
// starts the sender. It returns nil, and lends nothing, for a small packet
// to an idle queue (it goes out at once from Write, see syncMax), when the
// batch has no room for n more bytes, or when the queue is closed or
// failed.
func (q *sendQueue) PacketBuffer(n int) []byte {
	q.mu.Lock()
	defer q.mu.Unlock()
	if (!q.running && n <= syncMax) || q.lending || q.closed || q.err != nil || n <= 0 || q.queuedLocked()+n > sendMax {
		return nil
	}
	if q.pending == nil {
		q.pending = q.getBuf()
	}
	if cap(q.pending)-len(q.pending) < n {
		return nil
	}
	q.lending = true
	return q.pending[len(q.pending) : len(q.pending)+n]
}

// tailOf reports whether p is the start of the room after b's bytes (what
// PacketBuffer lent).
func tailOf(b, p []byte) bool {
	return len(p) > 0 && cap(b)-len(b) >= len(p) && &b[:len(b)+1][len(b)] == &p[0]
}

// Write queues p for the sender, or sends a small p itself when the
// queue is idle.
func (q *sendQueue) Write(p []byte) (int, error) {
	q.mu.Lock()
	if q.lending {
		q.lending = false
		q.room.Broadcast() // the sender may wait for the lent room
		if tailOf(q.pending, p) {
			return q.commitLocked(p)
		}
		if !q.running && q.queuedLocked() == 0 && q.pending != nil {
			q.putBuf(q.pending) // lent by an idle queue, given back unused
			q.pending = nil
		}
	}
	for q.queuedLocked() > 0 && q.queuedLocked()+len(p) > sendMax && q.running && q.err == nil && !q.closed {
		q.room.Wait()
	}
	if q.closed {
		q.mu.Unlock()
		return 0, net.ErrClosed
	}
	if q.err != nil {
		err := q.err
		q.mu.Unlock()
		return 0, err
	}
	if len(p) == 0 {
		q.mu.Unlock()
		return 0, nil
	}
	if !q.running && len(p) <= syncMax {
		return q.sendNowLocked(p)
	}
	defer q.mu.Unlock()
	if q.pending == nil {
		q.pending = q.getBuf()
	}
	q.pending = append(q.pending, p...)
	if q.running {
		q.room.Broadcast() // a lingering sender waits for it
		return len(p), nil
	}
	q.startLocked()
	return len(p), nil
}

// commitLocked adds p, filled in the room PacketBuffer lent, to the batch,
// and starts the sender if the queue was idle; q.mu is held, and released
// on return. (A running sender waited for it.)
func (q *sendQueue) commitLocked(p []byte) (int, error) {
	defer q.mu.Unlock()
	if q.closed {
		return 0, net.ErrClosed
	}
	if q.err != nil {
		return 0, q.err
	}
	q.pending = q.pending[:len(q.pending)+len(p)]
	if !q.running {
		q.startLocked()
	}
	return len(p), nil
}

// sendNowLocked writes p from the caller's goroutine, as the sender would
// (writes made meanwhile are queued, and the sender starts for them
// after); q.mu is held, and released on return.
func (q *sendQueue) sendNowLocked(p []byte) (int, error) {
	q.running = true
	stopped := make(chan struct{})
	q.stopped = stopped
	q.mu.Unlock()
	_, err := q.write(p)
	q.mu.Lock()
	if err != nil && q.err == nil {
		q.err = err
	}
	if q.queuedLocked() > 0 && q.err == nil {
		go q.run(stopped)
	} else {
		q.stopLocked(stopped)
	}
	q.mu.Unlock()
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// startLocked starts the sender; q.mu is held and it is not running.
func (q *sendQueue) startLocked() {
	q.running = true
	q.stopped = make(chan struct{})
	go q.run(q.stopped)
}

// senderLinger is how long the sender waits for more once nothing is
// queued, before it stops. In a bulk transfer the next packet comes within
// microseconds of the last batch; a sender that stopped at once was
// started again for it: a goroutine start, its stack grown again to the
// depth of a WebSocket write, and its exit, for every batch (about 5% of
// the gateway's CPU on a bulk WebSocket path). An idle tube still has no
// sender once the linger is over.
const senderLinger = 20 * time.Millisecond

// run sends batches until nothing has been queued for senderLinger, then
// releases the buffers and stops.
func (q *sendQueue) run(stopped chan struct{}) {
	q.mu.Lock()
	for q.err == nil {
		if q.lending {
			// A packet is being sealed at the batch's end (a few µs):
			// its Write comes next, closed or not, and then the batch,
			// with it, can go.
			q.room.Wait()
			continue
		}
		if q.queuedLocked() == 0 {
			if q.closed || !q.lingerLocked() {
				break
			}
			continue
		}
		buf := q.pending
		q.pending, q.spare = q.spare, nil
		q.room.Broadcast()
		q.mu.Unlock()
		var err error
		if q.handOff != nil {
			_, err = q.handOff(buf) // buf is the receiver's now
		} else {
			_, err = q.write(buf)
		}
		q.mu.Lock()
		if q.handOff == nil {
			q.spare = buf[:0]
		}
		if err != nil && q.err == nil {
			q.err = err
		}
	}
	q.stopLocked(stopped)
	q.mu.Unlock()
}

// lingerLocked waits up to q.linger for something to send, and
// reports whether there is (or a packet is being lent room); q.mu is held.
// The buffers go back first: a linger holds no memory but the goroutine's
// (after a burst of handshakes, a sender lingering on each tube's with a
// batch buffer of its own kept 20 KiB per tube in the pool).
func (q *sendQueue) lingerLocked() bool {
	q.releaseBuffersLocked()
	q.idleGen++
	gen := q.idleGen
	if q.idle == nil {
		q.idle = time.AfterFunc(q.linger, q.lingerOver)
	} else {
		q.idle.Reset(q.linger)
	}
	for q.queuedLocked() == 0 && !q.lending && !q.closed && q.err == nil && q.idleEnd != gen {
		q.room.Wait()
	}
	return q.queuedLocked() > 0 || q.lending
}

// lingerOver ends the linger under way. (A fire of the timer that was
// late for an earlier linger may end the current one early: the sender
// then stops, and the next write starts it again, as without a linger.)
func (q *sendQueue) lingerOver() {
	q.mu.Lock()
	q.idleEnd = q.idleGen
	q.room.Broadcast()
	q.mu.Unlock()
}

// stopLocked marks the sender stopped and releases the buffers of an
// empty queue; q.mu is held.
func (q *sendQueue) stopLocked(stopped chan struct{}) {
	if q.lending {
		// A send failed while a writer fills the batch's end: the buffer
		// is not given back for another queue to reuse (the writer's
		// Write then fails with the send's error).
		q.pending = nil
	}
	q.releaseBuffersLocked()
	if q.idle != nil {
		q.idle.Stop()
		q.idle = nil
	}
	q.running = false
	q.room.Broadcast()
	close(stopped)
}

// releaseBuffersLocked gives back the buffer of an empty queue that is
// not lent, and the spare; q.mu is held.
func (q *sendQueue) releaseBuffersLocked() {
	if q.pending != nil && q.queuedLocked() == 0 && !q.lending {
		q.putBuf(q.pending)
		q.pending = nil
	}
	if q.spare != nil {
		q.putBuf(q.spare)
		q.spare = nil
	}
}

// close makes later writes fail and sends what is queued, taking at most
// closeFlushWait: a send still under way then has a write deadline
// (through setDeadline), even when it is stuck on a peer that does not
// read.
func (q *sendQueue) close(setDeadline func(time.Time) error) {
	q.mu.Lock()
	q.closed = true
	q.room.Broadcast()
	var stopped chan struct{}
	if q.running {
		stopped = q.stopped
	}
	q.mu.Unlock()
	if stopped == nil {
		return
	}
	setDeadline(time.Now().Add(closeFlushWait))
	t := time.NewTimer(closeFlushWait)
	defer t.Stop()
	select {
	case <-stopped:
	case <-t.C:
	}
}

// queuedConn is a net.Conn whose writes go through a sendQueue.
type queuedConn struct {
	net.Conn
	q *sendQueue
}

// Write queues p (see sendQueue).
func (c *queuedConn) Write(p []byte) (int, error) { return c.q.Write(p) }

// PacketBuffer lends room at the end of the queue (see sendQueue).
func (c *queuedConn) PacketBuffer(n int) []byte { return c.q.PacketBuffer(n) }

// Close sends what is queued (see sendQueue.close) and closes the
// connection.
func (c *queuedConn) Close() error {
	c.q.close(c.Conn.SetWriteDeadline)
	return c.Conn.Close()
}
