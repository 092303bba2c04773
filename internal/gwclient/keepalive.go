package gwclient

import (
	"context"
	"fmt"
	"time"
)

// Resumable is the transport of a resumable tube (a *resume.Conn, or a
// wrapper that logs): whether a WebSocket carries it now, and a way to
// drop that WebSocket so that the tube resumes on a new one.
type Resumable interface {
	Attached() bool
	Drop()
}

// Keepalive sends keepalive@openssh.com every interval until ctx ends or
// the tube does, as OpenSSH's ServerAliveInterval does: the traffic keeps
// an idle tube alive through proxies and NATs that cut idle connections,
// and when max of them in a row go unanswered the tube is closed as dead
// (a black-holed connection would otherwise look idle for hours).
//
// On a resumable tube (r not nil) unanswered keepalives drop the
// WebSocket instead, and the tube resumes on a new one; while it is
// detached nothing is counted: the resume window, not the keepalives,
// decides when it is over.
func (t *Tube) Keepalive(ctx context.Context, interval time.Duration, max int, r Resumable) {
	if interval <= 0 {
		return
	}
	if max < 1 {
		max = 1
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var replied chan struct{} // of the request in flight; nil: none
	missed := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.done:
			return
		case <-tick.C:
		}
		if r != nil && !r.Attached() {
			missed = 0
			continue
		}
		if replied != nil {
			select {
			case <-replied:
				missed = 0
			default:
				missed++
				if missed < max {
					continue // one request in flight at a time
				}
				if r != nil {
					missed = 0
					r.Drop()
					continue
				}
				t.closeWith(fmt.Errorf("the gateway did not answer %d keepalives in a row (every %v): the connection is dead", missed, interval))
				return
			}
		}
		replied = make(chan struct{})
		go func(done chan struct{}) {
			// Any answer, even a refusal, shows the gateway is there.
			t.client.SendRequest("keepalive@openssh.com", true, nil)
			close(done)
		}(replied)
	}
}
