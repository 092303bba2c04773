package forward

import (
	"net"
	"sort"
	"time"
)

// MaxGonePerUser bounds the endpoints the registry remembers per user after
// they went away (for "offline since" on the page): the oldest record of
// that user makes room. Per user, so that one user's churn never erases
// another user's records.
const MaxGonePerUser = 64

// Gone records an endpoint that went away: a virtual name or a port asked
// for by number (allocated ports are not remembered).
type Gone struct {
	Key     Address
	User    string    // who published it
	Virtual bool      // a virtual name
	From    string    // the address of the tube that held it, if known
	Online  time.Time // when it was published
	Since   time.Time // when it went away
}

// RemoteAddresser is implemented by owners that know their client's
// address (the SSH server's tubes do).
type RemoteAddresser interface {
	RemoteAddr() net.Addr
}

// From is the address of the tube that holds ep, or "" when the owner does
// not say.
func From(ep *Endpoint) string {
	if ra, ok := ep.Owner.(RemoteAddresser); ok && ra.RemoteAddr() != nil {
		return ra.RemoteAddr().String()
	}
	return ""
}

// recordGoneLocked remembers ep, which just left byKey; r.mu is held.
func (r *Registry) recordGoneLocked(ep *Endpoint) {
	if ep.Allocated {
		return
	}
	user := ep.Owner.User()
	var oldest *Gone
	n := 0
	for _, g := range r.gone {
		if g.User != user {
			continue
		}
		n++
		if oldest == nil || g.Since.Before(oldest.Since) {
			oldest = &g
		}
	}
	if n >= MaxGonePerUser && oldest != nil {
		delete(r.gone, oldest.Key)
	}
	r.gone[ep.Key] = Gone{Key: ep.Key, User: user, Virtual: ep.Virtual, From: From(ep), Online: ep.Published, Since: time.Now()}
}

// notifyLocked wakes everyone waiting on Changed; r.mu is held.
func (r *Registry) notifyLocked() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// Changed returns a channel closed at the next change of the registry's
// endpoints (one published or gone): a watcher takes a new one each time.
func (r *Registry) Changed() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.changed
}

// Live is an endpoint as a snapshot: what a listing shows of it.
type Live struct {
	Key       Address
	User      string
	Virtual   bool
	Addr      net.Addr // the listener's address, nil for a virtual name
	From      string
	Published time.Time
	Active    int64 // live connections
}

// Snapshot returns every live endpoint and every remembered gone one,
// each ordered by key. The caller filters them (see the home list).
func (r *Registry) Snapshot() ([]Live, []Gone) {
	r.mu.Lock()
	eps := make([]*Endpoint, 0, len(r.byKey))
	for _, ep := range r.byKey {
		eps = append(eps, ep)
	}
	gone := make([]Gone, 0, len(r.gone))
	for _, g := range r.gone {
		gone = append(gone, g)
	}
	live := make([]Live, 0, len(eps))
	for _, ep := range eps {
		live = append(live, Live{Key: ep.Key, User: ep.Owner.User(), Virtual: ep.Virtual, Addr: ep.Addr(),
			Published: ep.Published})
	}
	r.mu.Unlock()
	for i, ep := range eps {
		live[i].From = From(ep)
		live[i].Active = ep.Stats.Active.Load()
	}
	sort.Slice(live, func(i, j int) bool { return live[i].Key.String() < live[j].Key.String() })
	sort.Slice(gone, func(i, j int) bool { return gone[i].Key.String() < gone[j].Key.String() })
	return live, gone
}
