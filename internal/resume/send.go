package resume

// The stream's sending side: Write keeps each chunk until the peer
// acknowledges it (within the bound and the owner's budget), and the pump
// sends what is unsent, and a due ACK, on the attached transport.

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

// Write keeps p until the peer acknowledges it and sends it if a
// transport is attached. It waits while the memory kept for
// unacknowledged bytes would pass the bound; it never drops bytes.
func (e *endpoint) Write(p []byte) (int, error) {
	total := 0
	for len(p) > 0 {
		n := min(len(p), maxChunk)
		if err := e.writeChunk(p[:n]); err != nil {
			return total, err
		}
		total += n
		p = p[n:]
	}
	return total, nil
}

func (e *endpoint) writeChunk(b []byte) error {
	return e.addChunk(len(b), chunkCost(len(b)), func(off uint64) *chunk { return newChunk(off, b) })
}

// addChunk adds the chunk of n bytes that mk makes at its stream offset,
// whose buffer's capacity is cost, once the bound (and the budget) has
// room for cost more, and sends what is due.
func (e *endpoint) addChunk(n, cost int, mk func(off uint64) *chunk) error {
	e.mu.Lock()
	for {
		if e.err != nil || e.closedLocally {
			err := e.err
			e.mu.Unlock()
			if err == nil || err == io.EOF {
				err = net.ErrClosed
			}
			return err
		}
		var budgetFreed <-chan struct{}
		if e.kept == 0 || e.kept+int64(cost) <= int64(e.bound) {
			if e.budget == nil {
				break
			}
			// The owner's budget (budget.go): a stream that keeps
			// nothing takes its chunk regardless.
			ok, freed := e.budget.take(int64(cost), e.kept == 0)
			if ok {
				break
			}
			budgetFreed = freed
		}
		if expired(e.wdl) {
			e.mu.Unlock()
			return os.ErrDeadlineExceeded
		}
		e.waitWr++
		ok := e.waitLockedOr(e.wdl, budgetFreed)
		e.waitWr--
		if !ok {
			e.mu.Unlock()
			return os.ErrDeadlineExceeded
		}
	}
	c := mk(e.sendNext)
	c.cost = cost
	e.chunks = append(e.chunks, c)
	e.kept += int64(cost)
	e.sendNext = c.end()
	attached := e.tr != nil
	e.mu.Unlock()
	if attached {
		e.writeMu.Lock()
		e.pumpLocked()
		e.writeMu.Unlock()
		e.kickIfDue()
	}
	return nil
}

// due reports whether something waits to be sent; e.mu is held.
func (e *endpoint) dueLocked() bool {
	return e.tr != nil && e.sendBroken != e.gen && (e.ackDue || e.wireNext < e.sendNext)
}

// kickIfDue sends what is due unless another goroutine is sending, which
// then sends it (see pumpLocked's callers). It never waits for the lock.
func (e *endpoint) kickIfDue() {
	for {
		e.mu.Lock()
		due := e.dueLocked()
		e.mu.Unlock()
		if !due || !e.writeMu.TryLock() {
			return
		}
		e.pumpLocked()
		e.writeMu.Unlock()
	}
}

// pumpLocked sends the unsent chunks and a due ACK on the attached
// transport; e.writeMu is held.
func (e *endpoint) pumpLocked() {
	for {
		e.mu.Lock()
		tr, gen, readDone := e.tr, e.gen, e.readDone
		if tr == nil || e.sendBroken == gen {
			e.mu.Unlock()
			return
		}
		var msg []byte
		var next uint64
		var c *chunk
		if i := e.chunkAt(e.wireNext); i >= 0 {
			c = e.chunks[i]
			start := e.wireNext - c.off
			// The header goes just before the first unsent byte: what it
			// overwrites was acknowledged (a resume from mid-chunk) or is
			// the header room.
			msg = c.buf[start:]
			putDataHeader(msg, e.wireNext, e.recvNext)
			next = c.end()
		} else if e.ackDue {
			msg = encodeAck(e.recvNext)
			next = e.wireNext
		} else {
			e.mu.Unlock()
			return
		}
		e.ackedRecv = e.recvNext
		e.ackDue = false
		e.lastSend = time.Now()
		e.sending = c
		e.mu.Unlock()
		// No context of its own: whatever detaches the transport closes
		// it (detachLocked), which ends a write under way too, as it does
		// a read; a write given a context that can end would arm and
		// disarm a context.AfterFunc per message (coder/websocket and the
		// lean client both do).
		err := tr.WriteMessage(context.Background(), msg)
		e.mu.Lock()
		e.sending = nil
		if c != nil && c.freed {
			e.releaseLocked(c)
		}
		if err == nil && e.gen == gen {
			e.wireNext = next
		}
		e.mu.Unlock()
		if err != nil {
			e.sendFailed(gen, readDone, fmt.Errorf("send: %w", err))
			return
		}
	}
}

// chunkAt returns the index of the chunk holding offset off, or -1.
func (e *endpoint) chunkAt(off uint64) int {
	if off >= e.sendNext {
		return -1
	}
	// Sends go from the front after a resume and from the back otherwise.
	for i := len(e.chunks) - 1; i >= 0; i-- {
		if e.chunks[i].off <= off {
			return i
		}
	}
	return -1
}
