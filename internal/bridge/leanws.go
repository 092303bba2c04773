//go:build !js

package bridge

// leanWS is a WebSocket of our own, at both ends of a tube.
//
// As a client it is under every native client's tube (raw, leanconn.go, or
// resumable; ws:// or wss://) but one through a SOCKS proxy. It writes
// each message as one masked frame in one write, where coder/websocket's
// client masked and wrote 4 KiB at a time. And it is a resume.Streamer:
// the payload of a message goes from the socket to a writer without being
// read into memory, and where the writer is a pipe (gateway connect's
// stdout, read by ssh) and the socket plain TCP, the kernel splices it
// there (splice_linux.go) with no copy at all; coder/websocket can only
// hand a message's bytes to a Read.
//
// As the gateway's end (server is set) it reads masked frames, unmasking
// them as they are read, and writes unmasked ones, a frame's header and
// payload in one writev. An idle tube's WebSocket is this struct, a
// 128-byte read buffer and the socket: coder/websocket's connection held
// several KiB more, and its reader kept x/crypto's reading goroutine deep
// enough that its stack never shrank (docs/perf/idle-memory.md). The
// page stays on the browser's WebSocket.
//
// This file reads; leanws_dial.go opens the WebSocket as a client,
// leanws_accept.go as the gateway, leanws_write.go writes and closes it.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/tubegate/tubegate/internal/resume"
)

// WebSocket opcodes (RFC 6455 §5.2).
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xa
)

// leanReadBuf is the connection's read buffer: frame headers and small
// messages are read through it; the bulk of a large payload is not.
const leanReadBuf = 4096

// closeWait bounds how long Close waits for the peer's close frame.
const closeWait = 2 * time.Second

// websocketGUID is RFC 6455's key suffix for Sec-WebSocket-Accept.
const websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

type leanWS struct {
	conn        net.Conn
	br          *bufio.Reader
	cr          *cappedReader // under br: see bulkFrameHeader
	bulk        bool          // the last message begun was large
	subprotocol string
	server      bool // the gateway's end: frames read are masked, frames written are not

	readMu    sync.Mutex // one reader at a time (and Close's wait)
	frameLeft uint64     // payload bytes of the current frame not yet read
	fin       bool       // the current frame is its message's last
	mask      uint32     // the current frame's masking key, rotated to where its payload is read (server)
	head      []byte     // BeginMessage's bytes
	headLen   int
	msgCtx    context.Context // the context of the message begun
	gone      chan struct{}   // closed once the reader has met the end
	goneOnce  sync.Once
	out       spliceOut // WriteRest's way to a pipe (splice_linux.go)

	park *parkingConn // conn, where its reader may park while idle (server; leanws_park.go)

	wmu       sync.Mutex
	sock      net.Conn      // the socket beneath conn where writes pass through to it (server), or nil
	rng       *rand.ChaCha8 // masking keys (RFC 6455 §5.3)
	closeSent bool
}

// Subprotocol is the subprotocol the gateway chose ("" for none).
func (c *leanWS) Subprotocol() string { return c.subprotocol }

// watch drops the connection when ctx ends, until the returned stop.
func (c *leanWS) watch(ctx context.Context) func() bool {
	if ctx == nil || ctx.Done() == nil {
		return func() bool { return true }
	}
	return context.AfterFunc(ctx, func() { c.conn.Close() })
}

// ended marks the reader's end: the peer's close frame, or an error.
func (c *leanWS) ended(err error) error {
	c.goneOnce.Do(func() { close(c.gone) })
	return err
}

// Close statuses (RFC 6455 §7.4.1) the gateway's end fails a WebSocket
// with.
const (
	statusProtocolError   = 1002
	statusUnsupportedData = 1003
	statusTooBig          = 1009
)

// fail marks the reader's end at a frame that breaks the protocol. The
// gateway's end also tells the client why, in a close frame with status
// code. A write under way is given closeWait to end first (the deadline
// fails one to a client that reads nothing): the frame must not be lost
// to a sender that has just written the last bytes the client read, nor
// the reader held up for long.
func (c *leanWS) fail(code int, err error) error {
	if c.server {
		c.conn.SetWriteDeadline(time.Now().Add(closeWait))
		c.wmu.Lock()
		if !c.closeSent {
			c.closeSent = true
			msg := err.Error()
			p := binary.BigEndian.AppendUint16(make([]byte, 0, 2+min(len(msg), 123)), uint16(code))
			p = append(p, msg[:min(len(msg), 123)]...)
			c.writeUnmasked(opClose, p)
		}
		c.wmu.Unlock()
	}
	return c.ended(err)
}

// nextFrame reads frame headers up to the next data frame, answering
// pings and taking a close frame (a *resume.CloseError); c.readMu is held.
func (c *leanWS) nextFrame() (op byte, err error) {
	for {
		var h [14]byte
		if _, err := io.ReadFull(c.br, h[:2]); err != nil {
			return 0, c.ended(err)
		}
		n := headerLen(h[1])
		if _, err := io.ReadFull(c.br, h[2:n]); err != nil {
			return 0, c.ended(err)
		}
		op, fin, size := h[0]&0x0f, h[0]&0x80 != 0, payloadLen(h[:n])
		switch {
		case h[0]&0x70 != 0:
			return 0, c.fail(statusProtocolError, errors.New("websocket: a frame with reserved bits set"))
		case h[1]&0x80 != 0 && !c.server:
			return 0, c.fail(statusProtocolError, errors.New("websocket: a masked frame from the server"))
		case h[1]&0x80 == 0 && c.server:
			return 0, c.fail(statusProtocolError, errors.New("websocket: an unmasked frame from the client"))
		}
		var key uint32
		if c.server {
			key = binary.LittleEndian.Uint32(h[n-4 : n])
		}
		switch {
		case op < opClose:
			if size > 1<<62 {
				return 0, c.fail(statusTooBig, errors.New("websocket: a frame length out of range"))
			}
			c.frameLeft, c.fin, c.mask = size, fin, key
			return op, nil
		case !fin || size > 125:
			return 0, c.fail(statusProtocolError, fmt.Errorf("websocket: a control frame (%#x) fragmented or of %d bytes", op, size))
		}
		var p [125]byte
		if _, err := io.ReadFull(c.br, p[:size]); err != nil {
			return 0, c.ended(err)
		}
		if c.server {
			unmask(p[:size], key)
		}
		switch op {
		case opPing:
			if err := c.writeFrame(opPong, p[:size]); err != nil {
				return 0, c.ended(err)
			}
		case opPong:
		case opClose:
			return 0, c.ended(c.peerClosed(p[:size]))
		default:
			return 0, c.fail(statusProtocolError, fmt.Errorf("websocket: a frame of unknown opcode %#x", op))
		}
	}
}

// peerClosed answers the peer's close frame p (unless ours went first)
// and returns it as the *resume.CloseError the stream expects.
func (c *leanWS) peerClosed(p []byte) error {
	ce := &resume.CloseError{Code: 1005} // no status
	if len(p) >= 2 {
		ce.Code, ce.Reason = int(binary.BigEndian.Uint16(p)), string(p[2:])
	}
	c.wmu.Lock()
	sent := c.closeSent
	c.wmu.Unlock()
	if !sent {
		reply := p[:min(len(p), 2)]
		c.writeFrame(opClose, reply)
	}
	return ce
}

// startMessage reads up to the first frame of the next message.
func (c *leanWS) startMessage() error {
	op, err := c.nextFrame()
	switch {
	case err != nil:
		return err
	case op == opText:
		return c.fail(statusUnsupportedData, fmt.Errorf("%w: a text message", resume.ErrBadFrame))
	case op != opBinary:
		return c.fail(statusProtocolError, fmt.Errorf("websocket: a continuation frame with no message begun"))
	}
	return nil
}

// payload reads the message begun, across its frames; io.EOF at its end.
type payload struct{ c *leanWS }

func (r payload) Read(p []byte) (int, error) {
	c := r.c
	if err := c.nextPayload(); err != nil {
		return 0, err
	}
	if uint64(len(p)) > c.frameLeft {
		p = p[:c.frameLeft]
	}
	n, err := c.br.Read(p)
	c.frameLeft -= uint64(n)
	if c.server {
		c.mask = unmask(p[:n], c.mask)
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return n, c.ended(err)
	}
	return n, nil
}

// nextPayload goes on to the next frame of the message while the current
// one is read out; io.EOF at the message's end.
func (c *leanWS) nextPayload() error {
	for c.frameLeft == 0 {
		if c.fin {
			return io.EOF
		}
		op, err := c.nextFrame()
		if err != nil {
			return err
		}
		if op != opContinuation {
			return c.fail(statusProtocolError, errors.New("websocket: a new message inside a fragmented one"))
		}
	}
	return nil
}

// messageSize is the length of the message being read, of which read
// bytes were read, where its current frame is its last (-1 where not).
//
// The gateway takes a client's word only up to a batch's size: a header
// that claims a larger message, its bytes still to come, does not have it
// lend a buffer for all of them (readMessage's buffers then grow as the
// bytes come).
func (c *leanWS) messageSize(read int) int {
	if !c.fin || c.frameLeft > transportReadLimit || c.server && c.frameLeft > bigPooledCap {
		return -1
	}
	return read + int(c.frameLeft)
}

// ReadMessage reads the next message (resume.Transport).
func (c *leanWS) ReadMessage(ctx context.Context) ([]byte, error) {
	c.readMu.Lock()
	defer c.readMu.Unlock()
	defer c.watch(ctx)()
	if err := c.startMessage(); err != nil {
		return nil, err
	}
	return readMessage(payload{c}, c.messageSize(0))
}

// Release takes back a message ReadMessage returned (resume.Releaser).
func (c *leanWS) Release(msg []byte) { releaseMessage(msg) }

// BeginMessage reads the first n bytes of the next message
// (resume.Streamer).
func (c *leanWS) BeginMessage(ctx context.Context, n int) ([]byte, bool, error) {
	c.readMu.Lock()
	defer c.readMu.Unlock()
	defer c.watch(ctx)()
	if c.bulk {
		c.cr.max = bulkFrameHeader + n
		defer func() { c.cr.max = 0 }()
	}
	if err := c.startMessage(); err != nil {
		return nil, false, err
	}
	c.bulk = c.frameLeft > pooledCap
	if cap(c.head) < n {
		c.head = make([]byte, n)
	}
	k, eof, err := readInto(payload{c}, c.head[:n])
	if err != nil {
		return nil, false, err
	}
	c.headLen, c.msgCtx = k, ctx
	if !eof {
		if err := c.nextPayload(); err == io.EOF {
			eof = true
		} else if err != nil {
			return nil, false, err
		}
	}
	return c.head[:k], !eof, nil
}

// ReadRest returns the message begun, whole (resume.Streamer).
func (c *leanWS) ReadRest() ([]byte, error) {
	c.readMu.Lock()
	defer c.readMu.Unlock()
	defer c.watch(c.msgCtx)()
	return readMessage(io.MultiReader(bytes.NewReader(c.head[:c.headLen]), payload{c}), c.messageSize(c.headLen))
}

// WriteRest writes the rest of the message begun to w, less its first
// skip bytes (resume.Streamer): what the read buffer holds, then the rest
// of each frame from the connection, spliced where w is a pipe.
func (c *leanWS) WriteRest(w io.Writer, skip int64, out func(), done func(int, error)) error {
	c.readMu.Lock()
	defer c.readMu.Unlock()
	defer c.watch(c.msgCtx)()
	if skip > 0 {
		if _, err := io.CopyN(io.Discard, payload{c}, skip); err != nil {
			if err == io.EOF { // all of it was had before
				return nil
			}
			return err
		}
	}
	for {
		if err := c.nextPayload(); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		if b := c.br.Buffered(); b > 0 {
			p, _ := c.br.Peek(int(min(uint64(b), c.frameLeft)))
			out()
			n, err := w.Write(p)
			done(n, err)
			c.br.Discard(n)
			c.frameLeft -= uint64(n)
			if err != nil {
				return err
			}
			continue
		}
		n, err := c.moveTo(w, c.frameLeft, out, done)
		c.frameLeft -= n
		if err != nil {
			return c.ended(err)
		}
	}
}

// copyBufs are copyTo's buffers, held only while a payload is copied.
var copyBufs = sync.Pool{New: func() any {
	b := make([]byte, sendMax)
	return &b
}}

// copyTo copies n bytes of payload from the connection to w through a
// buffer: moveTo's way where it cannot splice.
func (c *leanWS) copyTo(w io.Writer, n uint64, out func(), done func(int, error)) (uint64, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	var moved uint64
	for moved < n {
		k, err := c.br.Read((*bp)[:min(uint64(len(*bp)), n-moved)])
		if k > 0 {
			out()
			m, werr := w.Write((*bp)[:k])
			done(m, werr)
			moved += uint64(m)
			if werr != nil {
				return moved, werr
			}
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return moved, err
		}
	}
	return moved, nil
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
