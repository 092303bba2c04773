package sshserver

import (
	"context"
	"runtime/debug"
	"sync"

	"golang.org/x/crypto/ssh"
)

// incoming is what x/crypto queues for a tube: its new channels and global
// requests, on two Go channels, until it closes both when the connection
// ends. They are taken on a goroutine that runs only while some are queued,
// so an idle tube waits on none.
type incoming struct {
	ctx   context.Context
	chans <-chan ssh.NewChannel // nil once closed; only the taker uses it
	reqs  <-chan *ssh.Request   // likewise
	end   func()                // called once both are closed

	mu      sync.Mutex
	running bool // a taker runs, or the tube has ended
}

// takeIncoming starts a taker unless one runs. x/crypto calls it after
// each request or channel it queues and once it closes both, on the
// goroutine that reads the connection, so it must not block.
func (t *Tube) takeIncoming() {
	t.in.mu.Lock()
	defer t.in.mu.Unlock()
	if !t.in.running {
		t.in.running = true
		go t.takeQueued()
	}
}

// takeQueued takes the queued requests and channels in the order they
// come, and returns once none is left: the next one queued starts it
// again. A call to takeIncoming that comes after this one finds both
// empty under t.in.mu starts a new taker. Once both are closed it ends
// the tube. A panic in the gateway's handling ends the tube too, with a
// log line, as one during the handshake does, and unpublishes what it
// owned.
func (t *Tube) takeQueued() {
	defer func() {
		if v := recover(); v != nil {
			t.log.Error("tube closed: internal error", "panic", v, "stack", string(debug.Stack()))
			t.conn.Close()
			// The close of x/crypto's channels will find this taker
			// still marked running: unpublish and end here.
			t.srv.cfg.Registry.UnpublishAll(t)
			t.in.end()
		}
	}()
	for {
		select {
		case nc, ok := <-t.in.chans:
			if !ok {
				t.in.chans = nil
				t.srv.cfg.Registry.UnpublishAll(t)
				continue
			}
			t.dispatch(t.in.ctx, nc)
			continue
		case req, ok := <-t.in.reqs:
			if !ok {
				t.in.reqs = nil
				continue
			}
			t.globalRequest(t.in.ctx, req)
			continue
		default:
		}
		if t.in.chans == nil && t.in.reqs == nil {
			t.in.end() // running stays true: nothing is taken any more
			return
		}
		if t.idleIncoming() {
			return
		}
	}
}

// idleIncoming reports whether nothing is queued, and if so marks the
// taker stopped under the same lock takeIncoming starts one under.
func (t *Tube) idleIncoming() bool {
	t.in.mu.Lock()
	defer t.in.mu.Unlock()
	if len(t.in.chans) > 0 || len(t.in.reqs) > 0 {
		return false
	}
	t.in.running = false
	return true
}
