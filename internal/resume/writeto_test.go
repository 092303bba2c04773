package resume

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"testing"
	"time"
)

// TestWriteToCarriesEverythingThenEnds: io.Copy from a client Conn uses
// WriteTo; what the gateway sent arrives whole and in order, through
// drops, and the copy ends with no error when the gateway closes.
func TestWriteToCarriesEverythingThenEnds(t *testing.T) {
	f := newFixture(t, ServerConfig{Window: time.Minute})
	c, s := f.connect(f.opts())
	const n = 3 << 20
	sent := make(chan [32]byte, 1)
	go func() {
		h, err := pump(s, n/2, 7)
		if err != nil {
			t.Error(err)
		}
		f.last().Close(0, "test drop") // a drop mid-stream: resumed, nothing lost
		h2, err := pump(s, n-n/2, 8)
		if err != nil {
			t.Error(err)
		}
		s.Close()
		sent <- [32]byte(sha256.Sum256(append(h[:], h2[:]...)))
	}()
	var first, second bytes.Buffer
	w := &splitWriter{a: &first, b: &second, at: n / 2}
	got, err := io.Copy(w, c)
	if err != nil || got != n {
		t.Fatalf("io.Copy = %d, %v; want %d, nil", got, err, n)
	}
	h1, h2 := sha256.Sum256(first.Bytes()), sha256.Sum256(second.Bytes())
	if want := <-sent; [32]byte(sha256.Sum256(append(h1[:], h2[:]...))) != want {
		t.Fatal("the bytes written differ from the bytes sent")
	}
}

// splitWriter writes the first at bytes to a and the rest to b.
type splitWriter struct {
	a, b io.Writer
	at   int
}

func (w *splitWriter) Write(p []byte) (int, error) {
	if w.at > 0 {
		k := min(w.at, len(p))
		w.a.Write(p[:k])
		w.at -= k
		w.b.Write(p[k:])
		return len(p), nil
	}
	return w.b.Write(p)
}

// TestWriteToReleasesEachMessage gives every pooled message back once it
// is written, and stops at the first failed write with its error.
func TestWriteToReleasesEachMessage(t *testing.T) {
	e := newEndpoint(0, 0, 0)
	e.tr, e.gen = nopTransport{}, 1
	released := 0
	rel := func([]byte) { released++ }
	off := uint64(0)
	for _, p := range []string{"hello ", "world"} {
		m := make([]byte, dataHeader+len(p))
		putDataHeader(m, off, 0)
		copy(m[dataHeader:], p)
		if kept, _, err := e.receive(1, m, rel); err != nil || !kept {
			t.Fatalf("receive = %v, %v", kept, err)
		}
		off += uint64(len(p))
	}
	broken := errors.New("stdout closed (test)")
	var out bytes.Buffer
	n, err := e.WriteTo(&failingWriter{w: &out, after: 1, err: broken})
	if !errors.Is(err, broken) || n != 6 || out.String() != "hello " {
		t.Fatalf("WriteTo = %d, %v, wrote %q; want 6, the writer's error, %q", n, err, out.String(), "hello ")
	}
	if released != 2 {
		t.Fatalf("released %d messages, want both (one written, one failed)", released)
	}
	e.setDeadlines(true, false, time.Now().Add(-time.Second))
	if _, err := e.WriteTo(io.Discard); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("WriteTo past the read deadline = %v, want a deadline error", err)
	}
}

// failingWriter writes its first after writes to w, then fails with err.
type failingWriter struct {
	w     io.Writer
	after int
	err   error
}

func (f *failingWriter) Write(p []byte) (int, error) {
	if f.after == 0 {
		return 0, f.err
	}
	f.after--
	return f.w.Write(p)
}
