package resume

import "sync"

// Budget is the memory the streams of one owner (a user's resumable tubes)
// may keep together for unacknowledged bytes, on top of each stream's own
// bound: a client that never acknowledges makes the gateway keep what it
// sends, and one user may hold many tubes. What counts is the buffers kept
// (chunkCost), not the bytes in them: a tiny write keeps a 4 KiB chunk. A
// stream that keeps nothing may always send one chunk (at most 256 KiB),
// so that each stream moves on its own peer's acknowledgements and never
// waits on another's: what an owner can make the other side keep is the
// budget plus a chunk per stream. It is safe for concurrent use.
type Budget struct {
	mu    sync.Mutex
	left  int64
	freed chan struct{} // closed when bytes come back while a stream waits; nil: none waits
}

// NewBudget returns a budget of n bytes.
func NewBudget(n int64) *Budget { return &Budget{left: n} }

// Left returns the bytes not taken.
func (b *Budget) Left() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.left
}

// take takes n bytes, or, when force is false and fewer are left, nothing:
// it then returns a channel closed once bytes are given back.
func (b *Budget) take(n int64, force bool) (bool, <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if force || b.left >= n {
		b.left -= n
		return true, nil
	}
	if b.freed == nil {
		b.freed = make(chan struct{})
	}
	return false, b.freed
}

// give gives back n bytes taken and wakes the streams waiting for them.
func (b *Budget) give(n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.left += n
	if b.freed != nil {
		close(b.freed)
		b.freed = nil
	}
}

// setBudget counts what the stream keeps for unacknowledged bytes, now and
// from now on, in b (see Budget). A stream that has ended is left alone.
func (e *endpoint) setBudget(b *Budget) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err != nil || e.budget == b {
		return
	}
	if e.budget != nil {
		e.budget.give(e.kept)
	}
	b.take(e.kept, true)
	e.budget = b
}

// unacked returns the bytes kept for the peer.
func (e *endpoint) unacked() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return int(e.sendNext - e.sendBase)
}

// keptBytes returns the memory kept for the peer (see endpoint.kept).
func (e *endpoint) keptBytes() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.kept
}
