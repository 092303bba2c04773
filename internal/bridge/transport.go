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

// wsTransport is a coder/websocket WebSocket as a resume.Transport: one
// binary message per frame. The gateway uses it, and native clients
// through a SOCKS proxy; other native clients use the lean client, the
// page its own (transport_js.go).
type wsTransport struct {
	ws *websocket.Conn
	// lastBig: the last message read was larger than pooledCap. The next
	// one is read into a buffer for that size first (coder/websocket's
	// reader does not tell a message's length; batches come in runs).
	lastBig bool
}

// transportReadLimit is the largest message: a frame header over the
// largest payload.
const transportReadLimit = ReadLimit + 64

func newTransport(ws *websocket.Conn) *wsTransport {
	ws.SetReadLimit(transportReadLimit)
	return &wsTransport{ws: ws}
}

// readBufs are the buffers a message larger than bigPooledCap is read
// into before it is copied out at its size: one read per frame and one
// exact allocation per message, where io.ReadAll grew a slice from 512
// bytes (allocating and zeroing about twice each message). A buffer is
// held only while a message is read, so an idle tube holds none.
var readBufs = sync.Pool{New: func() any {
	b := make([]byte, transportReadLimit)
	return &b
}}

func (t *wsTransport) ReadMessage(ctx context.Context) ([]byte, error) {
	typ, r, err := t.ws.Reader(ctx)
	if err != nil {
		return nil, transportError(err)
	}
	if typ != websocket.MessageBinary {
		return nil, fmt.Errorf("%w: a text message", resume.ErrBadFrame)
	}
	guess := -1
	if t.lastBig {
		guess = bigPooledCap
	}
	msg, err := readMessage(r, guess)
	t.lastBig = len(msg) > pooledCap
	return msg, err
}

// readMessage reads the message r carries to its end, at most
// transportReadLimit bytes, into a pooled buffer where it is large (give
// it back to releaseMessage). size is its length where the framing told
// it, or a guess (-1: none): a message is read into the smallest buffer
// that holds size bytes, or into ever larger ones (msgTiers), the bytes so
// far copied at each step, and it ends in the smallest that holds it. A
// message of an SSH packet (the bulk of a transfer, from a client that
// sends a packet a message) so lands where it stays, with no copy; a
// batch of packets read with no guess costs one copy of its first 64 KiB,
// and a smaller message read into a buffer guessed for a batch, one copy.
func readMessage(r io.Reader, size int) ([]byte, error) {
	t := 0
	for t < len(msgTiers)-1 && size > msgTierCaps[t] {
		t++
	}
	var held *[]byte // the pooled buffer holding the message so far
	var buf []byte
	n := 0
	var over [1]byte // the byte past a full buffer, if the message goes on
	for ; t < len(msgTiers); t++ {
		bp := msgTiers[t].Get().(*[]byte)
		next := (*bp)[:cap(*bp)]
		copy(next, buf[:n])
		if held != nil {
			next[n] = over[0]
			n++
			msgTiers[t-1].Put(held)
		}
		held, buf = bp, next
		m, eof, err := readInto(r, buf[n:])
		n += m
		if err == nil && !eof { // full: does the message end here?
			var k int
			k, eof, err = readInto(r, over[:])
			eof = eof && k == 0
		}
		if err != nil {
			msgTiers[t].Put(held)
			return nil, err
		}
		if !eof {
			continue
		}
		if n <= pooledMin || t == len(msgTiers)-1 {
			// Small messages are not pooled, so that a queue of them
			// never pins large buffers; a read buffer is only lent.
			out := bytes.Clone(buf[:n]) // no zeroing: the copy fills it
			msgTiers[t].Put(held)
			return out, nil
		}
		if t > 0 && n <= msgTierCaps[t-1] { // guessed too large
			sp := msgTiers[t-1].Get().(*[]byte)
			out := append((*sp)[:0], buf[:n]...)
			msgTiers[t].Put(held)
			return out, nil
		}
		return buf[:n], nil
	}
	msgTiers[len(msgTiers)-1].Put(held)
	return nil, fmt.Errorf("%w: a message over %d bytes", resume.ErrBadFrame, transportReadLimit)
}

// msgTiers are the pools of the buffers readMessage reads into, smallest
// first, and msgTierCaps their sizes.
var (
	msgTiers    = [...]*sync.Pool{&msgBufs, &bigMsgBufs, &readBufs}
	msgTierCaps = [...]int{pooledCap, bigPooledCap, transportReadLimit}
)

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
func (t *wsTransport) Release(msg []byte) { releaseMessage(msg) }

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

func (t *wsTransport) WriteMessage(ctx context.Context, p []byte) error {
	return t.ws.Write(ctx, websocket.MessageBinary, p)
}

func (t *wsTransport) Close(code int, reason string) error {
	if code == 0 {
		return t.ws.CloseNow()
	}
	return t.ws.Close(websocket.StatusCode(code), reason)
}
