package bridge

import (
	"io"
	"log/slog"
	"net"

	"github.com/tubegate/tubegate/internal/resume"
)

// resumeServerConn is a resume.Session with a sendQueue in front (one
// DATA frame for the SSH packets queued while the one before is sent). The
// queue gathers each batch in a buffer of the session's chunks and hands
// it over (Session.WriteChunkBuffer): the session keeps it until the
// client acknowledges it, so the bytes are copied once, not twice. It
// passes on what the tube asks of its carrier: whether it is detached,
// GoAway, and its logger.
type resumeServerConn struct {
	queuedConn
	s *resume.Session
}

func newResumeServerConn(s *resume.Session) *resumeServerConn {
	q := handOffQueue(s.Write, s.WriteChunkBuffer, resume.ChunkBuffer, resume.PutChunkBuffer, resume.ChunkBufferRoom)
	return &resumeServerConn{queuedConn: queuedConn{Conn: s, q: q}, s: s}
}

// Detached reports whether the tube waits for its client to resume it.
func (c *resumeServerConn) Detached() bool { return c.s.Detached() }

// GoAway ends the tube with status 1012 and reason.
func (c *resumeServerConn) GoAway(reason string) error {
	c.q.close(c.s.SetWriteDeadline)
	return c.s.GoAway(reason)
}

// SetBudget counts what the session keeps for its client in its user's
// budget.
func (c *resumeServerConn) SetBudget(b *resume.Budget) { c.s.SetBudget(b) }

// SetLog gives the tube's logger to the session's lines.
func (c *resumeServerConn) SetLog(l *slog.Logger) { c.s.SetLog(l) }

// ReadContiguous passes on the session's reads without a copy (x/crypto
// patch 0017), which the send queue in front hides.
func (c *resumeServerConn) ReadContiguous(n int) ([]byte, error) { return c.s.ReadContiguous(n) }

// ParkRead passes on the session's offer to park x/crypto's reader while
// the client sends nothing (patch 0023).
func (c *resumeServerConn) ParkRead(resume func()) bool { return c.s.ParkRead(resume) }

// resumeClientConn is a resume.Conn as the clients' net.Conn, with a
// sendQueue in front as on the gateway's side: the SSH packets queued
// while one DATA frame is sent go in the next, gathered in a buffer the
// stream keeps (Conn.WriteChunkBuffer). Without it each packet was a frame
// of its own, and the gateway read each in two reads and handed each to
// the tube's SSH reader: what bulk from the client (a -R's replies, a -L's
// uploads) cost it. Its WriteTo (resume.Conn.WriteTo) is what io.Copy uses
// to relay what the gateway sends.
type resumeClientConn struct {
	queuedConn
	rc *resume.Conn
}

func newResumeClientConn(rc *resume.Conn) net.Conn {
	q := handOffQueue(rc.Write, rc.WriteChunkBuffer, resume.ChunkBuffer, resume.PutChunkBuffer, resume.ChunkBufferRoom)
	return &resumeClientConn{queuedConn: queuedConn{Conn: rc, q: q}, rc: rc}
}

// Resume returns the resume.Conn under c (for tests and tools: Drop,
// Unacked).
func (c *resumeClientConn) Resume() *resume.Conn { return c.rc }

// ReadContiguous passes on the stream's reads without a copy (x/crypto
// patch 0017), which the send queue in front hides.
func (c *resumeClientConn) ReadContiguous(n int) ([]byte, error) { return c.rc.ReadContiguous(n) }

// WriteTo relays what the gateway sends (resume.Conn.WriteTo).
func (c *resumeClientConn) WriteTo(w io.Writer) (int64, error) { return c.rc.WriteTo(w) }
