//go:build !js

package bridge

// leanWS's writing: masked frames from a client, unmasked ones from the
// gateway, and the close.

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"sync"
	"time"
)

// writeBufSize is the size of a frame buffer from frameBufs: a default
// bufio buffer, as net/http's is.
const writeBufSize = 4096

// frameBufs hold a frame while it is masked and written.
var frameBufs = sync.Pool{New: func() any {
	b := make([]byte, 0, writeBufSize)
	return &b
}}

// WriteMessage sends p as one binary message (resume.Transport).
func (c *leanWS) WriteMessage(ctx context.Context, p []byte) error {
	defer c.watch(ctx)()
	return c.writeFrame(opBinary, p)
}

// writeFrame writes p as one frame of op with FIN set, masked from a
// client: the header and the payload in one write.
func (c *leanWS) writeFrame(op byte, p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent {
		return net.ErrClosed
	}
	if op == opClose {
		c.closeSent = true
	}
	if c.server {
		return c.writeUnmasked(op, p)
	}
	bp := frameBufs.Get().(*[]byte)
	defer frameBufs.Put(bp)
	if need := 14 + len(p); cap(*bp) < need {
		*bp = make([]byte, 0, need)
	}
	b := (*bp)[:14+len(p)]
	h := putHeader(b, op, len(p), true)
	key := uint32(c.rng.Uint64())
	binary.LittleEndian.PutUint32(b[h:], key)
	h += 4
	maskCopy(b[h:], p, key)
	_, err := c.conn.Write(b[:h+len(p)])
	return err
}

// putHeader puts the header of a final frame of op with an n-byte payload
// at the start of b (10 bytes at most), with the mask bit set where masked
// (the key is then put after it), and returns its length.
func putHeader(b []byte, op byte, n int, masked bool) int {
	var m byte
	if masked {
		m = 0x80
	}
	b[0] = 0x80 | op
	switch {
	case n <= 125:
		b[1] = m | byte(n)
		return 2
	case n <= 0xffff:
		b[1] = m | 126
		binary.BigEndian.PutUint16(b[2:], uint16(n))
		return 4
	default:
		b[1] = m | 127
		binary.BigEndian.PutUint64(b[2:], uint64(n))
		return 10
	}
}

// writevMin is the least payload the gateway writes beside its frame's
// header with writev where the connection is a socket; a smaller one is
// copied behind the header into one buffer.
const writevMin = 1024

// writeUnmasked writes p as the gateway's frame of op with FIN set: the
// header and the payload in one writev where the connection is a socket
// beneath pass-through wrappers (writev.Socket), else in one write of a
// pooled buffer (over TLS, two writes would be two records). c.wmu is
// held.
func (c *leanWS) writeUnmasked(op byte, p []byte) error {
	var hdr [10]byte
	h := putHeader(hdr[:], op, len(p), false)
	if c.sock != nil && len(p) >= writevMin {
		v := net.Buffers{hdr[:h], p}
		_, err := v.WriteTo(c.sock)
		return err
	}
	bp := frameBufs.Get().(*[]byte)
	defer frameBufs.Put(bp)
	b := append(append((*bp)[:0], hdr[:h]...), p...)
	*bp = b[:0]
	_, err := c.conn.Write(b)
	return err
}

// Close ends the WebSocket with a close frame of code and reason, waiting
// a little for the peer's, or at once with none when code is 0
// (resume.Transport).
func (c *leanWS) Close(code int, reason string) error {
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
		// The rest of a frame begun (a reader that stopped mid-message,
		// as at a handshake that failed), then whole frames.
		for {
			if _, err := io.CopyN(io.Discard, c.br, int64(c.frameLeft)); err != nil {
				break
			}
			c.frameLeft = 0
			if _, err := c.nextFrame(); err != nil {
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
func (c *leanWS) closed() {
	go func() {
		c.readMu.Lock()
		c.out.close()
		c.readMu.Unlock()
	}()
}
