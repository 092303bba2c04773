//go:build !js

package bridge

// leanClient is a client WebSocket of our own, used for gateway connect's
// resumable tube over ws://. Its point is resume.Streamer: the payload of
// a message goes from the socket to a writer without being read into
// memory, and where the writer is a pipe (connect's stdout, read by ssh)
// the kernel splices it there (splice_linux.go) with no copy at all.
// coder/websocket can only hand a message's bytes to a Read. Everything
// else (wss://, the page, raw tubes, the gateway's side) stays on
// coder/websocket.

import (
	"bufio"
	"bytes"
	"context"
	crand "crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
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

type leanClient struct {
	conn        net.Conn
	br          *bufio.Reader
	cr          *cappedReader // under br: see bulkFrameHeader
	bulk        bool          // the last message begun was large
	subprotocol string

	readMu    sync.Mutex // one reader at a time (and Close's wait)
	frameLeft uint64     // payload bytes of the current frame not yet read
	fin       bool       // the current frame is its message's last
	head      []byte     // BeginMessage's bytes
	headLen   int
	msgCtx    context.Context // the context of the message begun
	gone      chan struct{}   // closed once the reader has met the end
	goneOnce  sync.Once
	out       spliceOut // WriteRest's way to a pipe (splice_linux.go)

	wmu       sync.Mutex
	rng       *rand.ChaCha8 // masking keys (RFC 6455 §5.3)
	closeSent bool
}

// dialLean opens a WebSocket on raw, the connection to the gateway (or a
// CONNECT tunnel to it), asking for subprotocols.
func dialLean(ctx context.Context, u *url.URL, raw net.Conn, header http.Header, subprotocols []string) (*leanClient, error) {
	stop := context.AfterFunc(ctx, func() { raw.SetDeadline(time.Unix(1, 0)) })
	c, err := upgrade(u, raw, header, subprotocols)
	if !stop() && err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", u.Redacted(), err)
	}
	raw.SetDeadline(time.Time{})
	return c, nil
}

// upgrade sends the upgrade request and checks the answer (RFC 6455 §4.1).
func upgrade(u *url.URL, raw net.Conn, header http.Header, subprotocols []string) (*leanClient, error) {
	var nonce [16]byte
	crand.Read(nonce[:])
	key := base64.StdEncoding.EncodeToString(nonce[:])
	hu := *u
	hu.Scheme, hu.User = "http", nil
	req := &http.Request{Method: http.MethodGet, URL: &hu, Host: u.Host, Header: header.Clone(), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
	if req.Header == nil {
		req.Header = http.Header{}
	}
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Sec-WebSocket-Key", key)
	req.Header.Set("Sec-WebSocket-Version", "13")
	if len(subprotocols) > 0 {
		req.Header.Set("Sec-WebSocket-Protocol", strings.Join(subprotocols, ", "))
	}
	bw := bufio.NewWriterSize(raw, 1024)
	if err := req.Write(bw); err != nil {
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	cr := &cappedReader{r: raw}
	br := bufio.NewReaderSize(cr, leanReadBuf)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return nil, fmt.Errorf("reply to the upgrade: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return nil, fmt.Errorf("refused: %s", resp.Status)
	}
	sum := sha1.Sum([]byte(key + websocketGUID))
	switch {
	case !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket"):
		return nil, fmt.Errorf("upgrade answered with Upgrade %q", resp.Header.Get("Upgrade"))
	case !headerHasToken(resp.Header, "Connection", "upgrade"):
		return nil, fmt.Errorf("upgrade answered with Connection %q", resp.Header.Get("Connection"))
	case resp.Header.Get("Sec-WebSocket-Accept") != base64.StdEncoding.EncodeToString(sum[:]):
		return nil, errors.New("upgrade answered with a wrong Sec-WebSocket-Accept")
	case resp.Header.Get("Sec-WebSocket-Extensions") != "":
		return nil, fmt.Errorf("upgrade answered with extensions %q that were not asked for", resp.Header.Get("Sec-WebSocket-Extensions"))
	}
	sub := resp.Header.Get("Sec-WebSocket-Protocol")
	if sub != "" && !contains(subprotocols, sub) {
		return nil, fmt.Errorf("upgrade answered with subprotocol %q that was not asked for", sub)
	}
	var seed [32]byte
	crand.Read(seed[:])
	return &leanClient{conn: raw, br: br, cr: cr, subprotocol: sub, gone: make(chan struct{}), rng: rand.NewChaCha8(seed)}, nil
}

// cappedReader reads at most max bytes at a time (0: no cap).
type cappedReader struct {
	r   io.Reader
	max int
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.max > 0 && len(p) > c.max {
		p = p[:c.max]
	}
	return c.r.Read(p)
}

// bulkFrameHeader is the header of a frame of 64 KiB or more. While such
// frames come, BeginMessage reads no more than that and the n bytes asked
// for from the connection: the payload behind is then spliced whole,
// where reading ahead into the buffer would take a copy and a write of its
// first bytes.
const bulkFrameHeader = 10

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Subprotocol is the subprotocol the gateway chose ("" for none).
func (c *leanClient) Subprotocol() string { return c.subprotocol }

// watch drops the connection when ctx ends, until the returned stop.
func (c *leanClient) watch(ctx context.Context) func() bool {
	if ctx == nil || ctx.Done() == nil {
		return func() bool { return true }
	}
	return context.AfterFunc(ctx, func() { c.conn.Close() })
}

// ended marks the reader's end: the peer's close frame, or an error.
func (c *leanClient) ended(err error) error {
	c.goneOnce.Do(func() { close(c.gone) })
	return err
}

// nextFrame reads frame headers up to the next data frame, answering
// pings and taking a close frame (a *resume.CloseError); c.readMu is held.
func (c *leanClient) nextFrame() (op byte, err error) {
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
			return 0, c.ended(errors.New("websocket: a frame with reserved bits set"))
		case h[1]&0x80 != 0:
			return 0, c.ended(errors.New("websocket: a masked frame from the server"))
		case op < opClose:
			if size > 1<<62 {
				return 0, c.ended(errors.New("websocket: a frame length out of range"))
			}
			c.frameLeft, c.fin = size, fin
			return op, nil
		case !fin || size > 125:
			return 0, c.ended(fmt.Errorf("websocket: a control frame (%#x) fragmented or of %d bytes", op, size))
		}
		var p [125]byte
		if _, err := io.ReadFull(c.br, p[:size]); err != nil {
			return 0, c.ended(err)
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
			return 0, c.ended(fmt.Errorf("websocket: a frame of unknown opcode %#x", op))
		}
	}
}

// peerClosed answers the peer's close frame p (unless ours went first)
// and returns it as the *resume.CloseError the stream expects.
func (c *leanClient) peerClosed(p []byte) error {
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
func (c *leanClient) startMessage() error {
	op, err := c.nextFrame()
	switch {
	case err != nil:
		return err
	case op == opText:
		return c.ended(fmt.Errorf("%w: a text message", resume.ErrBadFrame))
	case op != opBinary:
		return c.ended(fmt.Errorf("websocket: a continuation frame with no message begun"))
	}
	return nil
}

// payload reads the message begun, across its frames; io.EOF at its end.
type payload struct{ c *leanClient }

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
func (c *leanClient) nextPayload() error {
	for c.frameLeft == 0 {
		if c.fin {
			return io.EOF
		}
		op, err := c.nextFrame()
		if err != nil {
			return err
		}
		if op != opContinuation {
			return c.ended(errors.New("websocket: a new message inside a fragmented one"))
		}
	}
	return nil
}

// ReadMessage reads the next message (resume.Transport).
func (c *leanClient) ReadMessage(ctx context.Context) ([]byte, error) {
	c.readMu.Lock()
	defer c.readMu.Unlock()
	defer c.watch(ctx)()
	if err := c.startMessage(); err != nil {
		return nil, err
	}
	return readMessage(payload{c})
}

// Release takes back a message ReadMessage returned (resume.Releaser).
func (c *leanClient) Release(msg []byte) { releaseMessage(msg) }

// BeginMessage reads the first n bytes of the next message
// (resume.Streamer).
func (c *leanClient) BeginMessage(ctx context.Context, n int) ([]byte, bool, error) {
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
func (c *leanClient) ReadRest() ([]byte, error) {
	c.readMu.Lock()
	defer c.readMu.Unlock()
	defer c.watch(c.msgCtx)()
	return readMessage(io.MultiReader(bytes.NewReader(c.head[:c.headLen]), payload{c}))
}

// WriteRest writes the rest of the message begun to w, less its first
// skip bytes (resume.Streamer): what the read buffer holds, then the rest
// of each frame from the connection, spliced where w is a pipe.
func (c *leanClient) WriteRest(w io.Writer, skip int64, out func(), done func(int, error)) error {
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
func (c *leanClient) copyTo(w io.Writer, n uint64, out func(), done func(int, error)) (uint64, error) {
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

// frameBufs hold a frame while it is masked and written.
var frameBufs = sync.Pool{New: func() any {
	b := make([]byte, 0, writeBufSize)
	return &b
}}

// WriteMessage sends p as one binary message (resume.Transport).
func (c *leanClient) WriteMessage(ctx context.Context, p []byte) error {
	defer c.watch(ctx)()
	return c.writeFrame(opBinary, p)
}

// writeFrame writes p as one masked frame of op with FIN set: the header
// and the masked payload in one write.
func (c *leanClient) writeFrame(op byte, p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent {
		return net.ErrClosed
	}
	if op == opClose {
		c.closeSent = true
	}
	bp := frameBufs.Get().(*[]byte)
	defer frameBufs.Put(bp)
	if need := 14 + len(p); cap(*bp) < need {
		*bp = make([]byte, 0, need)
	}
	b := (*bp)[:14+len(p)]
	b[0] = 0x80 | op
	h := 2
	switch n := len(p); {
	case n <= 125:
		b[1] = 0x80 | byte(n)
	case n <= 0xffff:
		b[1] = 0x80 | 126
		binary.BigEndian.PutUint16(b[2:], uint16(n))
		h = 4
	default:
		b[1] = 0x80 | 127
		binary.BigEndian.PutUint64(b[2:], uint64(n))
		h = 10
	}
	key := uint32(c.rng.Uint64())
	binary.LittleEndian.PutUint32(b[h:], key)
	h += 4
	maskCopy(b[h:], p, key)
	_, err := c.conn.Write(b[:h+len(p)])
	return err
}

// maskCopy writes src masked with key (its bytes in little-endian order
// are the four masking bytes) to dst, eight bytes at a time.
func maskCopy(dst, src []byte, key uint32) {
	k := uint64(key) | uint64(key)<<32
	dst = dst[:len(src)]
	i := 0
	for ; i+8 <= len(src); i += 8 {
		binary.LittleEndian.PutUint64(dst[i:], binary.LittleEndian.Uint64(src[i:])^k)
	}
	for ; i < len(src); i++ {
		dst[i] = src[i] ^ byte(k>>(8*(i&3)))
	}
}

// Close ends the WebSocket with a close frame of code and reason, waiting
// a little for the peer's, or at once with none when code is 0
// (resume.Transport).
func (c *leanClient) Close(code int, reason string) error {
	defer c.closed()
	if code == 0 {
		return c.conn.Close()
	}
	p := binary.BigEndian.AppendUint16(nil, uint16(code))
	p = append(p, reason[:min(len(reason), 123)]...)
	c.conn.SetWriteDeadline(time.Now().Add(closeWait))
	if err := c.writeFrame(opClose, p); err != nil {
		return c.conn.Close()
	}
	// The peer's close frame comes after what it had sent: leaving it
	// unread would end the connection with a reset.
	c.conn.SetReadDeadline(time.Now().Add(closeWait))
	if c.readMu.TryLock() {
		for {
			if _, err := c.nextFrame(); err != nil {
				break
			}
			if _, err := io.CopyN(io.Discard, c.br, int64(c.frameLeft)); err != nil {
				break
			}
		}
		c.readMu.Unlock()
	} else {
		t := time.NewTimer(closeWait)
		select {
		case <-c.gone:
		case <-t.C:
		}
		t.Stop()
	}
	return c.conn.Close()
}

// closed lets go of the splice pipe once the reader is done with it: the
// connection is closed, so a reader under way fails soon (or when the
// writer it waits for takes the bytes it holds).
func (c *leanClient) closed() {
	go func() {
		c.readMu.Lock()
		c.out.close()
		c.readMu.Unlock()
	}()
}
