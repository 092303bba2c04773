package forward

import (
	"errors"
	"io"
	"net"
	"sync"

	"golang.org/x/crypto/ssh"
)

// bufSize is the copy buffer size: large enough for one full SSH channel
// window update, small enough to keep idle tubes cheap.
const bufSize = 32 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

// Pipe copies bytes both ways between a and b until both directions end,
// then closes both. A direction that ends half-closes its writer where the
// connection supports it, so request/response protocols finish cleanly.
//
// One direction runs on the calling goroutine: a connection costs one
// goroutine start (and its stack's growth) less.
func Pipe(a, b net.Conn) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); copyHalf(b, a) }()
	copyHalf(a, b)
	wg.Wait()
	a.Close()
	b.Close()
}

func copyHalf(dst, src net.Conn) {
	var err error
	if writeTo := packetWriterTo(src); writeTo != nil {
		_, err = writeTo(dst)
	} else if readFrom := packetReaderFrom(dst); readFrom != nil {
		_, err = readFrom(src)
	} else {
		bp := bufPool.Get().(*[]byte)
		_, err = io.CopyBuffer(writerOnly{dst}, readerOnly{src}, *bp)
		bufPool.Put(bp)
	}
	if err != nil && !errors.Is(err, net.ErrClosed) {
		// A broken direction breaks the pair: close both so the other
		// direction does not wait forever on a peer that is gone.
		dst.Close()
		src.Close()
		return
	}
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	} else {
		dst.Close()
	}
}

// readerOnly and writerOnly hide ReadFrom/WriteTo so CopyBuffer uses the
// pooled buffer instead of allocating one of its own.
type readerOnly struct{ io.Reader }
type writerOnly struct{ io.Writer }

// packetWriter is an SSH channel that writes its data to an io.Writer
// straight from the packets it received (third_party x/crypto patch 0010):
// a copy fewer than reading it into a buffer.
type packetWriter interface {
	ssh.Channel
	io.WriterTo
}

// packetWriterTo returns src's WriteTo when src is such a channel, counted
// if src is, and nil otherwise (a TCP conn's WriteTo would allocate its own
// buffer).
func packetWriterTo(src net.Conn) func(io.Writer) (int64, error) {
	switch c := src.(type) {
	case *countedConn:
		if pw, ok := c.Conn.(packetWriter); ok {
			return func(w io.Writer) (int64, error) { return pw.WriteTo(readCounter{w, c}) }
		}
	case packetWriter:
		return c.WriteTo
	}
	return nil
}

// packetReader is an SSH channel that reads what it sends straight into
// the packets that carry it (third_party x/crypto patch 0015): two copies
// fewer than writing it from a buffer.
type packetReader interface {
	ssh.Channel
	io.ReaderFrom
}

// packetReaderFrom returns dst's ReadFrom when dst is such a channel,
// counted if dst is, and nil otherwise.
func packetReaderFrom(dst net.Conn) func(io.Reader) (int64, error) {
	switch c := dst.(type) {
	case *countedConn:
		if pr, ok := c.Conn.(packetReader); ok {
			return func(r io.Reader) (int64, error) { return pr.ReadFrom(writeCounter{r, c}) }
		}
	case packetReader:
		return c.ReadFrom
	}
	return nil
}
