//go:build !js

package bridge

import (
	"errors"
	"io"
	"net"
	"time"

	"github.com/tubegate/tubegate/internal/resume"
)

// leanConn is the lean client as a net.Conn: a raw tube's SSH stream, read
// across the binary messages the gateway sends, and written through a
// sendQueue, each batch one whole frame. A deadline, as in coder/websocket's
// NetConn, breaks the WebSocket when it passes.
type leanConn struct {
	c      *leanClient
	q      *sendQueue
	remote net.Addr
	inMsg  bool // a message is begun and not read to its end (under c.readMu)
}

func newLeanConn(c *leanClient, remote net.Addr) *leanConn {
	lc := &leanConn{c: c, remote: remote}
	lc.q = newSendQueue(func(p []byte) (int, error) {
		if err := c.writeFrame(opBinary, p); err != nil {
			return 0, err
		}
		return len(p), nil
	})
	return lc
}

// Read reads the stream on from the message begun, or the next.
func (l *leanConn) Read(p []byte) (int, error) {
	l.c.readMu.Lock()
	defer l.c.readMu.Unlock()
	for {
		if !l.inMsg {
			if err := l.c.startMessage(); err != nil {
				return 0, streamEnd(err)
			}
			l.inMsg = true
		}
		n, err := payload{l.c}.Read(p)
		switch {
		case err == io.EOF:
			l.inMsg = false
			if n == 0 && len(p) > 0 {
				continue
			}
			return n, nil
		case err != nil:
			return n, streamEnd(err)
		}
		return n, nil
	}
}

// streamEnd is a read's error as the stream's reader sees it: the peer's
// close frame with a normal status is the stream's end (io.EOF), as with
// coder/websocket's NetConn; another status is a *resume.CloseError.
func streamEnd(err error) error {
	var ce *resume.CloseError
	if errors.As(err, &ce) && (ce.Code == 1000 || ce.Code == 1001) {
		return io.EOF
	}
	return err
}

// Write queues p to be sent in a binary message with whatever else is
// queued while the message before is sent (see sendQueue).
func (l *leanConn) Write(p []byte) (int, error) { return l.q.Write(p) }

// PacketBuffer lends room at the end of the send queue (see sendQueue).
func (l *leanConn) PacketBuffer(n int) []byte { return l.q.PacketBuffer(n) }

// Close sends what is queued and closes the WebSocket with status 1000.
func (l *leanConn) Close() error {
	l.q.close(l.c.conn.SetWriteDeadline)
	return l.c.Close(1000, "")
}

func (l *leanConn) LocalAddr() net.Addr                { return l.c.conn.LocalAddr() }
func (l *leanConn) RemoteAddr() net.Addr               { return l.remote }
func (l *leanConn) SetDeadline(t time.Time) error      { return l.c.conn.SetDeadline(t) }
func (l *leanConn) SetReadDeadline(t time.Time) error  { return l.c.conn.SetReadDeadline(t) }
func (l *leanConn) SetWriteDeadline(t time.Time) error { return l.c.conn.SetWriteDeadline(t) }
