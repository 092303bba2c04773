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
// the reader while it holds unread bytes, so an idle connection holds only
// the reader's own 128 bytes.
var (
	readBufs   = sync.Pool{New: func() any { b := make([]byte, ioBufSize); return &b }}
	bufWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, ioBufSize) }}
)

// smallRead is the size of the buffer a lentReader keeps of its own: room
// for the small packets of an idle connection (keepalives, window
// adjusts) in one read.
const smallRead = 128

// lentReader buffers reads like a bufio.Reader. After a read that found
// the peer had sent nothing more (it returned less than asked), the next
// read goes into its own small buffer: that is the read that waits while
// the connection is idle, and it waits without a large one. Otherwise it
// reads into a buffer lent by readBufs, kept while it holds unread bytes.
type lentReader struct {
	r       io.Reader
	lent    *[]byte // from readBufs, while data is in it
	small   [smallRead]byte
	data    []byte           // unread bytes, in small or *lent
	err     error            // the error behind data
	drained bool             // the last read from r returned less than asked
	direct  contiguousReader // r, when it keeps its own buffers: read without buffering
}

func newLentReader(r io.Reader) *lentReader {
	cr, _ := r.(contiguousReader)
	return &lentReader{r: r, drained: true, direct: cr}
}

// Read reads into p from the buffer, or from r.
func (b *lentReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if len(b.data) == 0 && b.err == nil {
		if len(p) >= ioBufSize || b.direct != nil {
			// Large read, nothing buffered: read directly into p.
			n, err := b.r.Read(p)
			b.drained = n < len(p)
			return n, err
		}
		buf := b.small[:]
		if !b.drained {
			b.lent = readBufs.Get().(*[]byte)
			buf = *b.lent
		}
		n, err := b.r.Read(buf)
		b.drained = n < len(buf)
		b.data, b.err = buf[:n], err
	}
	n := copy(p, b.data)
	b.data = b.data[n:]
	if len(b.data) > 0 {
		return n, nil
	}
	if b.lent != nil {
		readBufs.Put(b.lent)
		b.lent = nil
	}
	b.data = nil
	err := b.err
	b.err = nil
	return n, err
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
