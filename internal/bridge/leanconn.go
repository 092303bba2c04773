//go:build !js

package bridge

import (
	"errors"
	"io"
	"net"
	"time"

	"github.com/tubegate/tubegate/internal/resume"
)

// leanConn is a leanWS as a net.Conn: a raw tube's SSH stream, read
// across the binary messages the other end sends, and written through a
// sendQueue, each batch one whole frame. A deadline, as in coder/websocket's
// NetConn, breaks the WebSocket when it passes.
type leanConn struct {
	c      *leanWS
	q      *sendQueue
	local  net.Addr // where not nil, the address LocalAddr reports
	remote net.Addr
	inMsg  bool // a message is begun and not read to its end (under c.readMu)
}

func newLeanConn(c *leanWS, remote net.Addr) *leanConn {
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

// GoAway closes the WebSocket with status 1012 (service restart) and a
// reason the client can show: what the gateway says to WebSocket tubes as
// it shuts down. (Status 1001, going away, reads as a clean EOF in most
// clients, so its reason would be lost.)
func (l *leanConn) GoAway(reason string) error {
	l.q.close(l.c.conn.SetWriteDeadline)
	return l.c.Close(1012, reason[:min(len(reason), 120)])
}

func (l *leanConn) LocalAddr() net.Addr {
	if l.local != nil {
		return l.local
	}
	return l.c.conn.LocalAddr()
}

func (l *leanConn) RemoteAddr() net.Addr               { return l.remote }
func (l *leanConn) SetDeadline(t time.Time) error      { return l.c.conn.SetDeadline(t) }
func (l *leanConn) SetReadDeadline(t time.Time) error  { return l.c.conn.SetReadDeadline(t) }
func (l *leanConn) SetWriteDeadline(t time.Time) error { return l.c.conn.SetWriteDeadline(t) }
