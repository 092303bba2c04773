package bridge

import (
	"testing"
	"time"
)

// senderRunning reports whether q's sender goroutine runs, and its
// stopped channel.
func senderRunning(q *sendQueue) (bool, chan struct{}) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.running, q.stopped
}

// TestSendQueueSenderLingers: once the queue drains, the sender waits for
// the next packet instead of stopping (the same goroutine sends it),
// holding no buffer while it waits, and stops once nothing has come for
// senderLinger.
func TestSendQueueSenderLingers(t *testing.T) {
	g := &gatedWriter{}
	q := newSendQueue(g.write)
	if _, err := q.Write(packet(1, 32<<10)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first packet sent", func() bool { _, n := g.all(); return n == 1 })
	running, first := senderRunning(q)
	if !running {
		t.Fatal("the sender stopped as soon as the queue drained")
	}
	waitFor(t, "the lingering sender to give its buffers back", func() bool {
		q.mu.Lock()
		defer q.mu.Unlock()
		return q.pending == nil && q.spare == nil
	})
	if _, err := q.Write(packet(2, 32<<10)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the second packet sent", func() bool { _, n := g.all(); return n == 2 })
	if _, second := senderRunning(q); second != first {
		t.Fatal("a packet written during the linger started another sender")
	}
	select {
	case <-first:
	case <-time.After(100 * senderLinger):
		t.Fatal("the sender did not stop after its linger")
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.running || q.pending != nil || q.spare != nil || q.idle != nil {
		t.Errorf("after the linger: running %v, buffers %v %v, timer %v; want none", q.running, q.pending != nil, q.spare != nil, q.idle != nil)
	}
}

// TestSendQueueCloseEndsLinger: close ends a sender's linger at once (a
// linger of an hour here: close would otherwise give up after its flush
// bound, with the sender still running).
func TestSendQueueCloseEndsLinger(t *testing.T) {
	g := &gatedWriter{}
	q := newSendQueue(g.write)
	q.linger = time.Hour
	if _, err := q.Write(packet(1, 32<<10)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the packet sent", func() bool { _, n := g.all(); return n == 1 })
	_, stopped := senderRunning(q)
	q.close(func(time.Time) error { return nil })
	select {
	case <-stopped:
	default:
		t.Fatal("close returned with the sender still running")
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Microsecond)
	}
}
