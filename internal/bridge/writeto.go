package bridge

import "io"

// WriteTo writes the gateway's bytes to w as they arrive, each from the
// buffer its message was received in (resume.Conn.WriteTo): io.Copy to a
// relay's output then makes no copy of its own.
func (c *resumeClientConn) WriteTo(w io.Writer) (int64, error) { return c.c.WriteTo(w) }
