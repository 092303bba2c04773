package resume

import (
	"errors"
	"os"
	"testing"
	"time"
)

// keptCapacity is the memory e's chunks hold: their buffers' capacity.
func keptCapacity(e *endpoint) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, c := range e.chunks {
		n += cap(c.buf)
	}
	return n
}

// fillWithTinyWrites writes 10-byte writes to e until one waits past a
// short deadline: a peer that never acknowledges, and an owner made to
// write small packets (say, a client's requests that the gateway answers).
// It returns how many were taken.
func fillWithTinyWrites(t *testing.T, e *endpoint, most int) int {
	t.Helper()
	for i := range most {
		e.setDeadlines(false, true, time.Now().Add(20*time.Millisecond))
		if _, err := e.Write([]byte("0123456789")); err != nil {
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatal(err)
			}
			return i
		}
	}
	t.Fatalf("%d tiny writes taken: the bound never stopped the writer", most)
	return most
}

// TestBoundCountsMemoryKept: the bound caps the memory a stream keeps for
// a peer that does not acknowledge, not the bytes: tiny writes each kept
// in a chunk of its own would otherwise hold hundreds of times the bound.
func TestBoundCountsMemoryKept(t *testing.T) {
	const bound = 64 << 10
	e := newEndpoint(bound, 0, 0) // detached: nothing is acknowledged
	n := fillWithTinyWrites(t, e, 100000)
	if kept := keptCapacity(e); kept > bound+smallChunkPoolCap {
		t.Fatalf("%d tiny writes keep %d bytes of buffers for a bound of %d", n, kept, bound)
	}
}

// TestBudgetCountsMemoryKept: so does the owner's budget, over its
// streams together.
func TestBudgetCountsMemoryKept(t *testing.T) {
	const budget = 64 << 10
	b := NewBudget(budget)
	streams := []*endpoint{newEndpoint(DefaultBound, 0, 0), newEndpoint(DefaultBound, 0, 0)}
	kept := 0
	for _, e := range streams {
		e.setBudget(b)
		fillWithTinyWrites(t, e, 100000)
		kept += keptCapacity(e)
	}
	// Each stream may always take one chunk (see Budget).
	if most := budget + len(streams)*smallChunkPoolCap; kept > most {
		t.Fatalf("the streams keep %d bytes of buffers for a budget of %d", kept, budget)
	}
	for _, e := range streams {
		e.end(errors.New("test over"), 0, "")
	}
	if b.Left() != budget {
		t.Fatalf("the budget has %d left once the streams ended, want all %d back", b.Left(), budget)
	}
}

// TestBoundKeepsFullBuffersNearIt: near its bound a stream keeps a
// part-filled chunk buffer in one of the batch's size, so that a peer slow
// to acknowledge gets the bound's worth of bytes in flight, not a bound of
// mostly empty buffers. A sender hands over 40 KiB batches in 256 KiB
// buffers (a send queue whose batches the peer's pace cuts short), and the
// peer acknowledges the oldest chunk whenever the stream is full.
func TestBoundKeepsFullBuffersNearIt(t *testing.T) {
	const bound, batch = 4 << 20, 40 << 10
	e := newEndpoint(bound, 0, 0) // detached: acknowledged below, by hand
	for range 400 {
		b := ChunkBuffer()
		b = b[:len(b)+batch]
		for {
			e.mu.Lock()
			full := e.kept > 0 && e.kept+int64(cap(b)) > bound
			if full {
				if err := e.ackLocked(e.chunks[0].end()); err != nil {
					t.Fatal(err)
				}
			}
			e.mu.Unlock()
			if !full {
				break
			}
		}
		e.setDeadlines(false, true, time.Now().Add(time.Second))
		if _, err := e.writeChunkBuffer(b); err != nil {
			t.Fatal(err)
		}
	}
	bytes, kept := e.unacked(), e.keptBytes()
	if kept > bound {
		t.Fatalf("%d bytes of buffers kept for a bound of %d", kept, bound)
	}
	if bytes < bound*3/4 {
		t.Fatalf("%d bytes in flight in %d bytes of buffers, for a bound of %d: want at least three quarters of the bound", bytes, kept, bound)
	}
	t.Logf("%d bytes in flight in %d bytes of buffers (bound %d)", bytes, kept, bound)
}
