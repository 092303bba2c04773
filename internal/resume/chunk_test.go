package resume

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// gateTransport blocks each WriteMessage until the test lets it go, and
// reports the message it was given.
type gateTransport struct {
	nopTransport
	sent    chan []byte
	proceed chan struct{}
}

func (g gateTransport) WriteMessage(_ context.Context, p []byte) error {
	g.sent <- p
	<-g.proceed
	return nil
}

// TestChunkAckedWhileSentIsKept: a chunk the peer acknowledges while it
// is still being sent stays untouched until the send returns, and only
// then goes back to the pool; a chunk acknowledged at rest goes back at
// once.
func TestChunkAckedWhileSentIsKept(t *testing.T) {
	e := newEndpoint(0, 0, 0)
	g := gateTransport{sent: make(chan []byte), proceed: make(chan struct{})}
	e.tr, e.gen = g, 1
	payload := bytes.Repeat([]byte("x"), 32<<10)
	wrote := make(chan error)
	go func() { _, err := e.Write(payload); wrote <- err }()
	msg := <-g.sent
	e.mu.Lock()
	c := e.chunks[0]
	if !c.pooled {
		t.Fatal("a 32 KiB write did not get a pooled chunk")
	}
	if err := e.ackLocked(uint64(len(payload))); err != nil {
		t.Fatal(err)
	}
	if !c.freed || len(c.buf) != dataHeader+len(payload) {
		t.Errorf("acknowledged while sent: freed %v, %d bytes; want kept whole until the send returns", c.freed, len(c.buf))
	}
	e.mu.Unlock()
	if !bytes.Equal(msg[dataHeader:], payload) {
		t.Error("the message being sent changed")
	}
	close(g.proceed)
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if c.freed || len(c.buf) != 0 || len(e.chunks) != 0 {
		t.Errorf("after the send: freed %v, %d bytes, %d chunks kept; want it back in the pool", c.freed, len(c.buf), len(e.chunks))
	}
	// At rest: back at once.
	c2 := newChunk(e.sendNext, []byte("abc"))
	e.chunks = append(e.chunks, c2)
	e.sendNext = c2.end()
	e.wireNext = e.sendNext
	if err := e.ackLocked(e.sendNext); err != nil {
		t.Fatal(err)
	}
	if c2.freed || len(c2.buf) != 0 {
		t.Errorf("acknowledged at rest: freed %v, %d bytes; want back in the pool", c2.freed, len(c2.buf))
	}
}

// TestLargeWriteNotPooled: a write larger than a pooled chunk gets a
// big pooled chunk (a batch of packets), and one larger than that a
// buffer of its own, which is never put in the pool.
func TestLargeWriteNotPooled(t *testing.T) {
	c := newChunk(0, make([]byte, chunkPoolCap))
	if !c.pooled || cap(c.buf) != bigChunkPoolCap {
		t.Errorf("a %d-byte write: pooled %v, cap %d; want a big pooled chunk", chunkPoolCap, c.pooled, cap(c.buf))
	}
	c = newChunk(0, make([]byte, bigChunkPoolCap))
	if c.pooled || cap(c.buf) < dataHeader+bigChunkPoolCap {
		t.Errorf("a %d-byte write: pooled %v, cap %d", bigChunkPoolCap, c.pooled, cap(c.buf))
	}
}

// TestSmallWritesKeepSmallChunks: what a tube keeps of a small write
// until its peer acknowledges it is a small chunk, whether it came by
// Write or gathered in a big buffer (WriteChunkBuffer, the send queue's
// batches), and the big buffer is not kept: a client that does not
// acknowledge its handshake's few KiB holds no 256 KiB buffer.
func TestSmallWritesKeepSmallChunks(t *testing.T) {
	e := newEndpoint(0, 0, 0) // detached: every chunk is kept
	if _, err := e.Write(bytes.Repeat([]byte("k"), 100)); err != nil {
		t.Fatal(err)
	}
	b := ChunkBuffer()
	b = append(b, bytes.Repeat([]byte("h"), 3000)...)
	if _, err := e.writeChunkBuffer(b); err != nil {
		t.Fatal(err)
	}
	big := append(ChunkBuffer(), bytes.Repeat([]byte("x"), 5000)...)
	if _, err := e.writeChunkBuffer(big); err != nil {
		t.Fatal(err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.chunks) != 3 {
		t.Fatalf("%d chunks kept, want 3", len(e.chunks))
	}
	for i, want := range []int{smallChunkPoolCap, smallChunkPoolCap, bigChunkPoolCap} {
		if c := e.chunks[i]; !c.pooled || cap(c.buf) != want {
			t.Errorf("chunk %d (%d bytes): pooled %v, cap %d; want a pooled chunk of %d", i, len(c.buf)-dataHeader, c.pooled, cap(c.buf), want)
		}
	}
	if got := string(e.chunks[1].buf[dataHeader:]); got != strings.Repeat("h", 3000) {
		t.Errorf("the small batch's bytes changed in its copy")
	}
}
