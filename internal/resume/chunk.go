package resume

import "sync"

// chunk is one Write's bytes (up to maxChunk), with room for a DATA
// header in front, kept until the peer acknowledges them.
type chunk struct {
	off  uint64 // stream offset of buf[dataHeader]
	buf  []byte
	cost int // what the bound and the budget count for it (see chunkCost)
	// pooled: buf is from chunks or bigChunks, and goes back once
	// acknowledged. freed: it was acknowledged while being sent, and the
	// sender gives it back.
	pooled, freed bool
}

// chunkPoolCap is the capacity of a pooled chunk: a DATA header and one
// SSH packet of 32 KiB with its framing, with room to spare. A tube's
// lone writes (and each packet, when its writes are not queued) fit it.
const chunkPoolCap = dataHeader + 64<<10 + 64

// smallChunkPoolCap is the capacity of a small pooled chunk: a DATA header
// and the writes of an idle or interactive tube (keystrokes, echoes, acks,
// keepalives) and of its SSH handshake. A chunk is kept until the peer
// acknowledges it: a small write that took a 64 KiB chunk (or a small
// batch a 256 KiB one) held that much for a round trip, and for as long
// as a client did not acknowledge it (one that never does, before it has
// even authenticated, held 256 KiB for a few KiB counted against it).
const smallChunkPoolCap = dataHeader + 4<<10

// bigChunkPoolCap is the capacity of a pooled big chunk: a DATA header
// and the largest payload, what bridge's send queue writes at once in
// bulk (several SSH packets). Only writes of more than chunkPoolCap get
// one, so a tube that writes little never pins one.
const bigChunkPoolCap = dataHeader + maxChunk

// chunks and bigChunks recycle chunks: a tube in bulk writes one per
// batch of SSH packets, and a fresh buffer for each (zeroed, then
// garbage) cost more than the copy into it.
var (
	smallChunks = sync.Pool{New: func() any { return &chunk{buf: make([]byte, 0, smallChunkPoolCap), pooled: true} }}
	chunks      = sync.Pool{New: func() any { return &chunk{buf: make([]byte, 0, chunkPoolCap), pooled: true} }}
	bigChunks   = sync.Pool{New: func() any { return &chunk{buf: make([]byte, 0, bigChunkPoolCap), pooled: true} }}
)

// chunkCost is the memory newChunk's chunk of n bytes holds: its pool's
// capacity, or a buffer of its own. The bound and the budget count it,
// not the bytes: each write is a chunk, and a peer that does not
// acknowledge makes the stream keep every one.
func chunkCost(n int) int {
	n += dataHeader
	switch {
	case n <= smallChunkPoolCap:
		return smallChunkPoolCap
	case n <= chunkPoolCap:
		return chunkPoolCap
	case n <= bigChunkPoolCap:
		return bigChunkPoolCap
	}
	return n
}

// newChunk returns a chunk holding b at stream offset off.
func newChunk(off uint64, b []byte) *chunk {
	n := dataHeader + len(b)
	var c *chunk
	switch chunkCost(len(b)) {
	case smallChunkPoolCap:
		c = smallChunks.Get().(*chunk)
		c.buf = c.buf[:n]
	case chunkPoolCap:
		c = chunks.Get().(*chunk)
		c.buf = c.buf[:n]
	case bigChunkPoolCap:
		c = bigChunks.Get().(*chunk)
		c.buf = c.buf[:n]
	default:
		c = &chunk{buf: make([]byte, n)}
	}
	c.off = off
	copy(c.buf[dataHeader:], b)
	return c
}

// releaseLocked gives c back to its pool once the stream no longer needs
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
	switch cap(c.buf) {
	case bigChunkPoolCap:
		bigChunks.Put(c)
	case chunkPoolCap:
		chunks.Put(c)
	case smallChunkPoolCap:
		smallChunks.Put(c)
	}
}

func (c *chunk) end() uint64 { return c.off + uint64(len(c.buf)-dataHeader) }

// ChunkBufferRoom is the length of an empty ChunkBuffer: the room for a
// DATA header in front of the bytes.
const ChunkBufferRoom = dataHeader

// ChunkBuffer returns an empty buffer for WriteChunkBuffer: len is
// ChunkBufferRoom, and it has room for maxChunk bytes after it. A
// writer that gathers its bytes in it hands them to the stream without
// the copy Write makes.
func ChunkBuffer() []byte {
	c := bigChunks.Get().(*chunk)
	return c.buf[:dataHeader]
}

// PutChunkBuffer gives back a buffer from ChunkBuffer that was not handed
// to WriteChunkBuffer.
func PutChunkBuffer(b []byte) {
	if cap(b) == bigChunkPoolCap {
		bigChunks.Put(&chunk{buf: b[:0], pooled: true})
	}
}

// writeChunkBuffer sends b[dataHeader:] and keeps b as its chunk until
// the peer acknowledges it (b is from ChunkBuffer, or any buffer with the
// header's room in front); b is the stream's from then on, whatever the
// outcome.
func (e *endpoint) writeChunkBuffer(b []byte) (int, error) {
	n := len(b) - dataHeader
	if n > maxChunk { // a chunk is at most maxChunk: copy it in pieces
		defer PutChunkBuffer(b)
		return e.Write(b[dataHeader:])
	}
	if n <= 0 {
		PutChunkBuffer(b)
		return 0, nil
	}
	if len(b) <= smallChunkPoolCap {
		// A small batch is kept in a small chunk, and the large buffer it
		// was gathered in goes back at once (see smallChunkPoolCap).
		defer PutChunkBuffer(b)
		return e.Write(b[dataHeader:])
	}
	if tightSize(len(b)) < cap(b) && e.pressed(cap(b)) {
		defer PutChunkBuffer(b)
		if err := e.writeTight(b); err != nil {
			return 0, err
		}
		return n, nil
	}
	err := e.addChunk(n, cap(b), func(off uint64) *chunk {
		return &chunk{off: off, buf: b, pooled: cap(b) == bigChunkPoolCap}
	})
	if err != nil {
		PutChunkBuffer(b) // the stream ended before it took b
		return 0, err
	}
	return n, nil
}

// pressed reports whether keeping a buffer of c bytes more would take the
// stream past three quarters of its bound, or leave its owner's budget
// with less than a quarter of a bound.
func (e *endpoint) pressed(c int) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.kept+int64(c) > int64(e.bound)/4*3 {
		return true
	}
	return e.budget != nil && e.budget.Left() < int64(e.bound)/4+int64(c)
}

// tightRound is what the size of a tight chunk is rounded up to: the Go
// heap's page, which a large buffer takes whole.
const tightRound = 8 << 10

// tightSize is the capacity of a tight chunk for a buffer of n bytes.
func tightSize(n int) int { return (n + tightRound - 1) / tightRound * tightRound }

// writeTight sends b[dataHeader:], a batch that does not fill its buffer,
// from a copy in a buffer of its own size (tightSize). A stream near its
// bound does so: the bound counts each buffer kept whole, and a sender
// whose peer is slow to acknowledge hands over batches of any size, many
// of a packet or two in a 256 KiB buffer. Over a link with a long round trip,
// a tube in bulk on several channels then kept 6.0 MiB of bytes in its
// 8 MiB of buffers, and carried a fifth less than when the bound counted
// bytes. Away from its bound the stream keeps the buffer handed over, and
// nothing is copied.
func (e *endpoint) writeTight(b []byte) error {
	n := len(b) - dataHeader
	t := make([]byte, len(b), tightSize(len(b)))
	copy(t[dataHeader:], b[dataHeader:])
	return e.addChunk(n, cap(t), func(off uint64) *chunk { return &chunk{off: off, buf: t} })
}
