package bridge

import (
	"net"
	"runtime"
	"sync"
	"time"
)

// batchMax bounds the bytes a batcher holds: a writer waits above it (the
// resumable stream's largest DATA frame).
const batchMax = 256 << 10

// batcher joins the writes made while it waits for its turn into one
// write. The page's Wasm client runs every goroutine on one thread, and
// the browser calls into it once per WebSocket message: in that one call
// the tube's SSH transport writes a packet of data and a window adjust of
// another channel, each of which was a message of its own (a DATA frame,
// a JS call, an event for the gateway). The batcher's goroutine yields
// first, so the writes of every goroutine that is ready go in one write;
// it never waits on a timer, so nothing is held longer than the call.
type batcher struct {
	write func([]byte) (int, error)

	mu      sync.Mutex
	drained *sync.Cond // signalled when a batch was written
	pending []byte
	spare   []byte
	err     error // a failed write, returned by the next Write
	closed  bool
	writing bool          // the goroutine is writing a batch
	waiting int           // writers waiting for room
	wake    chan struct{} // cap 1: pending became non-empty, or closed
	done    chan struct{} // closed when the goroutine has written the last batch
}

func newBatcher(write func([]byte) (int, error)) *batcher {
	b := &batcher{write: write, wake: make(chan struct{}, 1), done: make(chan struct{})}
	b.drained = sync.NewCond(&b.mu)
	go b.run()
	return b
}

// Write adds p to the batch. It fails with the error of an earlier batch
// that could not be written.
func (b *batcher) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for len(b.pending) >= batchMax && b.err == nil && !b.closed {
		b.waiting++
		b.drained.Wait()
		b.waiting--
	}
	if b.err != nil {
		return 0, b.err
	}
	if b.closed {
		return 0, net.ErrClosed
	}
	if len(b.pending) == 0 {
		b.signal()
	}
	b.pending = append(b.pending, p...)
	return len(p), nil
}

// signal wakes the goroutine; b.mu is held.
func (b *batcher) signal() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

func (b *batcher) run() {
	defer close(b.done)
	for range b.wake {
		runtime.Gosched() // the other ready goroutines add their writes first
		b.mu.Lock()
		buf := b.pending
		b.pending = b.spare[:0]
		closed, failed := b.closed, b.err != nil
		b.writing = len(buf) > 0 && !failed
		b.mu.Unlock()
		var err error
		if len(buf) > 0 && !failed {
			_, err = b.write(buf)
		}
		b.mu.Lock()
		b.spare = buf[:0]
		b.writing = false
		if err != nil && b.err == nil {
			b.err = err
		}
		b.drained.Broadcast()
		last := closed && len(b.pending) == 0
		b.mu.Unlock()
		if last {
			return
		}
	}
}

// close makes later writes fail and waits, at most closeFlushWait, for
// the last batch to be written. With nothing left to write it returns at
// once: on the page a wait lets every other goroutine run first, and the
// SSH client closes its conn before it reports why it ended.
func (b *batcher) close() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		b.drained.Broadcast()
		b.signal()
	}
	idle := len(b.pending) == 0 && !b.writing
	b.mu.Unlock()
	if idle {
		return
	}
	t := time.NewTimer(closeFlushWait)
	defer t.Stop()
	select {
	case <-b.done:
	case <-t.C:
	}
}
