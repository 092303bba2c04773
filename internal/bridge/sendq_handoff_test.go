package bridge

import (
	"bytes"
	"sync"
	"testing"
	"time"
)

// keeper is a receiver of handed-off batches: it keeps each buffer, as a
// resumable stream keeps its chunks, and checks that the queue never
// writes into one it has handed over.
type keeper struct {
	mu      sync.Mutex
	kept    [][]byte // the buffers, as handed over
	copies  [][]byte // their bytes at the time
	small   [][]byte // writes sent with write (copied by the receiver)
	order   []int    // 0: a batch, 1: a small write, in the order sent
	hdr     int
	badRoom int
}

func (k *keeper) handOff(b []byte) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, x := range b[:k.hdr] {
		if x != 0xEE {
			k.badRoom++
			break
		}
	}
	k.kept = append(k.kept, b)
	k.copies = append(k.copies, bytes.Clone(b))
	k.order = append(k.order, 0)
	return len(b) - k.hdr, nil
}

func (k *keeper) write(p []byte) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.small = append(k.small, bytes.Clone(p))
	k.order = append(k.order, 1)
	return len(p), nil
}

// stream is every byte received, batches and small writes in order.
func (k *keeper) stream() []byte {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []byte
	b, s := 0, 0
	for _, o := range k.order {
		if o == 0 {
			out = append(out, k.kept[b][k.hdr:]...)
			b++
		} else {
			out = append(out, k.small[s]...)
			s++
		}
	}
	return out
}

// TestHandOffQueueKeepsBatchesWhole: a hand-off queue sends every byte in
// order, leaves each batch's header room alone, and never touches a buffer
// once it has handed it over (the receiver keeps it, here until the end).
func TestHandOffQueueKeepsBatchesWhole(t *testing.T) {
	const hdr = 12
	var pool sync.Pool
	getBuf := func() []byte {
		if b, ok := pool.Get().(*[]byte); ok {
			return (*b)[:hdr]
		}
		b := make([]byte, hdr, hdr+sendMax)
		for i := range b {
			b[i] = 0xEE
		}
		return b
	}
	k := &keeper{hdr: hdr}
	q := handOffQueue(k.write, k.handOff, getBuf, func(b []byte) { pool.Put(&b) }, hdr)
	var want []byte
	for i := 0; i < 3000; i++ {
		p := packet(i, 1+(i*7919)%(40<<10))
		if i%7 == 0 {
			p = packet(i, 1+i%500) // small ones, some sent at once by the writer
			if i%21 == 0 {
				time.Sleep(100 * time.Microsecond) // let the queue go idle now and then
			}
		}
		if _, err := q.Write(p); err != nil {
			t.Fatal(err)
		}
		want = append(want, p...)
	}
	q.close(func(time.Time) error { return nil })
	if got := k.stream(); !bytes.Equal(got, want) {
		t.Fatalf("received %d bytes, want %d, the same in order", len(got), len(want))
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.badRoom > 0 {
		t.Fatalf("%d batches came with their header room written to", k.badRoom)
	}
	for i := range k.kept {
		if !bytes.Equal(k.kept[i], k.copies[i]) {
			t.Fatalf("batch %d of %d was changed after it was handed over", i, len(k.kept))
		}
	}
	if len(k.kept) == 0 {
		t.Fatal("no batch was handed over: the test proves nothing")
	}
	t.Logf("%d batches handed over, %d small writes sent at once", len(k.kept), len(k.small))
}
