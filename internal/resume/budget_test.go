package resume

import (
	"bytes"
	"io"
	"sync/atomic"
	"testing"
	"time"
)

// TestBudgetSharedByStreams: two tubes of one owner share a budget for what
// they keep unacknowledged. While neither client acknowledges (both
// dropped), the writers stop where the budget runs out, past it only by the
// one chunk a stream with nothing unacknowledged may always send; once the
// clients are back every byte arrives and the budget is whole again.
func TestBudgetSharedByStreams(t *testing.T) {
	const k = 100 << 10
	f := newFixture(t, ServerConfig{Window: time.Minute})
	c1, s1 := f.connect(f.opts())
	c2, s2 := f.connect(f.opts())
	cost := int64(chunkCost(k)) // what a write of k keeps (the budget counts buffers)
	b := NewBudget(3 * cost)
	s1.SetBudget(b)
	s2.SetBudget(b)
	f.failDial.Store(true)
	c1.Drop()
	c2.Drop()
	waitFor(t, "both tubes to be detached", func() bool { return s1.Detached() && s2.Detached() })

	const writes = 5
	var wrote1, wrote2 atomic.Int64
	errs := make(chan error, 2)
	write := func(s *Session, wrote *atomic.Int64) {
		buf := bytes.Repeat([]byte{'x'}, k)
		for range writes {
			if _, err := s.Write(buf); err != nil {
				errs <- err
				return
			}
			wrote.Add(k)
		}
		errs <- nil
	}
	go write(s1, &wrote1)
	waitFor(t, "the first writer to use the budget", func() bool { return wrote1.Load() == 3*k })
	go write(s2, &wrote2)
	waitFor(t, "the second writer's first chunk", func() bool { return wrote2.Load() == k })
	time.Sleep(50 * time.Millisecond) // a writer that ignored the budget would go on now
	if w1, w2, left := wrote1.Load(), wrote2.Load(), b.Left(); w1 != 3*k || w2 != k || left != -cost {
		t.Fatalf("wrote %d and %d with nothing acknowledged, budget left %d; want %d, %d and %d",
			w1, w2, left, 3*k, k, -cost)
	}

	f.failDial.Store(false)
	for i, c := range []*Conn{c1, c2} {
		got, err := io.ReadAll(io.LimitReader(c, writes*k))
		if err != nil || len(got) != writes*k || bytes.Count(got, []byte{'x'}) != len(got) {
			t.Fatalf("client %d got %d bytes, %v", i+1, len(got), err)
		}
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the budget to be whole once everything is acknowledged", func() bool { return b.Left() == 3*cost })
	// A stream that ends gives back what it kept.
	f.failDial.Store(true)
	c1.Drop()
	waitFor(t, "tube 1 to be detached", func() bool { return s1.Detached() })
	if _, err := s1.Write(make([]byte, k)); err != nil {
		t.Fatal(err)
	}
	if b.Left() != 2*cost {
		t.Fatalf("budget left %d with %d unacknowledged, want %d", b.Left(), k, 2*cost)
	}
	// Closed, it keeps them for its client, which comes back for them.
	s1.Close()
	time.Sleep(50 * time.Millisecond)
	if b.Left() != 2*cost {
		t.Fatalf("a tube closed with %d bytes unacknowledged gave them up: budget left %d, want %d", k, b.Left(), 2*cost)
	}
	f.failDial.Store(false)
	if got, err := io.ReadAll(c1); err != nil || len(got) != k {
		t.Fatalf("client 1 came back for %d bytes and an end (%v), want %d and nil", len(got), err, k)
	}
	waitFor(t, "the ended tube to give its bytes back", func() bool { return b.Left() == 3*cost })
}
