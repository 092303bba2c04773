package resume

import (
	"io"
	"testing"
)

// TestReadContiguous returns bytes in place, from the message they were
// received in, only where they lie whole in the first message; nil
// (consuming nothing) where they do not, so that Read takes them; and gives
// a message back only at the read after the one that returned its end.
func TestReadContiguous(t *testing.T) {
	e := newEndpoint(0, 0, 0)
	e.tr, e.gen = nopTransport{}, 1 // the delayed ack goes nowhere
	released := map[*byte]bool{}
	rel := func(b []byte) { released[&b[0]] = true }
	off := uint64(0)
	var msgs [][]byte
	for _, p := range []string{"hello world", "abc"} {
		m := make([]byte, dataHeader+len(p))
		putDataHeader(m, off, 0)
		copy(m[dataHeader:], p)
		if kept, _, err := e.receive(1, m, rel); err != nil || !kept {
			t.Fatalf("receive = %v, %v", kept, err)
		}
		msgs = append(msgs, m)
		off += uint64(len(p))
	}
	b, err := e.ReadContiguous(5)
	if err != nil || string(b) != "hello" || &b[0] != &msgs[0][dataHeader] {
		t.Fatalf("ReadContiguous(5) = %q, %v; want hello, in place", b, err)
	}
	if b, err := e.ReadContiguous(7); b != nil || err != nil {
		t.Fatalf("ReadContiguous(7) across two messages = %q, %v; want nil", b, err)
	}
	b, err = e.ReadContiguous(6)
	if err != nil || string(b) != " world" {
		t.Fatalf("ReadContiguous(6) = %q, %v; want the rest of the first message", b, err)
	}
	if released[&msgs[0][0]] {
		t.Fatal("the first message went back while the bytes just returned from it are in use")
	}
	buf := make([]byte, 8)
	n, err := e.Read(buf)
	if err != nil && err != io.EOF || string(buf[:n]) != "abc" {
		t.Fatalf("Read = %q, %v", buf[:n], err)
	}
	if !released[&msgs[0][0]] || !released[&msgs[1][0]] {
		t.Fatalf("after the next read: released %d of 2 messages", len(released))
	}
	if e.readQLen != 0 {
		t.Fatalf("%d bytes still counted as queued", e.readQLen)
	}
}
