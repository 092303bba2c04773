//go:build !js

package bridge

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"

	"github.com/tubegate/tubegate/internal/writev"
)

// coder/websocket keeps the bufio.Reader and bufio.Writer that net/http's
// Hijack returns for the connection's whole life: 4 KiB each, a third of
// an idle WebSocket tube's heap (docs/perf/idle-memory.md). leanWriter
// hands it smaller ones instead. The writer takes a 4 KiB buffer for one
// message at a time, so the connection sees the same writes as with
// net/http's (see frameWriter). The reader is a small bufio.Reader on the
// connection: a reader that lent itself a large buffer while it held bytes
// (as the patched x/crypto/ssh's does) would be one more call under the
// read an idle tube waits in, and that call alone took the waiting
// goroutine's stack over the size the runtime shrinks it to (+4 KiB per
// tube, more than the buffer it saves).

// writeBufSize is the size of the buffer lent to write a message: a
// default bufio buffer, as net/http's is.
const writeBufSize = 4096

// readBufSize is the size of the connection's read buffer: room for the
// small messages of an idle or interactive tube (keepalives, window
// adjusts, keystrokes) in one read. A larger message is read in two: its
// header with the start of its payload, then the rest straight into the
// message's buffer (as a 4 KiB bufio.Reader does for most of a message
// larger than 4 KiB).
const readBufSize = 128

// tinyWriteBuf is the size of the bufio.Writer handed to coder/websocket,
// which passes what it gathers on to a frameWriter: room for a frame
// header (bufio.Writer has no smallest size).
const tinyWriteBuf = 16

var writeBufs = sync.Pool{New: func() any {
	b := make([]byte, 0, writeBufSize)
	return &b
}}

// leanWriter is an http.ResponseWriter whose Hijack returns the connection
// with small buffers instead of net/http's own.
type leanWriter struct {
	http.ResponseWriter
	hj http.Hijacker
}

// leanHijack wraps w for websocket.Accept. A w that cannot hijack is
// returned as it is (Accept then refuses it).
func leanHijack(w http.ResponseWriter) http.ResponseWriter {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return w
	}
	return leanWriter{ResponseWriter: w, hj: hj}
}

// Unwrap gives http.ResponseController the writer underneath.
func (w leanWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack takes the connection from net/http and returns it with a small
// bufio.Reader and a bufio.Writer on a frameWriter. Bytes net/http read
// past the request are in the reader's buffer (coder/websocket serves what
// the reader holds before it reads the connection), which is made as
// large as they need.
func (w leanWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := w.hj.Hijack()
	if err != nil {
		return nil, nil, fmt.Errorf("hijack: %w", err)
	}
	var br *bufio.Reader
	if n := brw.Reader.Buffered(); n > 0 {
		past, _ := brw.Reader.Peek(n) // n are buffered: no read, no error
		br = bufio.NewReaderSize(io.MultiReader(bytes.NewReader(past), nc), max(readBufSize, n))
		if _, err := br.Peek(n); err != nil {
			nc.Close()
			return nil, nil, fmt.Errorf("hijack: bytes past the request: %w", err)
		}
	} else {
		br = bufio.NewReaderSize(nc, readBufSize)
	}
	bw := bufio.NewWriterSize(&frameWriter{w: nc, sock: writev.Socket(nc)}, tinyWriteBuf)
	return nc, bufio.NewReadWriter(br, bw), nil
}

// frameWriter is what coder/websocket's small bufio.Writer writes to. It
// buffers the bytes in a buffer of writeBufSize lent by writeBufs, as a
// bufio.Writer of that size would, and flushes it where the stream reaches
// the end of a final WebSocket frame, which is where coder/websocket
// flushes its own: the connection sees the writes net/http's 4 KiB
// bufio.Writer would have made, and nothing is held between messages.
// Where the connection is a socket beneath pass-through wrappers
// (writev.Socket), a write too large for the buffer goes out with what the
// buffer holds (a frame header) in one writev, instead of the buffer
// filled from it, written, and then the rest: one system call per large
// message, not two. coder/websocket writes a frame under its own lock, so
// calls never overlap.
type frameWriter struct {
	w    io.Writer
	sock net.Conn // the socket beneath w, or nil
	buf  *[]byte  // lent while a frame is being written: bytes not yet written
	tail frameTail
}

func (f *frameWriter) Write(p []byte) (int, error) {
	ended := f.tail.advance(p)
	if f.buf == nil {
		f.buf = writeBufs.Get().(*[]byte)
	}
	err := f.write(p)
	if err == nil && ended {
		if b := *f.buf; len(b) > 0 {
			_, err = f.w.Write(b)
		}
	}
	if err == nil && !ended {
		return len(p), nil
	}
	*f.buf = (*f.buf)[:0]
	writeBufs.Put(f.buf)
	f.buf = nil
	if err != nil {
		f.tail = frameTail{}
		return 0, fmt.Errorf("websocket write: %w", err)
	}
	return len(p), nil
}

// write takes p as bufio.Writer's Write does with the lent buffer, but
// hands a p too large to buffer to the socket together with the bytes
// buffered before it, where there is a socket.
func (f *frameWriter) write(p []byte) error {
	b := *f.buf
	if f.sock != nil && len(b) > 0 && len(b)+len(p) > cap(b) {
		v := net.Buffers{b, p}
		_, err := v.WriteTo(f.sock)
		*f.buf = b[:0]
		return err
	}
	for len(p) > cap(b)-len(b) {
		if len(b) == 0 { // nothing buffered: straight through
			*f.buf = b
			_, err := f.w.Write(p)
			return err
		}
		k := copy(b[len(b):cap(b)], p)
		b, p = b[:len(b)+k], p[k:]
		if _, err := f.w.Write(b); err != nil {
			return err
		}
		b = b[:0]
	}
	*f.buf = append(b, p...)
	return nil
}

// frameTail follows the WebSocket frames (RFC 6455, section 5.2) in a
// stream of bytes, to tell where one ends.
type frameTail struct {
	hdr  [14]byte // the current frame's header, as far as seen
	n    int      // bytes of hdr seen
	left uint64   // payload bytes of the current frame still to come
	body bool     // the header is complete: left counts down the payload
	fin  bool     // the last frame completed had FIN set
}

// advance follows p and reports whether it ends exactly where a frame with
// FIN set ends.
func (t *frameTail) advance(p []byte) bool {
	ended := false
	for len(p) > 0 {
		ended = false
		if t.body {
			k := uint64(len(p))
			if k > t.left {
				k = t.left
			}
			t.left -= k
			p = p[k:]
		} else {
			t.hdr[t.n] = p[0]
			t.n++
			p = p[1:]
			if t.n < 2 || t.n < headerLen(t.hdr[1]) {
				continue
			}
			t.left = payloadLen(t.hdr[:t.n])
			t.body = true
		}
		if t.left == 0 {
			t.fin = t.hdr[0]&0x80 != 0
			t.n, t.body, ended = 0, false, true
		}
	}
	return ended && t.fin
}

// headerLen is the length of a frame header from its second byte: two
// bytes, the extended payload length, and the masking key.
func headerLen(b1 byte) int {
	n := 2
	switch b1 & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b1&0x80 != 0 {
		n += 4
	}
	return n
}

// payloadLen reads the payload length from a complete frame header.
func payloadLen(h []byte) uint64 {
	switch l := h[1] & 0x7f; l {
	case 126:
		return uint64(h[2])<<8 | uint64(h[3])
	case 127:
		var v uint64
		for _, b := range h[2:10] {
			v = v<<8 | uint64(b)
		}
		return v
	default:
		return uint64(l)
	}
}
