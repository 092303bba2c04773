//go:build js

package bridge

import (
	"net"

	"github.com/tubegate/tubegate/internal/resume"
)

// batchedClientConn is a resume.Conn with a batcher in front: the page's
// tube (see batcher).
type batchedClientConn struct {
	*resume.Conn
	b *batcher
}

func newBatchedClientConn(rc *resume.Conn) net.Conn {
	return &batchedClientConn{Conn: rc, b: newBatcher(rc.Write)}
}

func (c *batchedClientConn) Write(p []byte) (int, error) { return c.b.Write(p) }

// Close writes the last batch (see batcher.close) and ends the tube.
func (c *batchedClientConn) Close() error {
	c.b.close()
	return c.Conn.Close()
}

// Resume returns the resume.Conn under c.
func (c *batchedClientConn) Resume() *resume.Conn { return c.Conn }
