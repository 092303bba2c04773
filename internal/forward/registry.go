package forward

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/tubegate/tubegate/internal/acceptloop"
	"github.com/tubegate/tubegate/internal/listenset"
)

// probeTimeout bounds how long a claim waits for an older tube of the same
// user to prove it is alive before taking its endpoint over.
const probeTimeout = 3 * time.Second

// Default caps on endpoints, for callers that set Registry's (the gateway's
// --max-forwards and --max-forwards-per-user).
const (
	DefaultMaxPerOwner = 64
	DefaultMaxPerUser  = 256
)

// Registry holds every live endpoint of the gateway. It is safe for
// concurrent use.
type Registry struct {
	log *slog.Logger
	// MaxPerOwner caps the endpoints one tube may hold (0: no cap).
	MaxPerOwner int
	// MaxPerUser caps the endpoints one user may hold across all their
	// tubes (0: no cap): each listener costs the gateway a descriptor.
	MaxPerUser int
	// AcceptMetrics counts the accept errors published ports ride out
	// (nil: not counted).
	AcceptMetrics acceptloop.Counter
	// WrapListener wraps each published port's listener (nil: none): the
	// gateway caps there the connections open at once to published ports,
	// per source address and in all, across every port (connlimit), since
	// anyone who can reach a port could otherwise hold the gateway's
	// descriptors and its owner's channels.
	WrapListener func(net.Listener) net.Listener
	// Listeners serves the published ports' listeners, with no goroutine
	// for one that is idle (nil: a goroutine each).
	Listeners *listenset.Set

	mu      sync.Mutex
	byKey   map[Address]*Endpoint
	byOwner map[Owner]map[*Endpoint]struct{}
	// byUser and perOwner count endpoints and the slots reserved for
	// publishes under way, so that concurrent publishes cannot overshoot
	// the caps: a slot is reserved, checked and counted in one step.
	byUser   map[string]int
	perOwner map[Owner]int
	// gone and changed: see history.go.
	gone    map[Address]Gone
	changed chan struct{}
	// dir is the cluster's endpoint directory (nil: a single node), and
	// pending the keys being claimed in it (see directory.go).
	dir     Directory
	pending map[Address]Owner
}

// NewRegistry returns an empty registry that logs to log.
func NewRegistry(log *slog.Logger) *Registry {
	return &Registry{
		log:      log,
		byKey:    make(map[Address]*Endpoint),
		byOwner:  make(map[Owner]map[*Endpoint]struct{}),
		byUser:   make(map[string]int),
		perOwner: make(map[Owner]int),
		gone:     make(map[Address]Gone),
		changed:  make(chan struct{}),
		pending:  make(map[Address]Owner),
	}
}

// listenPort listens for a published port at a. The loopback port is held
// in both families, 127.0.0.1 and [::1] on the same port, so that no other
// user can publish the other family's half of "localhost:PORT"; where the
// machine has no IPv6 loopback, or another program holds [::1] on an
// explicit port, IPv4 alone is used.
func (r *Registry) listenPort(a Address) ([]*net.TCPListener, error) {
	if !a.loopbackPort() {
		ln, err := listenTCP("tcp", a.listenOn())
		if err != nil {
			return nil, err
		}
		return []*net.TCPListener{ln}, nil
	}
	const tries = 8 // an allocated port whose [::1] half is taken: pick another
	for try := 1; ; try++ {
		l4, err := listenTCP("tcp4", a.listenOn())
		if err != nil {
			return nil, err
		}
		actual := l4.Addr().(*net.TCPAddr).Port
		l6, err := listenTCP("tcp6", JoinHostPort("::1", actual))
		if err == nil {
			return []*net.TCPListener{l4, l6}, nil
		}
		if a.Port == 0 && errors.Is(err, syscall.EADDRINUSE) && try < tries {
			l4.Close()
			continue
		}
		r.log.Info("published loopback port on IPv4 only", "port", actual, "err", err)
		return []*net.TCPListener{l4}, nil
	}
}

func listenTCP(network, addr string) (*net.TCPListener, error) {
	ln, err := net.Listen(network, addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	return ln.(*net.TCPListener), nil
}

// Publish makes an endpoint for owner's tcpip-forward of bind:port, under
// the owner's policy: a virtual name when bind is a name, a TCP listener
// otherwise. Each connection to a listener is carried through the owner.
func (r *Registry) Publish(ctx context.Context, owner Owner, pol Policy, bind string, port int) (*Endpoint, error) {
	if port < 0 || port > 65535 {
		return nil, Refusedf("port %d out of range", port)
	}
	if err := r.reserve(owner); err != nil {
		return nil, err
	}
	ep, err := r.publish(ctx, owner, pol, bind, port)
	if err != nil {
		r.release(owner)
		return nil, err
	}
	return ep, nil
}

// reserve takes one endpoint slot of owner and of its user, or refuses
// when either is at its cap.
func (r *Registry) reserve(owner Owner) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n := r.perOwner[owner]; r.MaxPerOwner > 0 && n >= r.MaxPerOwner {
		return Refusedf("this tube already holds %d forwards, the limit", n)
	}
	user := owner.User()
	if n := r.byUser[user]; r.MaxPerUser > 0 && n >= r.MaxPerUser {
		return Refusedf("%s already holds %d forwards across their connections, the limit", user, n)
	}
	r.perOwner[owner]++
	r.byUser[user]++
	return nil
}

// release gives back a slot taken by reserve; the caller holds no lock.
func (r *Registry) release(owner Owner) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.releaseLocked(owner)
}

func (r *Registry) releaseLocked(owner Owner) {
	if r.perOwner[owner]--; r.perOwner[owner] <= 0 {
		delete(r.perOwner, owner)
	}
	user := owner.User()
	if r.byUser[user]--; r.byUser[user] <= 0 {
		delete(r.byUser, user)
	}
}

// publish does Publish's work in a slot already reserved.
func (r *Registry) publish(ctx context.Context, owner Owner, pol Policy, bind string, port int) (*Endpoint, error) {
	if IsVirtualName(bind) {
		return r.publishName(ctx, owner, bind, port)
	}
	if !pol.AllowsListen(bind, port) {
		where := bind
		if where == "" {
			where = "all interfaces"
		}
		return nil, Refusedf("listening on %s port %d is not permitted for %s", where, port, owner.User())
	}
	addr := AddressOf(bind, port)
	if port != 0 {
		if err := r.makeRoom(ctx, owner, addr); err != nil {
			return nil, err
		}
	}
	for try := 1; ; try++ {
		raws, err := r.listenPort(addr)
		if err != nil {
			return nil, err
		}
		actual := raws[0].Addr().(*net.TCPAddr).Port
		ep := &Endpoint{Key: addr.withPort(actual), BindHost: bind, BindPort: actual, Owner: owner, Allocated: port == 0}
		served := make([]*listenset.Listener, len(raws))
		for i, raw := range raws {
			served[i] = r.Listeners.Add(raw)
			var ln net.Listener = served[i]
			if r.WrapListener != nil {
				ln = r.WrapListener(ln)
			}
			ep.lns = append(ep.lns, acceptloop.Wrap(ln, "forward", r.log, r.AcceptMetrics))
		}
		if err := r.goLive(ctx, ep); err != nil {
			ep.close()
			if errors.Is(err, errAllocatedTaken) && try < maxClaimTries {
				continue // the kernel's pick is another node's port: pick again
			}
			return nil, err
		}
		for i, ln := range ep.lns {
			served[i].Serve(ln.Accept, func(c net.Conn) { go r.serve(ep, c) }, func(err error) { r.listenerFailed(ep, err) })
		}
		return ep, nil
	}
}

func (r *Registry) publishName(ctx context.Context, owner Owner, name string, port int) (*Endpoint, error) {
	if err := CheckName(name); err != nil {
		return nil, Refusedf("virtual name: %v", err)
	}
	if port == 0 {
		return nil, Refusedf("virtual name %s needs an explicit port", name)
	}
	key := AddressOf(name, port)
	if err := r.makeRoom(ctx, owner, key); err != nil {
		return nil, err
	}
	ep := &Endpoint{Key: key, BindHost: name, BindPort: port, Virtual: true, Owner: owner}
	if err := r.goLive(ctx, ep); err != nil {
		return nil, err
	}
	return ep, nil
}

// makeRoom checks that key is free for owner. An endpoint held by another
// tube of the same user is taken over when that tube no longer answers: a
// reconnecting client need not wait for the old tube's keepalive to expire.
func (r *Registry) makeRoom(ctx context.Context, owner Owner, key Address) error {
	r.mu.Lock()
	old := r.byKey[key]
	r.mu.Unlock()
	if old == nil {
		return nil
	}
	switch {
	case old.Owner == owner:
		return Refusedf("%s is already forwarded by this connection", key)
	case old.Owner.User() != owner.User():
		return Refusedf("%s is already published by another user", key)
	}
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	if old.Owner.Probe(pctx) {
		return Refusedf("%s is already published by your other connection %s, which is still alive", key, old.Owner.ID())
	}
	r.log.Info("taking over endpoint from unresponsive tube", "endpoint", key, "user", owner.User(),
		"old_tube", old.Owner.ID(), "new_tube", owner.ID())
	old.Owner.Close()
	r.Unpublish(old)
	return nil
}

func (r *Registry) insert(ep *Endpoint) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if other := r.byKey[ep.Key]; other != nil {
		return Refusedf("%s is already published", ep.Key)
	}
	r.byKey[ep.Key] = ep
	if ep.Published.IsZero() {
		ep.Published = time.Now()
	}
	delete(r.gone, ep.Key)
	r.notifyLocked()
	set := r.byOwner[ep.Owner]
	if set == nil {
		set = make(map[*Endpoint]struct{})
		r.byOwner[ep.Owner] = set
	}
	set[ep] = struct{}{}
	return nil
}

// LossNotifier is implemented by owners that want to hear of an endpoint
// that died on its own (its listener failed for good), so that the client
// can be told; the registry has already unpublished it.
type LossNotifier interface {
	EndpointLost(ep *Endpoint, err error)
}

// listenerFailed closes ep, whose listener failed with an error that does
// not pass (those that do, EMFILE and the like, are ridden out by the
// acceptloop listener): the endpoint is unpublished and its owner told,
// never the gateway taken down.
func (r *Registry) listenerFailed(ep *Endpoint, err error) {
	r.log.Error("published port failed; endpoint closed", "endpoint", ep.Key, "tube", ep.Owner.ID(), "err", err)
	r.Unpublish(ep)
	if n, ok := ep.Owner.(LossNotifier); ok {
		n.EndpointLost(ep, err)
	}
}

func (r *Registry) serve(ep *Endpoint, c net.Conn) {
	defer func() {
		// A bug reached from here must cost this connection, not the gateway.
		if v := recover(); v != nil {
			r.log.Error("forwarded connection closed: internal error", "endpoint", ep.Key, "panic", v,
				"stack", string(debug.Stack()))
			c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	remote, err := ep.Dial(ctx, c.RemoteAddr())
	cancel()
	if err != nil {
		r.log.Info("forwarded connection refused by tube", "endpoint", ep.Key, "from", c.RemoteAddr(),
			"tube", ep.Owner.ID(), "err", err)
		c.Close()
		return
	}
	Pipe(c, remote)
}

// Unpublish closes an endpoint: its listener stops and its live
// connections are cut. It is a no-op for an endpoint already gone.
func (r *Registry) Unpublish(ep *Endpoint) {
	r.mu.Lock()
	wasLive := r.byKey[ep.Key] == ep
	if wasLive {
		delete(r.byKey, ep.Key)
		r.recordGoneLocked(ep)
		r.notifyLocked()
	}
	if set := r.byOwner[ep.Owner]; set != nil {
		if _, ok := set[ep]; ok {
			delete(set, ep)
			r.releaseLocked(ep.Owner)
		}
		if len(set) == 0 {
			delete(r.byOwner, ep.Owner)
		}
	}
	r.mu.Unlock()
	ep.close()
	if wasLive {
		r.releaseClaim(ep)
	}
}

// Cancel closes owner's endpoint that was published as bind:port
// (cancel-tcpip-forward).
func (r *Registry) Cancel(owner Owner, bind string, port int) error {
	if ep := r.Get(AddressOf(bind, port)); ep != nil && ep.Owner == owner {
		r.Unpublish(ep)
		return nil
	}
	return fmt.Errorf("no forward %s", JoinHostPort(bind, port))
}

// UnpublishAll closes every endpoint of owner, as its tube dies.
func (r *Registry) UnpublishAll(owner Owner) {
	for _, ep := range r.List(owner) {
		r.Unpublish(ep)
	}
}

// List returns owner's endpoints ordered by key.
func (r *Registry) List(owner Owner) []*Endpoint {
	r.mu.Lock()
	eps := make([]*Endpoint, 0, len(r.byOwner[owner]))
	for ep := range r.byOwner[owner] {
		eps = append(eps, ep)
	}
	r.mu.Unlock()
	sort.Slice(eps, func(i, j int) bool { return eps[i].Key.String() < eps[j].Key.String() })
	return eps
}

// ListUser returns every endpoint user publishes, from all their tubes,
// ordered by key.
func (r *Registry) ListUser(user string) []*Endpoint {
	r.mu.Lock()
	var eps []*Endpoint
	for owner, set := range r.byOwner {
		if owner.User() != user {
			continue
		}
		for ep := range set {
			eps = append(eps, ep)
		}
	}
	r.mu.Unlock()
	sort.Slice(eps, func(i, j int) bool { return eps[i].Key.String() < eps[j].Key.String() })
	return eps
}

// Get returns this node's live endpoint at addr, or nil if none: for a
// direct-tcpip target, Get(AddressOf(host, port)); for a share link,
// Get of the address it stores. Resolve also finds other nodes'.
func (r *Registry) Get(addr Address) *Endpoint {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.byKey[addr]
}

// Count returns the number of live endpoints.
func (r *Registry) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.byKey)
}
