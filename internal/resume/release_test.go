package resume

import (
	"context"
	"io"
	"testing"
)

// nopTransport drops what is sent and has nothing to read.
type nopTransport struct{}

func (nopTransport) ReadMessage(ctx context.Context) ([]byte, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
func (nopTransport) WriteMessage(context.Context, []byte) error { return nil }
func (nopTransport) Close(int, string) error                    { return nil }

// TestReleaseAfterRead gives a pooled message back only once all its bytes
// are read, and a message the stream does not keep (an ack, a resent
// duplicate) at once.
func TestReleaseAfterRead(t *testing.T) {
	e := newEndpoint(0, 0, 0)
	e.tr, e.gen = nopTransport{}, 1 // the delayed ack goes nowhere
	var released [][]byte
	rel := func(b []byte) { released = append(released, b) }
	data := func(off uint64, p string) []byte {
		m := make([]byte, dataHeader+len(p))
		putDataHeader(m, off, 0)
		copy(m[dataHeader:], p)
		return m
	}
	m1 := data(0, "hello")
	if kept, _, err := e.receive(1, m1, rel); err != nil || !kept {
		t.Fatalf("receive DATA = %v, %v; want kept", kept, err)
	}
	if kept, _, err := e.receive(1, data(0, "hel"), rel); err != nil || kept {
		t.Fatalf("receive a duplicate = %v, %v; want not kept", kept, err)
	}
	if kept, _, err := e.receive(1, encodeAck(0), rel); err != nil || kept {
		t.Fatalf("receive ACK = %v, %v; want not kept", kept, err)
	}
	buf := make([]byte, 3)
	if n, err := e.Read(buf); err != nil || string(buf[:n]) != "hel" {
		t.Fatalf("Read = %q, %v", buf[:n], err)
	}
	if len(released) != 0 {
		t.Fatalf("released %d messages with bytes of one still queued", len(released))
	}
	if n, err := e.Read(buf); err != nil && err != io.EOF || string(buf[:n]) != "lo" {
		t.Fatalf("Read = %q, %v", buf[:n], err)
	}
	if len(released) != 1 || &released[0][0] != &m1[0] {
		t.Fatalf("released %d messages after the last byte was read, want the first", len(released))
	}
}
