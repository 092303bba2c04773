package bridge

import (
	"log/slog"
	"net"

	"github.com/tubegate/tubegate/internal/resume"
)

// resumeServerConn is a resume.Session with the coalescer in front (one
// DATA frame per SSH packet). It passes on what the tube asks of its
// carrier: whether it is detached, GoAway, and its logger.
type resumeServerConn struct {
	coalescedConn
	s *resume.Session
}

func newResumeServerConn(s *resume.Session) *resumeServerConn {
	c := &resumeServerConn{coalescedConn: coalescedConn{Conn: s}, s: s}
	c.co.write = s.Write
	return c
}

// Detached reports whether the tube waits for its client to resume it.
func (c *resumeServerConn) Detached() bool { return c.s.Detached() }

// GoAway ends the tube with status 1012 and reason.
func (c *resumeServerConn) GoAway(reason string) error {
	c.co.flushForClose(c.s.SetWriteDeadline)
	return c.s.GoAway(reason)
}

// SetLog gives the tube's logger to the session's lines.
func (c *resumeServerConn) SetLog(l *slog.Logger) { c.s.SetLog(l) }

// resumeClientConn is a resume.Conn with the coalescer in front.
type resumeClientConn struct {
	coalescedConn
	c *resume.Conn
}

func newResumeClientConn(rc *resume.Conn) net.Conn {
	c := &resumeClientConn{coalescedConn: coalescedConn{Conn: rc}, c: rc}
	c.co.write = rc.Write
	return c
}

// Resume returns the resume.Conn under c (for tests and tools: Drop,
// Unacked).
func (c *resumeClientConn) Resume() *resume.Conn { return c.c }
