//go:build !js

package bridge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/coder/websocket"

	"github.com/tubegate/tubegate/internal/resume"
)

// wsTransport is a WebSocket as a resume.Transport: one binary message
// per frame. Native clients and the gateway use it; the page has its own
// (transport_js.go).
type wsTransport struct{ ws *websocket.Conn }

// transportReadLimit is the largest message: a frame header over the
// largest payload.
const transportReadLimit = ReadLimit + 64

func newTransport(ws *websocket.Conn) wsTransport {
	ws.SetReadLimit(transportReadLimit)
	return wsTransport{ws}
}

// readBufs are the buffers a message is read into before it is copied
// out at its size: one read per frame and one exact allocation per
// message, where io.ReadAll grew a slice from 512 bytes (allocating and
// zeroing about twice each message). A buffer is held only while a
// message is read, so an idle tube holds none.
var readBufs = sync.Pool{New: func() any {
	b := make([]byte, transportReadLimit+1) // the limit is enforced, so a read never fills it
	return &b
}}

func (t wsTransport) ReadMessage(ctx context.Context) ([]byte, error) {
	typ, r, err := t.ws.Reader(ctx)
	if err != nil {
		return nil, transportError(err)
	}
	if typ != websocket.MessageBinary {
		return nil, fmt.Errorf("%w: a text message", resume.ErrBadFrame)
	}
	return readMessage(r)
}

// readMessage reads the message r carries to its end, at most
// transportReadLimit bytes, into a pooled buffer where it is large (give
// it back to releaseMessage).
func readMessage(r io.Reader) ([]byte, error) {
	// Read into a buffer of bigMsgBufs: a message larger than pooledCap
	// (a batch of packets, the bulk of a transfer) stays in it, with no
	// copy; a smaller one is copied out at its size, so that a queue of
	// small messages never pins large buffers.
	mp := bigMsgBufs.Get().(*[]byte)
	buf := (*mp)[:cap(*mp)]
	n, eof, err := readInto(r, buf)
	if err != nil {
		bigMsgBufs.Put(mp)
		return nil, err
	}
	if !eof { // larger than a pooled buffer: on into a read buffer
		bp := readBufs.Get().(*[]byte)
		defer readBufs.Put(bp)
		big := *bp
		copy(big, buf[:n])
		bigMsgBufs.Put(mp)
		m, _, err := readInto(r, big[n:])
		if err != nil {
			return nil, err
		}
		if n += m; n == len(big) {
			return nil, fmt.Errorf("%w: a message over %d bytes", resume.ErrBadFrame, transportReadLimit)
		}
		buf, mp = big, nil
	}
	if n > pooledCap && mp != nil {
		return buf[:n], nil
	}
	if mp != nil {
		defer bigMsgBufs.Put(mp)
	}
	if n > pooledMin && n <= pooledCap {
		sp := msgBufs.Get().(*[]byte)
		return append((*sp)[:0], buf[:n]...), nil
	}
	if n > pooledCap && n <= bigPooledCap {
		bp := bigMsgBufs.Get().(*[]byte)
		return append((*bp)[:0], buf[:n]...), nil
	}
	return bytes.Clone(buf[:n]), nil // no zeroing: the copy fills it
}

// readInto reads a message from r into buf until its end (eof) or until
// buf is full (not eof: the message may be larger).
func readInto(r io.Reader, buf []byte) (n int, eof bool, err error) {
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err == io.EOF {
			return n, true, nil
		}
		if err != nil {
			return n, false, transportError(err)
		}
	}
	return n, false, nil
}

var msgBufs = sync.Pool{New: func() any {
	b := make([]byte, 0, pooledCap)
	return &b
}}

var bigMsgBufs = sync.Pool{New: func() any {
	b := make([]byte, 0, bigPooledCap)
	return &b
}}

// Release takes back a message ReadMessage returned (resume.Releaser).
func (t wsTransport) Release(msg []byte) { releaseMessage(msg) }

// releaseMessage takes back a message readMessage returned.
func releaseMessage(msg []byte) {
	switch cap(msg) {
	case pooledCap:
		msg = msg[:0]
		msgBufs.Put(&msg)
	case bigPooledCap:
		msg = msg[:0]
		bigMsgBufs.Put(&msg)
	}
}

// transportError turns the peer's close frame into a *resume.CloseError.
func transportError(err error) error {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return &resume.CloseError{Code: int(ce.Code), Reason: ce.Reason}
	}
	return err
}

func (t wsTransport) WriteMessage(ctx context.Context, p []byte) error {
	return t.ws.Write(ctx, websocket.MessageBinary, p)
}

func (t wsTransport) Close(code int, reason string) error {
	if code == 0 {
		return t.ws.CloseNow()
	}
	return t.ws.Close(websocket.StatusCode(code), reason)
}
