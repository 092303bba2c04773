package home

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tubegate/tubegate/internal/forward"
)

// pollEvery is how often, while event streams are open, the node reads
// the cluster's directory for the other nodes' endpoints of the users
// watching: one read for all of them.
const pollEvery = 2 * time.Second

// view is what the directory said of the other nodes' endpoints for one
// user's list: the claims, or why they are not known.
type view struct {
	claims      []forward.Claim
	unavailable string
}

func (v view) same(o view) bool {
	return v.unavailable == o.unavailable && slices.EqualFunc(v.claims, o.claims, func(a, b forward.Claim) bool {
		return a.ID == b.ID && a.Node == b.Node
	})
}

// remoteOf reads the other nodes' endpoints for user's list now: theirs,
// and what pol names of other users (see Lookups). A single node has none.
func remoteOf(ctx context.Context, reg *forward.Registry, log *slog.Logger, user string, pol forward.Policy) view {
	if !reg.Clustered() {
		return view{}
	}
	users, keys := Lookups(user, pol)
	cs, err := reg.Remote(ctx, users, keys)
	if err != nil {
		return view{unavailable: unavailableNote(log, err)}
	}
	return view{claims: cs}
}

// unavailableNote words a failed directory read for the page without
// the details (Redis's address is not the user's business); the log has
// them.
func unavailableNote(log *slog.Logger, err error) string {
	log.Debug("home list: other nodes' endpoints not listed", "err", err)
	if strings.Contains(err.Error(), "cluster unavailable: redis unreachable") {
		return "cluster unavailable: redis unreachable: endpoints on other nodes are not listed"
	}
	return "cluster directory unavailable: endpoints on other nodes are not listed"
}

// poller is the node's one poll of the directory for its event streams:
// while any is open, every pollEvery it reads the other nodes' endpoints
// of every user with an open stream in one directory read, keeps a view
// per user, and wakes the streams when a view changed. Local changes wake
// them through the registry.
type poller struct {
	base  context.Context
	reg   *forward.Registry
	users Policies
	log   *slog.Logger
	every time.Duration

	mu       sync.Mutex
	watching map[string]int // open streams per user
	views    map[string]view
	changed  chan struct{}
	cancel   context.CancelFunc // the running loop's, nil when none
	gen      int                // the running loop's generation
}

func newPoller(base context.Context, reg *forward.Registry, users Policies, log *slog.Logger) *poller {
	if base == nil {
		base = context.Background()
	}
	return &poller{base: base, reg: reg, users: users, log: log, every: pollEvery,
		watching: make(map[string]int), views: make(map[string]view), changed: make(chan struct{})}
}

// join counts a stream of user, starting the loop for the first stream.
func (p *poller) join(user string) {
	if !p.reg.Clustered() {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.watching[user]++
	if p.cancel == nil {
		ctx, cancel := context.WithCancel(p.base)
		p.cancel, p.gen = cancel, p.gen+1
		go p.run(ctx, p.gen)
	}
}

// leave uncounts a stream of user, stopping the loop after the last.
func (p *poller) leave(user string) {
	if !p.reg.Clustered() {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.watching[user]--; p.watching[user] <= 0 {
		delete(p.watching, user)
		delete(p.views, user)
	}
	if len(p.watching) == 0 && p.cancel != nil {
		p.cancel()
		p.cancel = nil
	}
}

// Changed returns a channel closed at the next change of any view.
func (p *poller) Changed() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.changed
}

// view is the last view polled for user, if any.
func (p *poller) view(user string) (view, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, ok := p.views[user]
	return v, ok
}

func (p *poller) run(ctx context.Context, gen int) {
	t := time.NewTicker(p.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p.poll(ctx, gen)
	}
}

// poll reads the directory once for every watching user.
func (p *poller) poll(ctx context.Context, gen int) {
	p.mu.Lock()
	users := make([]string, 0, len(p.watching))
	for u := range p.watching {
		users = append(users, u)
	}
	p.mu.Unlock()
	// One read: every watcher's own endpoints and their lookups.
	var all []string
	var keys []forward.Address
	wants := make(map[string]func(forward.Claim) bool, len(users))
	for _, u := range users {
		pol, err := p.users.Policy(u)
		if err != nil {
			pol = forward.Policy{} // a user gone: their streams end on their own
		}
		us, ks := Lookups(u, pol)
		for _, x := range us {
			if !slices.Contains(all, x) {
				all = append(all, x)
			}
		}
		keys = append(keys, ks...)
		wants[u] = func(c forward.Claim) bool { return slices.Contains(us, c.User) || slices.Contains(ks, c.Key) }
	}
	cs, err := p.reg.Remote(ctx, all, keys)
	note := ""
	if err != nil {
		note = unavailableNote(p.log, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if ctx.Err() != nil || gen != p.gen {
		return
	}
	changed := false
	for _, u := range users {
		if _, ok := p.watching[u]; !ok {
			continue
		}
		v := view{unavailable: note}
		for _, c := range cs {
			if wants[u](c) {
				v.claims = append(v.claims, c)
			}
		}
		if old, ok := p.views[u]; !ok || !old.same(v) {
			p.views[u] = v
			changed = true
		}
	}
	if changed {
		close(p.changed)
		p.changed = make(chan struct{})
	}
}
