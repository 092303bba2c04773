package resume

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"
	"time"
)

// TestWriteChunkBufferCarriesThroughDrops: bytes handed to the session in
// chunk buffers (kept, not copied) reach the client whole and in order,
// through drops that make the session send them again from those buffers,
// and mixed with plain writes.
func TestWriteChunkBufferCarriesThroughDrops(t *testing.T) {
	f := newFixture(t, ServerConfig{Window: time.Minute})
	c, s := f.connect(f.opts())
	r := rand.New(rand.NewPCG(5, 5))
	var want []byte
	done := make(chan error, 1)
	go func() {
		for i := 0; i < 200; i++ {
			n := 1 + r.IntN(maxChunk)
			p := make([]byte, n)
			for j := range p {
				p[j] = byte(r.Uint32())
			}
			want = append(want, p...)
			var err error
			if i%3 == 0 {
				_, err = s.Write(p)
			} else {
				b := append(ChunkBuffer(), p...)
				var m int
				m, err = s.WriteChunkBuffer(b)
				if err == nil && m != n {
					t.Errorf("WriteChunkBuffer = %d, want %d", m, n)
				}
			}
			if err != nil {
				done <- err
				return
			}
			if i%50 == 25 {
				f.last().Close(0, "test drop") // resumed: the kept buffers are sent again
			}
		}
		done <- s.Close()
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("client read: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("server write: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("client read %d bytes, want %d, the same", len(got), len(want))
	}
}
