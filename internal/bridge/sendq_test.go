package bridge

import (
	"bytes"
	"errors"
	"net"
	"sync"
	"testing"
	"time"
)

// gatedWriter records writes; while gate is non-nil each write waits for
// a value on it (a send stuck on a slow peer).
type gatedWriter struct {
	mu      sync.Mutex
	writes  [][]byte
	gate    chan struct{}
	entered chan struct{} // told of each write as it starts
	fail    error
}

func (g *gatedWriter) write(p []byte) (int, error) {
	if g.entered != nil {
		g.entered <- struct{}{}
	}
	if g.gate != nil {
		<-g.gate
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.writes = append(g.writes, bytes.Clone(p))
	if g.fail != nil {
		return 0, g.fail
	}
	return len(p), nil
}

func (g *gatedWriter) all() ([]byte, int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return bytes.Join(g.writes, nil), len(g.writes)
}

func packet(i, n int) []byte { return bytes.Repeat([]byte{byte(i)}, n) }

// TestSendQueueBatchesWhileSending: packets written while one is being
// sent go out together as the next write, in order.
func TestSendQueueBatchesWhileSending(t *testing.T) {
	g := &gatedWriter{gate: make(chan struct{}), entered: make(chan struct{}, 100)}
	q := newSendQueue(g.write)
	var want []byte
	first := packet(0, 32<<10)
	if _, err := q.Write(first); err != nil {
		t.Fatal(err)
	}
	want = append(want, first...)
	<-g.entered // the first packet is being sent
	for i := 1; i <= 5; i++ {
		p := packet(i, 32<<10+i)
		if _, err := q.Write(p); err != nil {
			t.Fatal(err)
		}
		want = append(want, p...)
	}
	close(g.gate)
	q.close(func(time.Time) error { return nil })
	got, n := g.all()
	if !bytes.Equal(got, want) {
		t.Fatalf("bytes out of order or lost: %d sent, %d wanted", len(got), len(want))
	}
	if n != 2 {
		t.Errorf("%d writes of the connection, want 2 (the first packet, then the five queued meanwhile)", n)
	}
}

// TestSendQueueSmallWriteAtOnce: a small write to an idle queue is sent
// before Write returns (no hand-over, no timer).
func TestSendQueueSmallWriteAtOnce(t *testing.T) {
	g := &gatedWriter{}
	q := newSendQueue(g.write)
	for i := 0; i < 3; i++ {
		if _, err := q.Write([]byte("key")); err != nil {
			t.Fatal(err)
		}
		if _, n := g.all(); n != i+1 {
			t.Fatalf("after %d small writes, %d were sent", i+1, n)
		}
	}
}

// TestSendQueueBackpressure: a writer waits while sendMax bytes are
// queued behind a send that does not return, and goes on once it does.
func TestSendQueueBackpressure(t *testing.T) {
	g := &gatedWriter{gate: make(chan struct{}), entered: make(chan struct{}, 100)}
	q := newSendQueue(g.write)
	if _, err := q.Write(packet(1, 32<<10)); err != nil {
		t.Fatal(err)
	}
	<-g.entered
	queued := 0
	for queued+32<<10 <= sendMax {
		if _, err := q.Write(packet(2, 32<<10)); err != nil {
			t.Fatal(err)
		}
		queued += 32 << 10
	}
	done := make(chan error, 1)
	go func() { _, err := q.Write(packet(3, 32<<10)); done <- err }()
	select {
	case err := <-done:
		t.Fatalf("a write past %d queued bytes returned (%v) while the send was stuck", queued, err)
	case <-time.After(50 * time.Millisecond): // it waits, as it should
	}
	q.mu.Lock()
	held := len(q.pending)
	q.mu.Unlock()
	if held > sendMax {
		t.Errorf("%d bytes queued, over sendMax %d", held, sendMax)
	}
	close(g.gate)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting write did not go on once the send returned")
	}
	q.close(func(time.Time) error { return nil })
	got, _ := g.all()
	if len(got) != 32<<10+queued+32<<10 {
		t.Errorf("%d bytes sent, want %d", len(got), 32<<10+queued+32<<10)
	}
}

// TestSendQueueError: a failed send is returned by the next write, and
// every one after.
func TestSendQueueError(t *testing.T) {
	boom := errors.New("boom")
	g := &gatedWriter{fail: boom}
	q := newSendQueue(g.write)
	if _, err := q.Write([]byte("small")); !errors.Is(err, boom) {
		t.Fatalf("a small write sent at once: %v, want %v", err, boom)
	}
	for i := 0; i < 2; i++ {
		if _, err := q.Write(packet(1, 32<<10)); !errors.Is(err, boom) {
			t.Fatalf("write %d after the failed send: %v, want %v", i, err, boom)
		}
	}
}

// TestSendQueueAsyncError: a send that fails behind the writer's back
// fails the writes after it, and wakes a writer waiting for room.
func TestSendQueueAsyncError(t *testing.T) {
	boom := errors.New("boom")
	g, q := fullSendQueue(t, boom)
	done := make(chan error, 1)
	go func() { _, err := q.Write(packet(3, 32<<10)); done <- err }()
	close(g.gate)
	select {
	case err := <-done:
		if !errors.Is(err, boom) {
			t.Fatalf("the waiting write: %v, want %v", err, boom)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a failed send did not wake the waiting writer")
	}
}

// TestSendQueueClose: close sends what is queued, later writes fail with
// net.ErrClosed, and a writer waiting for room is woken with it.
func TestSendQueueClose(t *testing.T) {
	g, q := fullSendQueue(t, nil)
	waiting := make(chan error, 1)
	go func() { _, err := q.Write(packet(3, 32<<10)); waiting <- err }()
	closed := make(chan struct{})
	var deadline time.Time
	go func() {
		q.close(func(t time.Time) error { deadline = t; return nil })
		close(closed)
	}()
	select {
	case err := <-waiting:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("the write waiting at close: %v, want net.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("close did not wake the waiting writer")
	}
	close(g.gate)
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("close did not return once the send did")
	}
	if deadline.IsZero() {
		t.Error("close did not bound the send under way with a write deadline")
	}
	got, _ := g.all()
	if want := 32<<10 + sendMax; len(got) != want {
		t.Errorf("%d bytes sent by close, want %d (all that was queued)", len(got), want)
	}
	if _, err := q.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("a write after close: %v, want net.ErrClosed", err)
	}
}

// TestSendQueueCloseStuck: close returns within closeFlushWait when the
// send under way never does.
func TestSendQueueCloseStuck(t *testing.T) {
	g := &gatedWriter{gate: make(chan struct{}), entered: make(chan struct{}, 100)}
	defer close(g.gate)
	q := newSendQueue(g.write)
	if _, err := q.Write(packet(1, 32<<10)); err != nil {
		t.Fatal(err)
	}
	<-g.entered
	done := make(chan struct{})
	go func() { q.close(func(time.Time) error { return nil }); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * closeFlushWait):
		t.Fatal("close waited past its bound on a stuck send")
	}
}

// TestSendQueueConcurrentOrder: bytes from many writes, with the sender
// running and stopping in between, arrive whole and in order.
func TestSendQueueConcurrentOrder(t *testing.T) {
	g := &gatedWriter{}
	q := newSendQueue(g.write)
	var want []byte
	for i := 0; i < 2000; i++ {
		p := packet(i, 1+(i*7919)%(40<<10))
		if _, err := q.Write(p); err != nil {
			t.Fatal(err)
		}
		want = append(want, p...)
	}
	q.close(func(time.Time) error { return nil })
	got, n := g.all()
	if !bytes.Equal(got, want) {
		t.Fatalf("%d bytes sent, %d written, or out of order", len(got), len(want))
	}
	if n > 2000 {
		t.Errorf("%d writes for 2000", n)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.pending != nil || q.spare != nil || q.running {
		t.Error("an idle closed queue still holds a buffer or a sender")
	}
}

// fullSendQueue returns a queue whose first send waits at g's gate (and
// then fails with fail, if set) with sendMax bytes queued behind it: the
// next write waits for room.
func fullSendQueue(t *testing.T, fail error) (*gatedWriter, *sendQueue) {
	t.Helper()
	g := &gatedWriter{gate: make(chan struct{}), entered: make(chan struct{}, 100), fail: fail}
	q := newSendQueue(g.write)
	if _, err := q.Write(packet(1, 32<<10)); err != nil {
		t.Fatal(err)
	}
	<-g.entered
	for n := 0; n+32<<10 <= sendMax; n += 32 << 10 {
		if _, err := q.Write(packet(2, 32<<10)); err != nil {
			t.Fatal(err)
		}
	}
	return g, q
}
