package shareproxy

import (
	"context"
	"net"
	"sync"
	"time"
)

// Tracker remembers the connections dialled through each link, so that
// revoking or expiring a link can cut them, WebSocket upgrades and
// half-read downloads included.
type Tracker struct {
	mu     sync.Mutex
	byLink map[string]map[*trackedConn]struct{}
}

// NewTracker returns an empty tracker.
func NewTracker() *Tracker {
	return &Tracker{byLink: make(map[string]map[*trackedConn]struct{})}
}

// Track registers c as a connection of link id and returns the wrapper to
// use instead of c; closing the wrapper forgets it.
func (t *Tracker) Track(id string, c net.Conn) net.Conn {
	tc := &trackedConn{Conn: c, id: id, t: t}
	t.mu.Lock()
	set := t.byLink[id]
	if set == nil {
		set = make(map[*trackedConn]struct{})
		t.byLink[id] = set
	}
	set[tc] = struct{}{}
	t.mu.Unlock()
	return tc
}

func (t *Tracker) forget(tc *trackedConn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if set := t.byLink[tc.id]; set != nil {
		delete(set, tc)
		if len(set) == 0 {
			delete(t.byLink, tc.id)
		}
	}
}

// Count returns the number of live connections of link id.
func (t *Tracker) Count(id string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.byLink[id])
}

// Cut closes every connection of link id and returns how many there were.
func (t *Tracker) Cut(id string) int {
	t.mu.Lock()
	set := t.byLink[id]
	delete(t.byLink, id)
	t.mu.Unlock()
	for tc := range set {
		tc.Conn.Close()
	}
	return len(set)
}

// Watch polls every interval until ctx ends, cutting the connections of
// each link for which live reports false: revoked (also from another
// process, such as `gateway link revoke`) or expired. cut is told about
// each link cut, for logging.
func (t *Tracker) Watch(ctx context.Context, interval time.Duration, live func(id string) bool, cut func(id string, n int)) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		t.mu.Lock()
		ids := make([]string, 0, len(t.byLink))
		for id := range t.byLink {
			ids = append(ids, id)
		}
		t.mu.Unlock()
		for _, id := range ids {
			if !live(id) {
				if n := t.Cut(id); n > 0 && cut != nil {
					cut(id, n)
				}
			}
		}
	}
}

// trackedConn is a connection dialled for one link.
type trackedConn struct {
	net.Conn
	id   string
	t    *Tracker
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() { c.t.forget(c) })
	return c.Conn.Close()
}
