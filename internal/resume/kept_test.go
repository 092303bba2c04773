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
