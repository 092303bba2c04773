package bridge

import (
	"bytes"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

type recorder struct {
	mu     sync.Mutex
	writes [][]byte
}

func (r *recorder) write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes = append(r.writes, bytes.Clone(p))
	return len(p), nil
}

func (r *recorder) snapshot() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.writes...)
}

func TestCoalescerJoinsFragmentWithRest(t *testing.T) {
	var r recorder
	c := &coalescer{write: r.write}
	frag := bytes.Repeat([]byte{1}, fragmentSize)
	rest := bytes.Repeat([]byte{2}, 30000)
	if n, err := c.Write(frag); n != len(frag) || err != nil {
		t.Fatalf("Write(fragment) = %d, %v", n, err)
	}
	if n, err := c.Write(rest); n != len(rest) || err != nil {
		t.Fatalf("Write(rest) = %d, %v", n, err)
	}
	w := r.snapshot()
	if len(w) != 1 || !bytes.Equal(w[0], append(bytes.Clone(frag), rest...)) {
		t.Fatalf("want one write of fragment+rest, got %d writes", len(w))
	}
}

func TestCoalescerPassesSmallWritesAtOnce(t *testing.T) {
	var r recorder
	c := &coalescer{write: r.write}
	c.Write([]byte("ping"))
	if w := r.snapshot(); len(w) != 1 || string(w[0]) != "ping" {
		t.Fatalf("small write not sent at once: %q", w)
	}
}

// TestCoalescerFlushesLoneFragment: a fragment whose packet does not go on
// is held for fragmentHold, then sent (on the bubble's fake clock).
func TestCoalescerFlushesLoneFragment(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var r recorder
		c := &coalescer{write: r.write}
		frag := bytes.Repeat([]byte{3}, fragmentSize)
		c.Write(frag)
		synctest.Wait()
		if w := r.snapshot(); len(w) != 0 {
			t.Fatalf("a fragment was sent before its hold ended: %d writes", len(w))
		}
		time.Sleep(fragmentHold)
		synctest.Wait()
		if w := r.snapshot(); len(w) != 1 || !bytes.Equal(w[0], frag) {
			t.Fatalf("a lone fragment was not flushed: %d writes", len(w))
		}
	})
}
