package bridge

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// TestSendQueueLendsPacketBuffer: while a batch is being sent, PacketBuffer
// lends room at the end of the next one; the Write of it adds it without a
// copy, in order with copied writes, and the sender waits for that Write
// before it takes the batch.
func TestSendQueueLendsPacketBuffer(t *testing.T) {
	g := &gatedWriter{gate: make(chan struct{}), entered: make(chan struct{}, 100)}
	q := newSendQueue(g.write)
	if b := q.PacketBuffer(100); b != nil {
		t.Fatal("an idle queue lent room for a small packet (it goes out at once)")
	}
	first := packet(0, 32<<10)
	lentFirst := q.PacketBuffer(len(first)) // a large one starts the sender once written
	if len(lentFirst) != len(first) {
		t.Fatalf("an idle queue lent %d bytes for a large packet, want %d", len(lentFirst), len(first))
	}
	copy(lentFirst, first)
	q.Write(lentFirst)
	<-g.entered // being sent: the queue runs
	second := packet(1, 1000)
	q.Write(second) // copied
	lent := q.PacketBuffer(32 << 10)
	if len(lent) != 32<<10 {
		t.Fatalf("lent %d bytes, want %d", len(lent), 32<<10)
	}
	if q.PacketBuffer(10) != nil {
		t.Fatal("lent twice before the first Write")
	}
	copy(lent, packet(2, len(lent)))
	g.gate <- struct{}{} // the first send ends; the sender waits for the lent room
	time.Sleep(20 * time.Millisecond)
	if _, n := g.all(); n != 1 {
		t.Fatalf("%d sends before the lent room was written, want 1", n)
	}
	if n, err := q.Write(lent); n != len(lent) || err != nil {
		t.Fatalf("Write of the lent room: %d, %v", n, err)
	}
	q.Write(packet(3, 500)) // copied after it
	close(g.gate)
	q.close(func(time.Time) error { return nil })
	got, n := g.all()
	want := bytes.Join([][]byte{first, second, packet(2, 32<<10), packet(3, 500)}, nil)
	if !bytes.Equal(got, want) {
		t.Fatalf("%d bytes sent in %d writes, not the %d written in order", len(got), n, len(want))
	}
}

// TestSendQueueLendsNothingPastItsBound: no room is lent past sendMax, and
// a lent buffer written back empty is given back unused.
func TestSendQueueLendsNothingPastItsBound(t *testing.T) {
	g, q := fullSendQueue(t, nil)
	if b := q.PacketBuffer(32 << 10); b != nil {
		t.Fatalf("lent %d bytes to a full queue", len(b))
	}
	close(g.gate)
	q.close(func(time.Time) error { return nil })

	g = &gatedWriter{gate: make(chan struct{}), entered: make(chan struct{}, 100)}
	q = newSendQueue(g.write)
	q.Write(packet(0, 32<<10))
	<-g.entered
	lent := q.PacketBuffer(100)
	if n, err := q.Write(lent[:0]); n != 0 || err != nil {
		t.Fatalf("giving back: %d, %v", n, err)
	}
	if again := q.PacketBuffer(100); len(again) != 100 || &again[0] != &lent[0] {
		t.Fatal("the room given back is not lent again")
	}
	q.Write(nil)
	close(g.gate)
	q.close(func(time.Time) error { return nil })
	if got, _ := g.all(); len(got) != 32<<10 {
		t.Fatalf("%d bytes sent, want only the first packet's", len(got))
	}
}

// TestSendQueueIdleLendGivenBack: room an idle queue lent and got back
// unused leaves it holding no buffer, as an idle queue does.
func TestSendQueueIdleLendGivenBack(t *testing.T) {
	g := &gatedWriter{}
	q := newSendQueue(g.write)
	lent := q.PacketBuffer(32 << 10)
	if lent == nil {
		t.Fatal("an idle queue lent no room for a large packet")
	}
	q.Write(lent[:0])
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.pending != nil || q.running {
		t.Fatalf("after giving the room back: a buffer held %v, sender running %v", q.pending != nil, q.running)
	}
}

// TestSendQueueLentWriteAfterFailure: a send that fails while room is lent
// fails the lent Write, and the batch's buffer is not reused by the pool.
func TestSendQueueLentWriteAfterFailure(t *testing.T) {
	boom := errors.New("connection reset (test)")
	g := &gatedWriter{gate: make(chan struct{}), entered: make(chan struct{}, 100), fail: boom}
	q := newSendQueue(g.write)
	q.Write(packet(0, 32<<10))
	<-g.entered
	lent := q.PacketBuffer(100)
	g.gate <- struct{}{} // the send fails
	deadline := time.Now().Add(5 * time.Second)
	for {
		q.mu.Lock()
		running := q.running
		q.mu.Unlock()
		if !running || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	copy(lent, packet(9, 100))
	if _, err := q.Write(lent); !errors.Is(err, boom) {
		t.Fatalf("Write of the lent room after a failed send: %v, want the send's error", err)
	}
}
