//go:build !js

package bridge

import (
	"context"
	"net"

	"github.com/coder/websocket"
)

// conn is a coder/websocket WebSocket as a net.Conn: a native client's raw
// tube through a SOCKS proxy (net/http dials it; the gateway's end and
// other clients are leanWS's).
type conn struct {
	net.Conn
	ws     *websocket.Conn
	remote net.Addr   // the gateway, as the URL names it
	q      *sendQueue // one WebSocket message for the SSH packets queued
}

// newConn wraps ws, whose far end is remote.
func newConn(ctx context.Context, ws *websocket.Conn, remote net.Addr) *conn {
	ws.SetReadLimit(ReadLimit)
	nc := websocket.NetConn(ctx, ws, websocket.MessageBinary)
	c := &conn{Conn: nc, ws: ws, remote: remote}
	c.q = newSendQueue(nc.Write)
	return c
}

// Write queues p to be sent in a binary message with whatever else is
// queued while the message before is sent (see sendQueue).
func (c *conn) Write(p []byte) (int, error) { return c.q.Write(p) }

// PacketBuffer lends room at the end of the send queue (see sendQueue).
func (c *conn) PacketBuffer(n int) []byte { return c.q.PacketBuffer(n) }

// Close sends what is queued (see sendQueue.close) and closes the
// WebSocket.
func (c *conn) Close() error {
	c.q.close(c.Conn.SetWriteDeadline)
	return c.Conn.Close()
}

func (c *conn) RemoteAddr() net.Addr { return c.remote }
