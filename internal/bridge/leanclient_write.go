//go:build !js

package bridge

// The lean client's writing: masked frames, and the close.

import (
	"context"
	"crypto/subtle"
	"encoding/binary"
	"io"
	"net"
	"sync"
	"time"
)

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

// maskChunk is how many bytes maskCopy masks per call of XORBytes.
const maskChunk = 1024

// maskCopy writes src masked with key (its bytes in little-endian order
// are the four masking bytes) to dst: the key repeated over a chunk, then
// crypto/subtle's XORBytes (vector instructions where the CPU has them)
// a chunk at a time; a byte-at-a-time or word-at-a-time loop took as long
// as the AES-GCM of the same bytes.
func maskCopy(dst, src []byte, key uint32) {
	var pat [maskChunk]byte
	binary.LittleEndian.PutUint32(pat[:], key)
	for n := 4; n < min(len(src), maskChunk); n *= 2 {
		copy(pat[n:], pat[:n])
	}
	dst = dst[:len(src)]
	for len(src) > 0 {
		n := min(len(src), maskChunk)
		subtle.XORBytes(dst[:n], src[:n], pat[:n])
		dst, src = dst[n:], src[n:]
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
