package bridge

import (
	"bytes"
	"errors"
	"net"
	"runtime"
	"sync"
	"testing"
)

// sink records each write the batcher makes.
type sink struct {
	mu     sync.Mutex
	writes [][]byte
	err    error
}

func (s *sink) write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return 0, s.err
	}
	s.writes = append(s.writes, bytes.Clone(p))
	return len(p), nil
}

// TestBatcherJoinsWritesInOrder: writes made before the batcher's
// goroutine runs go out as one write, in order, and close writes the last
// batch before it returns.
func TestBatcherJoinsWritesInOrder(t *testing.T) {
	s := &sink{}
	b := newBatcher(s.write)
	var want []byte
	s.mu.Lock() // hold the first write, so that the rest queue behind it
	for i := range 50 {
		p := bytes.Repeat([]byte{byte(i)}, 100+i)
		if _, err := b.Write(p); err != nil {
			t.Fatal(err)
		}
		want = append(want, p...)
	}
	s.mu.Unlock()
	b.close()
	var got []byte
	for _, w := range s.writes {
		got = append(got, w...)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("got %d bytes in %d writes, want the %d written, in order", len(got), len(s.writes), len(want))
	}
	if len(s.writes) > 2 {
		t.Errorf("50 writes queued behind one went out as %d writes, want at most 2", len(s.writes))
	}
	if _, err := b.Write([]byte("late")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Write after close = %v, want net.ErrClosed", err)
	}
}

// TestBatcherReportsFailedWrite: a batch that could not be written fails
// the next Write with its error.
func TestBatcherReportsFailedWrite(t *testing.T) {
	boom := errors.New("boom")
	s := &sink{err: boom}
	b := newBatcher(s.write)
	defer b.close()
	b.Write([]byte("a"))
	var err error
	for range 1000 { // bounded: the goroutine writes at once
		if _, err = b.Write([]byte("b")); err != nil {
			break
		}
		b.mu.Lock()
		for len(b.pending) > 0 && b.err == nil {
			b.drained.Wait()
		}
		b.mu.Unlock()
	}
	if !errors.Is(err, boom) {
		t.Fatalf("Write after a failed batch = %v, want %v", err, boom)
	}
}

// TestBatcherBoundsPending: a writer waits while the batch is at its
// bound, and goes on once the batch before it is written.
func TestBatcherBoundsPending(t *testing.T) {
	s := &sink{}
	b := newBatcher(s.write)
	s.mu.Lock()
	big := make([]byte, batchMax)
	b.Write(big) // the goroutine takes it and gets stuck in the sink
	for {        // bounded: the goroutine takes it at once
		b.mu.Lock()
		taken := len(b.pending) == 0
		b.mu.Unlock()
		if taken {
			break
		}
		runtime.Gosched()
	}
	b.Write(big) // pending at the bound
	wrote := make(chan struct{})
	go func() { b.Write([]byte("x")); close(wrote) }()
	for !waiting(b) {
		runtime.Gosched()
	}
	select {
	case <-wrote:
		t.Fatal("a write beyond the bound did not wait")
	default:
	}
	s.mu.Unlock()
	<-wrote
	b.close()
	n := 0
	for _, w := range s.writes {
		n += len(w)
	}
	if n != 2*batchMax+1 {
		t.Errorf("%d bytes written, want %d", n, 2*batchMax+1)
	}
}

func waiting(b *batcher) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.waiting > 0
}
