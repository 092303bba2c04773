// Copyright 2026 The Tubegate Authors. Patch to golang.org/x/crypto/ssh;
// see third_party/patches/x-crypto-0004-no-io-buffers-while-idle.patch.

package ssh

import (
	"bufio"
	"io"
	"sync"
)

// ioBufSize is the size of the transport's read and write buffers: a
// default bufio buffer, as upstream uses, so the connection sees the same
// reads and writes.
const ioBufSize = 4096

// Upstream gives every connection a bufio.Reader and a bufio.Writer of
// its own for its whole life: 8 KiB per connection, most of the memory of
// an idle one. Here both are lent by pools, the writer for one packet and
// the reader while it holds unread bytes, so an idle connection holds none.
var (
	readBufs   = sync.Pool{New: func() any { b := make([]byte, ioBufSize); return &b }}
	bufWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, ioBufSize) }}
)

// lentReader buffers reads like a bufio.Reader, in a buffer lent by
// readBufs while it holds bytes not yet read. After a read that found
// the peer had sent nothing more (it returned less than asked), the next
// small read goes straight into the caller's slice: that is the read that
// waits while the connection is idle, and it waits without a buffer.
type lentReader struct {
	r          io.Reader
	buf        *[]byte // nil while empty
	start, end int
	err        error // the error behind the buffered bytes
	drained    bool  // the last read from r returned less than asked
}

func newLentReader(r io.Reader) *lentReader { return &lentReader{r: r, drained: true} }

// Read reads into p from the buffer, or from r.
func (b *lentReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if b.buf != nil {
		n := copy(p, (*b.buf)[b.start:b.end])
		b.start += n
		if b.start == b.end {
			b.release()
		}
		return n, nil
	}
	if b.err != nil {
		err := b.err
		b.err = nil
		return 0, err
	}
	if b.drained || len(p) >= ioBufSize {
		// Likely to wait, or large: read directly into p.
		n, err := b.r.Read(p)
		b.drained = n < len(p)
		return n, err
	}
	buf := readBufs.Get().(*[]byte)
	n, err := b.r.Read(*buf)
	b.drained = n < len(*buf)
	if n <= len(p) {
		copy(p, (*buf)[:n])
		readBufs.Put(buf)
		return n, err
	}
	b.buf, b.start, b.end, b.err = buf, len(p), n, err
	return copy(p, *buf), nil
}

func (b *lentReader) release() {
	readBufs.Put(b.buf)
	b.buf, b.start, b.end = nil, 0, 0
}

// lentWriter writes each packet through a bufio.Writer lent by bufWriters
// and flushed before it goes back, so the writes reaching the connection
// are those of upstream's own bufio.Writer.
type lentWriter struct{ w io.Writer }

// get lends a writer to w; put flushes nothing and gives it back.
func (l lentWriter) get() *bufio.Writer {
	bw := bufWriters.Get().(*bufio.Writer)
	bw.Reset(l.w)
	return bw
}

func (l lentWriter) put(bw *bufio.Writer) {
	bw.Reset(nil)
	bufWriters.Put(bw)
}
