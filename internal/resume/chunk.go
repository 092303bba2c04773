package resume

import "sync"

// chunk is one Write's bytes (up to maxChunk), with room for a DATA
// header in front, kept until the peer acknowledges them.
type chunk struct {
	off uint64 // stream offset of buf[dataHeader]
	buf []byte
	// pooled: buf is chunkPoolCap bytes from chunks, and goes back once
	// acknowledged. freed: it was acknowledged while being sent, and the
	// sender gives it back.
	pooled, freed bool
}

// chunkPoolCap is the capacity of a pooled chunk: a DATA header and the
// most the bridge writes at once in bulk (an SSH packet of 32 KiB with its
// framing, see bridge's coalescer), with room to spare. Writes of more
// get a buffer of their own.
const chunkPoolCap = dataHeader + 64<<10 + 64

// chunks recycles chunks: a tube in bulk writes one per SSH packet, and a
// fresh 32 KiB buffer for each (zeroed, then garbage) cost more than the
// copy into it.
var chunks = sync.Pool{New: func() any { return &chunk{buf: make([]byte, 0, chunkPoolCap), pooled: true} }}

// newChunk returns a chunk holding b at stream offset off.
func newChunk(off uint64, b []byte) *chunk {
	n := dataHeader + len(b)
	var c *chunk
	if n <= chunkPoolCap {
		c = chunks.Get().(*chunk)
		c.buf = c.buf[:n]
	} else {
		c = &chunk{buf: make([]byte, n)}
	}
	c.off = off
	copy(c.buf[dataHeader:], b)
	return c
}

// releaseLocked gives c back to the pool once the stream no longer needs
// it; e.mu is held. A chunk being sent goes back when the send returns.
func (e *endpoint) releaseLocked(c *chunk) {
	if !c.pooled {
		return
	}
	if c == e.sending {
		c.freed = true
		return
	}
	c.buf, c.freed = c.buf[:0], false
	chunks.Put(c)
}

func (c *chunk) end() uint64 { return c.off + uint64(len(c.buf)-dataHeader) }
