package resume

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// streamMem is a memTransport as a Streamer: WriteRest writes the rest of
// a message in pieces of random sizes, as a splice from a socket does.
type streamMem struct {
	*memTransport
	stats *streamStats
	cur   []byte
	at    int
}

// streamStats is what the streaming ends of a fixture did.
type streamStats struct {
	written atomic.Int64 // payload bytes WriteRest wrote
	// cutAfter, when above 0, drops the transport once WriteRest has
	// written that many more bytes, mid-message (then it is 0 again).
	cutAfter atomic.Int64
}

func (t *streamMem) BeginMessage(ctx context.Context, n int) ([]byte, bool, error) {
	msg, err := t.ReadMessage(ctx)
	if err != nil {
		return nil, false, err
	}
	if len(msg) <= n {
		return msg, false, nil
	}
	t.cur, t.at = msg, n
	return msg[:n], true, nil
}

func (t *streamMem) ReadRest() ([]byte, error) { return t.cur, nil }

func (t *streamMem) WriteRest(w io.Writer, skip int64, out func(), done func(int, error)) error {
	rest := t.cur[t.at:]
	rest = rest[min(int(skip), len(rest)):]
	r := rand.New(rand.NewPCG(uint64(len(rest)), 1))
	for len(rest) > 0 {
		k := min(len(rest), 1+r.IntN(40000))
		if cut := t.stats.cutAfter.Load(); cut > 0 && int64(k) >= cut {
			k = int(cut)
			t.stats.cutAfter.Store(0)
			out()
			n, err := w.Write(rest[:k])
			done(n, err)
			t.stats.written.Add(int64(n))
			t.Close(0, "")
			return errors.New("connection reset mid-message (test)")
		} else if cut > 0 {
			t.stats.cutAfter.Add(-int64(k))
		}
		out()
		n, err := w.Write(rest[:k])
		done(n, err)
		t.stats.written.Add(int64(n))
		if err != nil {
			return err
		}
		rest = rest[k:]
	}
	return nil
}

// TestWriteToStreamsPayloadsInOrder: over a Streamer, WriteTo's writer
// gets the payloads from the transport (not through the queue), after
// what was queued before WriteTo began, whole and in order through a drop
// between messages and a drop mid-message; the copy ends with no error
// when the gateway closes.
func TestWriteToStreamsPayloadsInOrder(t *testing.T) {
	f := newFixture(t, ServerConfig{Window: time.Minute})
	f.streaming = &streamStats{}
	c, s := f.connect(f.opts())
	const early, n = 100 << 10, 6 << 20
	h0, err := pump(s, early, 1)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first bytes received and queued", func() bool { _, r := c.Offsets(); return r >= early })
	sent := make(chan [32]byte, 1)
	go func() {
		h1, err := pump(s, n/3, 2)
		if err != nil {
			t.Error(err)
		}
		f.last().Close(0, "test drop") // between messages
		f.streaming.cutAfter.Store(777_777)
		h2, err := pump(s, n-n/3, 3) // and one mid-message
		if err != nil {
			t.Error(err)
		}
		s.Close()
		sent <- sha256.Sum256(append(append(h0[:], h1[:]...), h2[:]...))
	}()
	w := &hashSplits{cuts: []int{early, n / 3, n - n/3}}
	got, err := io.Copy(w, c)
	if err != nil || got != early+n {
		t.Fatalf("io.Copy = %d, %v; want %d, nil", got, err, early+n)
	}
	if w.sum() != <-sent {
		t.Fatal("the bytes written differ from the bytes sent")
	}
	if f.streaming.cutAfter.Load() != 0 {
		t.Fatal("the drop mid-message never happened")
	}
	if k := f.streaming.written.Load(); k < n/2 {
		t.Fatalf("WriteRest wrote %d bytes of %d: the payloads went through the queue", k, n)
	}
	if ks := f.kinds(); !containsKind(ks, Resumed) {
		t.Fatalf("states %v: no resume", ks)
	}
}

// hashSplits hashes what is written to it in parts cut at cuts.
type hashSplits struct {
	mu   sync.Mutex
	cuts []int
	hs   [][32]byte
	cur  []byte
}

func (w *hashSplits) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		if len(w.cuts) == 0 {
			panic("more bytes than sent")
		}
		k := min(len(p), w.cuts[0]-len(w.cur))
		w.cur = append(w.cur, p[:k]...)
		p = p[k:]
		if len(w.cur) == w.cuts[0] {
			w.hs = append(w.hs, sha256.Sum256(w.cur))
			w.cur, w.cuts = nil, w.cuts[1:]
		}
	}
	return n, nil
}

func (w *hashSplits) sum() [32]byte {
	var all []byte
	for _, h := range w.hs {
		all = append(all, h[:]...)
	}
	return sha256.Sum256(all)
}

// TestWriteToSlowWriterIsNoDeadPeer: a writer that takes longer than
// the dead-transport timeout to take a payload is waited for; the
// transport is not dropped for the silence that causes.
func TestWriteToSlowWriterIsNoDeadPeer(t *testing.T) {
	f := newFixture(t, ServerConfig{Window: time.Minute})
	f.streaming = &streamStats{}
	c, s := f.connect(f.opts()) // heartbeat 1 s: dead after 3 s of silence
	go func() {
		pump(s, 1<<20, 4)
		s.Close()
	}()
	slow := &slowWriter{pause: 4 * time.Second}
	if got, err := io.Copy(slow, c); err != nil || got != 1<<20 {
		t.Fatalf("io.Copy = %d, %v; want %d, nil", got, err, 1<<20)
	}
	if ks := f.kinds(); containsKind(ks, Reconnecting) {
		t.Fatalf("states %v: the slow writer was taken for a dead transport", ks)
	}
}

// slowWriter pauses once, at its first write.
type slowWriter struct {
	pause time.Duration
	once  sync.Once
}

func (w *slowWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { time.Sleep(w.pause) })
	return len(p), nil
}

// TestWriteToStreamWriterFails: a writer's error ends WriteTo with it.
func TestWriteToStreamWriterFails(t *testing.T) {
	f := newFixture(t, ServerConfig{Window: time.Minute})
	f.streaming = &streamStats{}
	c, s := f.connect(f.opts())
	go pump(s, 1<<20, 5)
	broken := errors.New("stdout closed (test)")
	n, err := c.WriteTo(&failingWriter{w: io.Discard, after: 3, err: broken})
	if !errors.Is(err, broken) {
		t.Fatalf("WriteTo = %d, %v; want the writer's error", n, err)
	}
}
